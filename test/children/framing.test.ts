// Child stdout framing on bytes: split characters, several messages per chunk,
// CRLF, junk lines and lines over the size limit.
import { describe, expect, it } from 'vitest';
import { JUNK_HEAD_BYTES, MessageFramer } from '../../src/children/framing.js';

function framer(maxBytes = 1 << 20) {
  const got = { messages: [] as unknown[], junk: [] as { head: string; bytes: number }[], oversized: [] as number[] };
  const f = new MessageFramer(maxBytes, {
    message: (m) => got.messages.push(m),
    junk: (head, bytes) => got.junk.push({ head: head.toString('utf8'), bytes }),
    oversized: (bytes) => got.oversized.push(bytes),
  });
  return { f, got };
}

const line = (m: unknown) => Buffer.from(JSON.stringify(m) + '\n');
const answer = (id: number, text: string) => ({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text }] } });
const TEXT = 'aé漢字😀 — ünïcödé 𝄞';

describe('MessageFramer', () => {
  it('a message split at every byte offset, inside multi-byte characters too, arrives identical', () => {
    const msg = answer(1, TEXT);
    const bytes = line(msg);
    for (let at = 1; at < bytes.length; at++) {
      const { f, got } = framer();
      f.push(bytes.subarray(0, at));
      f.push(bytes.subarray(at));
      expect(got.messages, `split at byte ${at}`).toEqual([msg]);
      expect(got.junk).toEqual([]);
    }
  });

  it('a message fed one byte at a time arrives identical', () => {
    const msg = answer(2, TEXT.repeat(20));
    const bytes = line(msg);
    const { f, got } = framer();
    for (let i = 0; i < bytes.length; i++) f.push(bytes.subarray(i, i + 1));
    expect(got.messages).toEqual([msg]);
  });

  it('several messages in one chunk arrive in order, with junk and blank lines between them skipped', () => {
    const { f, got } = framer();
    const msgs = [answer(1, 'one'), { jsonrpc: '2.0', method: 'notifications/progress', params: { progress: 1 } }, answer(2, TEXT)];
    f.push(Buffer.concat([line(msgs[0]), Buffer.from('INFO a log line\n\n   \n'), line(msgs[1]), line(msgs[2]).subarray(0, 10)]));
    expect(got.messages).toEqual(msgs.slice(0, 2));
    f.push(line(msgs[2]).subarray(10));
    expect(got.messages).toEqual(msgs);
    expect(f.junkLines).toBe(1);
  });

  it('CRLF line ends are taken like LF, also when the CR and LF arrive in different chunks', () => {
    const { f, got } = framer();
    const a = answer(1, TEXT);
    const json = JSON.stringify(a);
    f.push(Buffer.from(`${json}\r\n${json}\r`));
    f.push(Buffer.from('\nlog line\r\n'));
    expect(got.messages).toEqual([a, a]);
    expect(got.junk).toEqual([{ head: 'log line\r', bytes: 9 }]);
  });

  it('junk lines are counted: not JSON, JSON that is not JSON-RPC, a batch array; blank lines are not', () => {
    const { f, got } = framer();
    f.push(Buffer.from('hello\n{"not":"rpc"}\n[{"jsonrpc":"2.0","id":1,"result":{}}]\n{broken\n\n \t\n{"jsonrpc":"1.0","id":1}\n'));
    expect(f.junkLines).toBe(5);
    expect(got.junk.map((j) => j.head)).toEqual(['hello', '{"not":"rpc"}', '[{"jsonrpc":"2.0","id":1,"result":{}}]', '{broken', '{"jsonrpc":"1.0","id":1}']);
    expect(got.messages).toEqual([]);
  });

  it('a long junk line is not kept: only its first bytes, and its whole size, are reported', () => {
    const { f, got } = framer(1024);
    const junk = 'x'.repeat(100_000);
    for (let i = 0; i < junk.length; i += 4096) f.push(Buffer.from(junk.slice(i, i + 4096)));
    f.push(Buffer.concat([Buffer.from('\n'), line(answer(3, 'after'))]));
    expect(got.junk).toEqual([{ head: 'x'.repeat(JUNK_HEAD_BYTES), bytes: 100_000 }]);
    expect(got.oversized).toEqual([]); // junk of any length is junk, not an oversized message
    expect(got.messages).toEqual([answer(3, 'after')]);
  });

  it('a line over maxBytes is dropped while it is read, reported once with its size; the next message arrives', () => {
    const limit = 1000;
    const big = line(answer(1, 'é'.repeat(5000)));
    const next = answer(2, TEXT);
    const { f, got } = framer(limit);
    for (let i = 0; i < big.length - 1; i += 7) f.push(big.subarray(i, Math.min(i + 7, big.length - 1)));
    expect(got.oversized).toEqual([]); // reported when its end is read
    f.push(Buffer.concat([Buffer.from('\n'), line(next)]));
    expect(got.oversized).toEqual([big.length - 1]);
    expect(f.oversizedLines).toBe(1);
    expect(got.messages).toEqual([next]);
    expect(got.junk).toEqual([]);
  });

  it('a message of exactly maxBytes is delivered; one byte more is dropped', () => {
    const msg = answer(1, 'y'.repeat(200));
    const exact = line(msg);
    const { f, got } = framer(exact.length - 1); // the limit counts the line without its newline
    f.push(exact);
    expect(got.messages).toEqual([msg]);
    const over = line(answer(1, 'y'.repeat(201)));
    f.push(over);
    expect(got.oversized).toEqual([over.length - 1]);
  });

  it('at the end of the stream a last line without its newline is judged like any other', () => {
    const { f, got } = framer(100);
    f.push(Buffer.from('{"jsonrpc":"2.0","id":1,"res'));
    f.end();
    expect(got.junk).toEqual([{ head: '{"jsonrpc":"2.0","id":1,"res', bytes: 28 }]);
    f.push(Buffer.from(`{"text":"${'z'.repeat(200)}`));
    f.end();
    expect(got.oversized).toEqual([209]);
    f.end(); // nothing pending: nothing reported
    expect(f.junkLines + f.oversizedLines).toBe(2);
  });
});
