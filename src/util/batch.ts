/**
 * Writes to a stream, the writes of one turn of the event loop gathered into as few system calls as
 * possible without delaying a lone one: the first write of a turn goes out at once (a single answer
 * waits for nothing), and any further writes of the same turn are corked and leave together on the next
 * tick (after the promise jobs of this turn), so eight answers that arrive in one read of a pipe take two
 * writes instead of eight. Order is kept (cork holds every write to the stream).
 */
export function batchedWriter(stream: NodeJS.WritableStream & { cork(): void; uncork(): void }): (text: string) => boolean {
  let state: 'idle' | 'wrote' | 'corked' = 'idle';
  const endOfTurn = () => {
    if (state === 'corked') stream.uncork();
    state = 'idle';
  };
  return (text) => {
    if (state === 'idle') {
      state = 'wrote';
      process.nextTick(endOfTurn);
    } else if (state === 'wrote') {
      state = 'corked';
      stream.cork();
    }
    return stream.write(text);
  };
}
