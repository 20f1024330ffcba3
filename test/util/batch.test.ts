// batchedWriter: the writes of one turn leave together, in order, in one system call (one writev).
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { batchedWriter } from '../../src/util/batch.js';

/** A stream that records each call that would be one system call: a write, or a writev of several chunks. */
function recorder() {
  const calls: string[][] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      calls.push([chunk.toString()]);
      cb();
    },
    writev(chunks, cb) {
      calls.push(chunks.map((c) => (c.chunk as Buffer).toString()));
      cb();
    },
  });
  return { stream, calls };
}

const nextTurn = () => new Promise((r) => setImmediate(r));

describe('batchedWriter', () => {
  it('sends the writes of one turn, the first included, in one writev, in order; a lone write alone at the end of its turn', async () => {
    const { stream, calls } = recorder();
    const write = batchedWriter(stream);
    write('a');
    await Promise.resolve(); // a promise job of the same turn (an answer computed a microtask later)
    write('b');
    write('c');
    expect(calls).toEqual([]); // nothing before the end of the turn
    await nextTurn();
    expect(calls).toEqual([['a', 'b', 'c']]);
    write('d');
    await nextTurn();
    expect(calls).toEqual([['a', 'b', 'c'], ['d']]);
  });
});
