import type { JSONRPCMessage } from '@modelcontextprotocol/client';

/**
 * A child's stdout → JSON-RPC messages, on bytes (what the child sends is what the client gets):
 * - lines are split on the byte 0x0A and each is decoded whole, so a UTF-8 character split across two
 *   pipe reads is joined before it is decoded (0x0A never occurs inside a multi-byte character);
 * - a line's pieces are kept in a list and copied once, at its end: no quadratic string building;
 * - a line is judged by its first non-blank byte. Only one starting with "{" can be a message: it is
 *   kept up to `maxBytes`, and past that dropped while it is read (memory stays bounded). Any other
 *   line is junk (some servers log on stdout): only its first bytes are kept, for the log.
 */
export interface FramerEvents {
  /** `text`: the line as decoded (what raw.ts passes on as the child's own bytes). */
  message(message: JSONRPCMessage, text: string): void;
  /** A line that is not JSON-RPC: its first bytes (at most JUNK_HEAD_BYTES), and its whole size. */
  junk(head: Buffer, bytes: number): void;
  /** A line over maxBytes, dropped while it was read: its size. */
  oversized(bytes: number): void;
}

/** How much of a junk line is kept for the log. */
export const JUNK_HEAD_BYTES = 4096;
const NEWLINE = 0x0a;
const OPEN_BRACE = 0x7b;

export class MessageFramer {
  /** Lines that were not JSON-RPC; doctor shows the count. */
  junkLines = 0;
  oversizedLines = 0;
  /** What the line being read is, once its first non-blank byte has been seen. */
  private kind: 'blank' | 'message' | 'junk' | 'oversized' = 'blank';
  private parts: Buffer[] = [];
  /** Bytes of the line being read, from its first non-blank byte. */
  private size = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly on: FramerEvents,
  ) {}

  push(chunk: Buffer): void {
    for (let start = 0; ; ) {
      const nl = chunk.indexOf(NEWLINE, start);
      this.take(chunk.subarray(start, nl === -1 ? chunk.length : nl));
      if (nl === -1) return;
      this.endLine();
      start = nl + 1;
    }
  }

  /** The stream ended: a last line without its newline is judged like any other. */
  end(): void {
    this.endLine();
  }

  private take(piece: Buffer): void {
    if (this.kind === 'blank') {
      const i = firstNonBlank(piece);
      if (i === -1) return;
      piece = piece.subarray(i);
      this.kind = piece[0] === OPEN_BRACE ? 'message' : 'junk';
    }
    if (piece.length === 0) return;
    const before = this.size;
    this.size += piece.length;
    if (this.kind === 'message' && this.size > this.maxBytes) {
      this.kind = 'oversized';
      this.parts = []; // from here on only counted
    }
    if (this.kind === 'message') this.parts.push(piece);
    else if (this.kind === 'junk' && before < JUNK_HEAD_BYTES) this.parts.push(piece.subarray(0, JUNK_HEAD_BYTES - before));
  }

  private endLine(): void {
    const { kind, size, parts } = this;
    this.kind = 'blank';
    this.parts = [];
    this.size = 0;
    if (kind === 'blank') return;
    if (kind === 'oversized') {
      this.oversizedLines++;
      this.on.oversized(size);
      return;
    }
    const line = parts.length === 1 ? parts[0]! : Buffer.concat(parts); // the one copy of the line
    const text = kind === 'message' ? line.toString('utf8') : undefined;
    const message = text === undefined ? undefined : parseMessage(text);
    if (message) return this.on.message(message, text!);
    this.junkLines++;
    this.on.junk(line.subarray(0, JUNK_HEAD_BYTES), size);
  }
}

/** A JSON-RPC 2.0 object, or undefined (a trailing "\r" is JSON whitespace: CRLF needs nothing). */
function parseMessage(line: string): JSONRPCMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  const isRpc = typeof value === 'object' && value !== null && (value as { jsonrpc?: unknown }).jsonrpc === '2.0';
  return isRpc ? (value as JSONRPCMessage) : undefined;
}

/** Index of the first byte that is not a space, tab or CR; -1 when there is none. */
function firstNonBlank(b: Buffer): number {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0x20 && b[i] !== 0x09 && b[i] !== 0x0d) return i;
  return -1;
}
