/**
 * Writes to a stream, the writes of one turn of the event loop gathered into one system call: the
 * stream is corked at the first write of a turn and uncorked on the next tick (after the promise jobs of
 * this turn), so the eight requests read in one chunk of the client's stdin leave in one writev, and a
 * lone write waits only for the end of its own turn (microseconds, no timer). Order is kept (cork holds
 * every write to the stream, ours and anyone else's).
 */
export function batchedWriter(stream: NodeJS.WritableStream & { cork(): void; uncork(): void }): (text: string) => boolean {
  let corked = false;
  const endOfTurn = () => {
    corked = false;
    stream.uncork();
  };
  return (text) => {
    if (!corked) {
      corked = true;
      stream.cork();
      process.nextTick(endOfTurn);
    }
    return stream.write(text);
  };
}
