/**
 * Writes to a stream, the writes of one turn of the event loop gathered into one system call: the
 * stream is corked at the first write and uncorked on the next tick (after the promise jobs of this
 * turn), so eight answers that arrive in one read of a pipe leave in one write instead of eight. A
 * lone write costs one tick of delay, nothing more. Order is kept (cork holds every write to the stream).
 */
export function batchedWriter(stream: NodeJS.WritableStream & { cork(): void; uncork(): void }): (text: string) => boolean {
  let corked = false;
  const uncork = () => {
    corked = false;
    stream.uncork();
  };
  return (text) => {
    if (!corked) {
      corked = true;
      stream.cork();
      process.nextTick(uncork);
    }
    return stream.write(text);
  };
}
