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
  /** False only when the config says `cache.enabled: false`: nothing is cached, whatever else asks. */
  enabled: boolean;
  /**
   * Every read-only tool and every resource read is cached: this server's or the defaults' `cache`
   * block asks (sets `ttl`, `staleTtl` or `enabled: true`). Otherwise only `cache.tools` entries and
   * results a 2026-07-28 child gives a `ttlMs` are (caching is opt-in).
   */
  readOnly: boolean;
  ttl: number;
  /** The config sets `cache.ttl` itself: a modern child's `ttlMs` advice yields to it (else it wins over the default). */
  ttlExplicit: boolean;
  staleTtl: number;
  /** Per tool: `false` turns caching off, an object makes the tool cacheable with these TTLs. */
  tools: Record<string, Partial<CacheToolSettings> | false>;
  invalidateOnWrite: boolean;
  /** A cached tool answer at least this old gets a text item saying so (the model does not see `_meta`). */
  noteAfter: number;
  /**
   * Whose entries: `credential` (the default) keys each by a salted fingerprint of the credentials the
   * child runs with, so only identical credentials share it; `public` (answers that do not depend on
   * who asks: public documentation) shares them with everyone.
   */
  scope: CacheScope;
  /** Inherited variables that count as credentials besides those whose names say so (children/credentials.ts). */
  credentialEnv: string[];
}

export type CacheScope = 'credential' | 'public';

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

/** A piece of a config value: text (literal, or a variable's value), or a secret command to run at start. */
export type ValuePart = string | { run: 'cmd' | 'sh'; command: string; /** as written: `${cmd:…}` */ text: string };

/** A value (env, headers or args entry) that asks for a secret command, as its parts. */
export interface SecretCommandValue {
  field: 'env' | 'headers' | 'args' | 'oauth';
  /** The env or header name, or the index in args. */
  key: string;
  parts: ValuePart[];
}

/**
 * `oauth` of a remote child: how mcpx signs in to it (see children/oauth/). Without `clientId` mcpx
 * registers itself (a Client ID Metadata Document when `clientMetadataUrl` is given and the server
 * supports it, else dynamic client registration).
 */
export interface OAuthSettings {
  clientId?: string;
  /** A secret like any other: `${VAR}` or `${cmd:…}` (run at each connect). */
  clientSecret?: string;
  scopes: string[];
  grant: 'authorization_code' | 'client_credentials';
  /** The loopback port of the redirect URI; else one picked at the first login and kept with the registration. */
  callbackPort?: number;
  /** `false`: no RFC 8707 `resource` parameter (for authorization servers that reject it). */
  resource: boolean;
  /** An https URL serving mcpx's client metadata document, used as the client id where the server supports it. */
  clientMetadataUrl?: string;
  /** The authorization server's metadata (RFC 8414 or OpenID), read from here instead of discovered (Claude Code's key). */
  authServerMetadataUrl?: string;
}

/** `protocol`: how mcpx speaks to a child (see README, "Protocol eras"). */
export type ChildProtocol = 'auto' | 'legacy' | '2026-07-28';

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
  /** Sign-in for a remote child (declared; a child that asks for OAuth without it gets the defaults). */
  oauth?: OAuthSettings;

  prefix: string;
  disabled: boolean;
  /** Labels for `--tags`: one config can back different `.mcp.json` entries. */
  tags: string[];
  /** Replaces the child's own instructions in mcpx's merged instructions (or adds some where it has none). */
  instructions?: string;
  /** Withhold a tool whose description or input schema changed (or that is new) until `mcpx approve`. */
  pinTools: boolean;
  start: StartMode;
  tools: { include: string[]; exclude: string[]; settings: Record<string, ToolSettings> };
  timeoutMs: number;
  maxTotalTimeoutMs: number;
  startupTimeoutMs: number;
  retries: number;
  maxConcurrent: number;
  maxQueue: number;
  maxRestarts: number;
  /** A stdout line from a stdio child longer than this is dropped while it is read. */
  maxMessageBytes: number;
  /** The child's protocol era: found out once and stored (`auto`), the 2025 era (`legacy`), or pinned. */
  protocol: ChildProtocol;
  breaker: BreakerSettings;
  cache: ServerCacheSettings;
  errorPatterns: RegExp[];
  fallback: FallbackSettings;
  rateLimit?: RateLimit;
  /**
   * The most of a tool result's text a client gets at once, in tokens (4 characters each); past it the
   * text is cut and the rest is paged with `mcpx__more`. 0: no limit.
   */
  maxOutputTokens: number;

  /** Who the child is (command + args, or url): part of cache and catalog keys. */
  identity: string;
  /**
   * The key of its stored catalog: its name and identity. Two servers with the same command line (one
   * package, two workspaces, told apart by env) list different tools, so they never share a catalog.
   */
  catalogKey: string;
  /** One-way hash of the credential values the child gets (env + headers); never the values. */
  credentialFingerprint: string;
  /**
   * The values that ask for `${cmd:…}`/`${sh:…}`, found in the config file's own text only (a value
   * from .env or the environment never asks for anything). Their strings above hold the `${…}` text.
   */
  secretCommands: SecretCommandValue[];
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

/** `mcpx serve --http`: where it listens and who may call (the flags override host and port). */
export interface HttpConfig {
  host?: string;
  port?: number;
  /**
   * Bearer tokens that may call, each with the name the audit trail records as the caller (a token
   * given in a list is named `token1`, `token2`, … by its place). Secrets: never shown.
   */
  tokens: { name: string; token: string }[];
  /** A token's variable is not set: `serve --http` refuses to start with this error; other commands run. */
  problem?: McpxError;
  /** What one caller may hold (`http.limits`; defaults in HTTP_LIMITS). */
  limits: HttpLimits;
}

/**
 * Tool search for clients that put every tool in every prompt: the list holds mcpx's meta tools (and
 * the `always` ones) instead of every child tool. `auto`: on when the merged list has more than
 * `budget` tools and the client is not Claude Code (which searches deferred tools itself).
 */
export interface ToolSearchConfig {
  mode: 'on' | 'off' | 'auto';
  budget: number;
  /** Exposed tool names (globs) listed even when search is on. */
  always: string[];
}

export interface HttpLimits {
  /** 2025 sessions open at once per caller (token). */
  sessions: number;
  /** Resource URIs in one 2026 subscriptions/listen filter. */
  listenUris: number;
  /** Bytes of one request body. */
  requestBytes: number;
}

/** The defaults of `http.limits`: generous for a developer's windows and agents, small enough to bound one caller. */
export const HTTP_LIMITS: HttpLimits = { sessions: 32, listenUris: 256, requestBytes: 4 * 1024 * 1024 };

export interface AuditConfig {
  args: 'hash' | 'redacted' | 'none';
  retentionDays: number;
}

/** `--tags` / `--only`: which servers of the file this process uses (applied once, by loadConfig). */
export interface Selection {
  tags?: string[];
  only?: string[];
}

export interface Config {
  /** Absolute path of the file read, and how it was found. */
  file: string;
  foundBy: 'flag' | 'env' | 'cwd' | 'user';
  servers: ServerConfig[];
  cache: CacheConfig;
  audit: AuditConfig;
  http: HttpConfig;
  toolSearch: ToolSearchConfig;
  stateDir: string;
  /** Variables seen (process env over .env files): names only are ever shown. */
  envFiles: string[];
  /** The subset asked for, kept so that a re-read of the file selects the same servers. */
  selection?: Selection;
  /** A project config (./mcpx.json) found but not used: not trusted yet, or changed since. */
  waitingForTrust?: WaitingForTrust;
}

export interface WaitingForTrust {
  file: string;
  /** unknown: never trusted; changed: edited since `mcpx trust`. */
  state: 'unknown' | 'changed';
  /** With `changed`: what differs from the trusted bytes (the file, the `.env` beside it, or both). */
  changed?: string[];
  /** The exact command that trusts it. */
  command: string;
  /** One line for stderr, status and doctor: the file, why it waits, what runs instead, the command. */
  message: string;
  /** The hint under an error or a failed check. */
  suggestion: string;
}
