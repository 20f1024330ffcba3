import { Chalk, supportsColor, supportsColorStderr, type ChalkInstance } from 'chalk';

/**
 * Colours for human output of doctor / tools / call / stats: off with --no-color, with NO_COLOR set
 * (any value, per no-color.org), and when the stream is not a terminal (chalk's own detection, which also honours FORCE_COLOR).
 */
export function colours(stream: NodeJS.WriteStream, flags: { color?: boolean }): ChalkInstance {
  const off = flags.color === false || (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '');
  const support = stream === process.stderr ? supportsColorStderr : supportsColor;
  return new Chalk({ level: off || !support ? 0 : support.level });
}

/** Columns padded to the widest cell; the last column is never padded. */
export function table(rows: string[][], visible: (s: string) => number = (s) => s.length): string {
  if (!rows.length) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => visible(r[i] ?? ''))));
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i]! - visible(c)))).join('  ').trimEnd())
    .join('\n') + '\n';
}

/** Ctrl-C / SIGTERM run `fn` once (abort a call, stop children) instead of killing the process mid-way. */
export function onInterrupt(fn: () => void): () => void {
  const handler = (): void => fn();
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
