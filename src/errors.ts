/**
 * McpxError: every error mcpx reports on purpose. The message leads with the reason;
 * `server`, `field`, `file` say where; `suggestion` says what to do; `exitCode` is what
 * the CLI exits with (2 usage/config, 1 a check failed). Imports nothing.
 */
export type ErrorCode =
  | 'CONFIG_NOT_FOUND'
  | 'CONFIG_PARSE'
  | 'CONFIG_INVALID'
  | 'CONFIG_UNTRUSTED'
  | 'VARIABLE_MISSING'
  | 'USAGE'
  | 'CHECK_FAILED'
  | 'CHILD_START'
  | 'CHILD_DOWN'
  | 'LOGIN_NEEDED'
  | 'LOGIN_FAILED'
  | 'CHILD_TIMEOUT'
  | 'BREAKER_OPEN'
  | 'QUEUE_FULL'
  | 'UNKNOWN_NAME'
  | 'CACHE'
  | 'FORCED_STOP'
  | 'INTERNAL';

export interface McpxErrorOptions {
  code: ErrorCode;
  server?: string;
  field?: string;
  file?: string;
  suggestion?: string;
  exitCode?: number;
  cause?: unknown;
  context?: Record<string, unknown>;
}

const EXIT_BY_CODE: Partial<Record<ErrorCode, number>> = {
  CONFIG_NOT_FOUND: 2,
  CONFIG_PARSE: 2,
  CONFIG_INVALID: 2,
  VARIABLE_MISSING: 2,
  USAGE: 2,
};

export class McpxError extends Error {
  readonly isMcpxError = true;
  readonly code: ErrorCode;
  readonly server?: string;
  readonly field?: string;
  readonly file?: string;
  readonly suggestion?: string;
  readonly exitCode: number;
  readonly context?: Record<string, unknown>;

  constructor(message: string, opts: McpxErrorOptions) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'McpxError';
    this.code = opts.code;
    this.server = opts.server;
    this.field = opts.field;
    this.file = opts.file;
    this.suggestion = opts.suggestion;
    this.exitCode = opts.exitCode ?? EXIT_BY_CODE[opts.code] ?? 1;
    this.context = opts.context;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      server: this.server,
      field: this.field,
      file: this.file,
      suggestion: this.suggestion,
      exitCode: this.exitCode,
    };
  }
}

/** Works across module copies (no instanceof). */
export function isMcpxError(e: unknown): e is McpxError {
  return typeof e === 'object' && e !== null && (e as { isMcpxError?: unknown }).isMcpxError === true;
}

/** A thrown check failure: the CLI exits 1 without a stack trace. */
export function checkFailed(message: string, context?: Record<string, unknown>): McpxError {
  return new McpxError(message, { code: 'CHECK_FAILED', exitCode: 1, context });
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
