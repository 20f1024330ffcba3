/** The normalized config: every default applied, every duration in ms, checked once (see normalize.ts). */
import type { McpxError } from '../errors.js';

export type Transport = 'stdio' | 'http' | 'sse';
export type StartMode = 'eager' | 'lazy';

export interface BreakerSettings {
  failureThreshold: number;
  recoveryTimeoutMs: number;
  successThreshold: number;
}

export interface CacheToolSettings {
  ttl: number;
  staleTtl: number;
}

export interface ServerCacheSettings {
  enabled: boolean;
  ttl: number;
  staleTtl: number;
  /** Per tool: `false` turns caching off, an object makes the tool cacheable with these TTLs. */
  tools: Record<string, Partial<CacheToolSettings> | false>;
  invalidateOnWrite: boolean;
}

export interface FallbackSettings {
  stale: boolean;
  backupDir?: string;
  message?: string;
}

export interface RateLimit {
  calls: number;
  perMs: number;
}

export interface ToolSettings {
  timeoutMs?: number;
}

export interface ServerConfig {
  name: string;
  transport: Transport;
  /** stdio */
  command?: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  /** http / sse */
  url?: string;
  headers: Record<string, string>;
  headersHelper?: string;

  prefix: string;
  disabled: boolean;
  start: StartMode;
  tools: { include: string[]; exclude: string[]; settings: Record<string, ToolSettings> };
  timeoutMs: number;
  maxTotalTimeoutMs: number;
  startupTimeoutMs: number;
  retries: number;
  maxConcurrent: number;
  maxQueue: number;
  maxRestarts: number;
  breaker: BreakerSettings;
  cache: ServerCacheSettings;
  errorPatterns: RegExp[];
  fallback: FallbackSettings;
  rateLimit?: RateLimit;

  /** Who the child is (command + args, or url): part of cache and catalog keys. */
  identity: string;
  /** One-way hash of the credential values the child gets (env + headers); never the values. */
  credentialFingerprint: string;
  /** Names of the variables this entry uses, for doctor. */
  variables: { name: string; set: boolean; hasDefault: boolean }[];
  /** Set when this entry cannot run (a missing variable): the others still run. */
  problem?: McpxError;
}

export interface CacheConfig {
  dir: string;
  maxMb: number;
  maxEntryBytes: number;
  /** Where results are kept: the SQLite file in `dir` (one machine), or Redis shared by every mcpx process. */
  backend: 'sqlite' | 'redis';
  /** The Redis URL (backend "redis"); it may hold a password: registered as a secret, shown masked. */
  url?: string;
  /** How long a lookup waits for Redis before it counts as a miss. */
  lookupTimeoutMs: number;
}

export interface AuditConfig {
  args: 'hash' | 'redacted' | 'none';
  retentionDays: number;
}

export interface Config {
  /** Absolute path of the file read, and how it was found. */
  file: string;
  foundBy: 'flag' | 'env' | 'cwd' | 'user';
  servers: ServerConfig[];
  cache: CacheConfig;
  audit: AuditConfig;
  stateDir: string;
  /** Variables seen (process env over .env files): names only are ever shown. */
  envFiles: string[];
}
