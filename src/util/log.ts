import { createWriteStream, fchmodSync, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The one logger. Writes to stderr (never stdout: in serve mode stdout is the protocol) at or above
 * its level, and everything at debug and above to a log file when one is set. Every line passes
 * through the redactor, so a secret value registered with addSecret() never reaches a log.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

export class Logger {
  private file?: WriteStream;
  /** Longest first, so that a secret containing another is masked whole. */
  private secrets: string[] = [];

  constructor(
    public level: LogLevel = 'info',
    private readonly stderr: NodeJS.WritableStream = process.stderr,
  ) {}

  /** Opens (appends to) a log file, created 0600 in a 0700 directory (a file left wider by an older mcpx is tightened). */
  toFile(path: string): void {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.file = createWriteStream(path, { flags: 'a', mode: 0o600 });
    this.file.once('open', (fd: number) => {
      try {
        fchmodSync(fd, 0o600);
      } catch {
        /* not ours to change */
      }
    });
    this.file.on('error', () => (this.file = undefined));
  }

  addSecret(value: string | undefined): void {
    if (!value || value.length < 4 || this.secrets.includes(value)) return;
    this.secrets = [...this.secrets, value].sort((a, b) => b.length - a.length);
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.secrets) if (out.includes(s)) out = out.split(s).join('****');
    return out;
  }

  /** Every string inside a JSON-like value (plain objects and arrays), redacted; a copy only where something changed. */
  redactDeep<T>(value: T): T {
    if (!this.secrets.length) return value;
    if (typeof value === 'string') return this.redact(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.redactDeep(v)) as T;
    if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.redactDeep(v)])) as T;
    }
    return value;
  }

  debug(msg: string): void { this.write('debug', msg); }
  info(msg: string): void { this.write('info', msg); }
  warn(msg: string): void { this.write('warn', msg); }
  error(msg: string): void { this.write('error', msg); }

  private write(level: Exclude<LogLevel, 'silent'>, msg: string): void {
    const line = this.redact(msg);
    if (RANK[level] >= RANK[this.level]) this.stderr.write(`mcpx ${level}: ${line}\n`);
    this.file?.write(`${new Date().toISOString()} ${level} [${process.pid}] ${line}\n`);
  }

  close(): Promise<void> {
    const f = this.file;
    this.file = undefined;
    return new Promise((resolve) => (f ? f.end(resolve) : resolve()));
  }
}

/** Process-wide logger; commands set its level and file once at start. */
export const log = new Logger();
