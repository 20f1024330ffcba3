import { isAbsolute, resolve, dirname } from 'node:path';
import { McpxError } from '../errors.js';
import { parseBytes } from '../util/bytes.js';
import { parseDuration } from '../util/duration.js';
import { canonicalJson, sha256 } from '../util/canonical.js';
import { log } from '../util/log.js';
import { isLoopback } from '../util/loopback.js';
import { expandValue } from './env.js';
import { defaultCacheDir, defaultStateDir, expandHome } from './paths.js';
import { HTTP_LIMITS, type CacheScope, type ChildProtocol, type Config, type HttpLimits, type OAuthSettings, type SecretCommandValue, type ServerConfig, type Transport } from './types.js';

/**
 * Raw JSON → Config, once. Every error names the file, the server and the field, and exits 2.
 * A server whose variables are missing is kept with `problem` set: the others still run.
 */
type Raw = Record<string, unknown>;

const CLAUDE_KEYS = ['type', 'command', 'args', 'env', 'cwd', 'url', 'headers', 'headersHelper', 'oauth', 'timeout'];
const MCPX_KEYS = [
  'prefix', 'disabled', 'start', 'tools', 'timeoutMs', 'maxTotalTimeoutMs', 'startupTimeoutMs', 'retries',
  'maxConcurrent', 'maxQueue', 'maxRestarts', 'maxMessageBytes', 'protocol', 'breaker', 'cache', 'errorPatterns', 'fallback', 'rateLimit',
  'tags', 'instructions', 'pinTools', 'maxOutputTokens',
];
const TOP_KEYS = ['mcpServers', 'defaults', 'cache', 'audit', 'http', 'toolSearch', 'toolBudget', 'toolSearchAlways', '$schema'];
/** Default of toolBudget: Cursor warns past about 40 tools in all. */
const TOOL_BUDGET = 40;
/** Default of cache.lookupTimeoutMs: "a few tens of ms" at most on Redis per call. */
const LOOKUP_TIMEOUT_MS = 50;

const BUILTIN_DEFAULTS: Raw = {
  prefix: undefined,
  disabled: false,
  pinTools: false,
  start: 'eager',
  timeoutMs: 30_000,
  maxTotalTimeoutMs: 600_000,
  startupTimeoutMs: 30_000,
  retries: 1,
  maxConcurrent: 16,
  maxQueue: 64,
  maxRestarts: 5,
  maxMessageBytes: 32 * 1024 * 1024,
  // Under Claude Code's warning at 25,000 tokens of tool output.
  maxOutputTokens: 20_000,
  breaker: { failureThreshold: 5, recoveryTimeoutMs: 30_000, successThreshold: 2 },
  cache: { enabled: true, ttl: 3_600_000, staleTtl: 86_400_000, tools: {}, invalidateOnWrite: true, noteAfter: 60_000, scope: 'credential' },
  errorPatterns: [],
  fallback: { stale: true },
  tools: { include: [], exclude: [], settings: {} },
};

export interface NormalizeInput {
  raw: unknown;
  file: string;
  foundBy: Config['foundBy'];
  vars: Record<string, string>;
  envFiles: string[];
}

export function normalizeConfig(input: NormalizeInput): { config: Config; warnings: string[] } {
  const { raw, file, vars } = input;
  const warnings: string[] = [];
  const where = new Where(file);
  if (!isObject(raw)) throw where.invalid('the top level must be a JSON object with "mcpServers"');
  for (const k of Object.keys(raw)) if (!TOP_KEYS.includes(k)) warnings.push(`${file}: unknown top-level key "${k}" ignored`);
  if (!isObject(raw.mcpServers)) throw where.invalid('"mcpServers" must be an object of servers', 'mcpServers');

  const defaults = raw.defaults === undefined ? {} : raw.defaults;
  if (!isObject(defaults)) throw where.invalid('"defaults" must be an object', 'defaults');
  // Checked here too, so that a wrong value is named where it is written rather than on every server.
  if (defaults.pinTools !== undefined) bool(defaults.pinTools, where, 'defaults.pinTools');
  const defaultsCache = obj(defaults.cache, where, 'defaults.cache');
  if (defaultsCache.scope !== undefined) cacheScope(defaultsCache.scope, where, 'defaults.cache.scope');
  // Names listed in defaults count for every server, added to the server's own list.
  const defaultCredentialEnv = envNames(defaultsCache.credentialEnv, where, 'defaults.cache.credentialEnv');
  const base = merge(BUILTIN_DEFAULTS, defaults);

  const baseDir = dirname(file);
  const servers: ServerConfig[] = [];
  for (const [name, entry] of Object.entries(raw.mcpServers)) {
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
      throw where.invalid(`server name "${name}" may only use letters, digits, "_", "-" and "."`, undefined, name);
    }
    if (!isObject(entry)) throw where.invalid('each server must be an object', undefined, name);
    for (const k of Object.keys(entry)) {
      if (!CLAUDE_KEYS.includes(k) && !MCPX_KEYS.includes(k)) warnings.push(`${file}: server "${name}": unknown key "${k}" ignored`);
    }
    const merged = merge(base, entry);
    claudeCodeKeys(name, entry, merged, where.server(name), warnings);
    // Whether the user set cache.ttl (defaults or entry), not the built-in default: a child's advice yields only to that.
    const ttlSet = [defaults, entry].some((r) => isObject(r.cache) && r.cache.ttl !== undefined);
    // Caching is opt-in: readOnlyHint says a tool changes nothing, not that its answer stays true for long.
    const asked = [defaults, entry].some((r) => isObject(r.cache) && (r.cache.ttl !== undefined || r.cache.staleTtl !== undefined || r.cache.enabled === true));
    const server = normalizeServer(name, merged, where.server(name), vars, baseDir, ttlSet, asked);
    server.cache.credentialEnv = [...new Set([...defaultCredentialEnv, ...server.cache.credentialEnv])];
    servers.push(server);
  }

  const cacheRaw = raw.cache ?? {};
  if (!isObject(cacheRaw)) throw where.invalid('"cache" must be an object', 'cache');
  const auditRaw = raw.audit ?? {};
  if (!isObject(auditRaw)) throw where.invalid('"audit" must be an object', 'audit');
  const auditArgs = auditRaw.args ?? 'hash';
  if (auditArgs !== 'hash' && auditArgs !== 'redacted' && auditArgs !== 'none') {
    throw where.invalid('"audit.args" must be "hash", "redacted" or "none"', 'audit.args');
  }
  const cacheDir = cacheRaw.dir === undefined ? defaultCacheDir() : str(cacheRaw.dir, where, 'cache.dir');
  return {
    warnings,
    config: {
      file,
      foundBy: input.foundBy,
      servers,
      cache: {
        dir: process.env.MCPX_CACHE_DIR || resolve(baseDir, expandHome(cacheDir)),
        maxMb: num(cacheRaw.maxMb ?? 256, where, 'cache.maxMb'),
        maxEntryBytes: num(cacheRaw.maxEntryBytes ?? 1_048_576, where, 'cache.maxEntryBytes'),
        ...cacheBackend(cacheRaw, where, vars),
      },
      audit: { args: auditArgs, retentionDays: num(auditRaw.retentionDays ?? 30, where, 'audit.retentionDays') },
      http: httpBlock(raw.http, where, vars),
      toolSearch: toolSearchSettings(raw, where),
      stateDir: defaultStateDir(),
      envFiles: input.envFiles,
    },
  };
}

/**
 * The `http` block of `serve --http`: host, port, and tokens as a list or a map of caller name to
 * token, expanded like cache.url (${VAR} from the environment or .env). A token is never echoed in an
 * error; an empty one (a variable set to "") is refused rather than read as "no token". A variable not
 * set is `problem`, raised by `serve --http` only.
 */
function httpBlock(v: unknown, where: Where, vars: Record<string, string>): Config['http'] {
  if (v === undefined) return { tokens: [], limits: HTTP_LIMITS };
  if (!isObject(v)) throw where.invalid('"http" must be an object with "host", "port", "tokens" and "limits"', 'http');
  for (const k of Object.keys(v)) if (!['host', 'port', 'tokens', 'limits'].includes(k)) throw where.invalid(`unknown key "${k}" (expected "host", "port", "tokens" or "limits")`, 'http');
  const limits = httpLimits(v.limits, where);
  const host = v.host === undefined ? undefined : str(v.host, where, 'http.host');
  const port = v.port === undefined ? undefined : int(v.port, where, 'http.port', 0);
  if (port !== undefined && port > 65535) throw where.invalid(`must be a port from 0 to 65535, got ${port}`, 'http.port');
  const raw = v.tokens ?? [];
  if (!Array.isArray(raw) && !isObject(raw)) throw where.invalid('must be a list of tokens, or an object of caller name to token', 'http.tokens');
  const named: [string, unknown][] = Array.isArray(raw) ? raw.map((t, i) => [`token${i + 1}`, t]) : Object.entries(raw);
  let problem: McpxError | undefined;
  const tokens = named.flatMap(([name, t]) => {
    const field = Array.isArray(raw) ? `http.tokens[${Number(name.slice(5)) - 1}]` : `http.tokens.${name}`;
    if (typeof t !== 'string') throw where.invalid('must be a string (the token, or "${VAR}")', field);
    const x = expandValue(t, vars);
    // Only `serve --http` needs the tokens: the other commands run without the variable.
    if (x.missing.length) return (problem ??= where.invalid(`variable ${x.missing.join(', ')} is not set`, field)), [];
    if (x.parts) throw where.invalid('${cmd:…} and ${sh:…} are not supported here: use ${VAR} (from the environment or .env)', field);
    if (!x.value.trim()) throw where.invalid('is empty (the value is not shown: a token must not be empty)', field);
    return [{ name, token: x.value }];
  });
  return { host, port, tokens, problem, limits };
}

/** `http.limits`: counts of at least 1 and a size, the defaults for those not given. */
function httpLimits(v: unknown, where: Where): HttpLimits {
  if (v === undefined) return HTTP_LIMITS;
  if (!isObject(v)) throw where.invalid('must be an object with "sessions", "listenUris" and "requestBytes"', 'http.limits');
  const out = { ...HTTP_LIMITS };
  for (const [k, x] of Object.entries(v)) {
    if (!(k in HTTP_LIMITS)) throw where.invalid(`unknown key "${k}" (expected "sessions", "listenUris" or "requestBytes")`, 'http.limits');
    out[k as keyof HttpLimits] = k === 'requestBytes' ? messageSize(x, where, 'http.limits.requestBytes') : int(x, where, `http.limits.${k}`, 1);
  }
  return out;
}

/** `toolSearch`, `toolBudget`, `toolSearchAlways` (top level). */
function toolSearchSettings(raw: Raw, where: Where): Config['toolSearch'] {
  const mode = raw.toolSearch ?? 'auto';
  if (mode !== 'on' && mode !== 'off' && mode !== 'auto') throw where.invalid(`must be "on", "off" or "auto", got ${JSON.stringify(mode)}`, 'toolSearch');
  return {
    mode,
    budget: int(raw.toolBudget ?? TOOL_BUDGET, where, 'toolBudget', 0),
    always: strList(raw.toolSearchAlways ?? [], where, 'toolSearchAlways'),
  };
}

/**
 * cache.backend and cache.url. $MCPX_CACHE_URL wins over the file's url (as $MCPX_CACHE_DIR does over
 * dir) and, being data, is never expanded; a url with no backend named means Redis. The url is never
 * echoed in an error: it may hold a password.
 */
function cacheBackend(c: Raw, where: Where, vars: Record<string, string>): Pick<Config['cache'], 'backend' | 'url' | 'lookupTimeoutMs'> {
  const fromEnv = process.env.MCPX_CACHE_URL || undefined;
  let url = fromEnv;
  if (url === undefined && c.url !== undefined) {
    const x = expandValue(str(c.url, where, 'cache.url'), vars);
    if (x.missing.length) throw where.invalid(`variable ${x.missing.join(', ')} is not set`, 'cache.url');
    if (x.parts) throw where.invalid('${cmd:…} and ${sh:…} are not supported here: use ${VAR} (from the environment or .env)', 'cache.url');
    url = x.value;
  }
  const backend = c.backend ?? (url ? 'redis' : 'sqlite');
  if (backend !== 'sqlite' && backend !== 'redis') throw where.invalid(`must be "sqlite" or "redis", got ${JSON.stringify(backend)}`, 'cache.backend');
  const lookupTimeoutMs = dur(c.lookupTimeoutMs ?? LOOKUP_TIMEOUT_MS, where, 'cache.lookupTimeoutMs');
  if (lookupTimeoutMs < 1 || lookupTimeoutMs > 1000) throw where.invalid(`must be between 1 ms and 1 s (a call waits this long on Redis at most), got ${JSON.stringify(c.lookupTimeoutMs)}`, 'cache.lookupTimeoutMs');
  if (backend === 'sqlite') return { backend, lookupTimeoutMs };
  if (!url) throw where.invalid('"cache.backend" is "redis" but no URL is set: give "cache.url" or $MCPX_CACHE_URL (redis://host:6379/0)', 'cache.url');
  let protocol: string | undefined;
  try {
    protocol = new URL(url).protocol;
  } catch {
    /* reported below */
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:') {
    throw where.invalid('must be a redis:// or rediss:// URL (the value is not shown: it may hold a password)', fromEnv ? 'cache.url ($MCPX_CACHE_URL)' : 'cache.url');
  }
  return { backend, url, lookupTimeoutMs };
}

function normalizeServer(name: string, e: Raw, where: Where, vars: Record<string, string>, baseDir: string, ttlSet: boolean, cacheAsked: boolean): ServerConfig {
  const type = e.type ?? (e.url !== undefined && e.command === undefined ? 'http' : 'stdio');
  if (type !== 'stdio' && type !== 'http' && type !== 'sse') {
    throw where.invalid(`unknown type "${String(type)}" (expected "stdio", "http" or "sse")`, 'type');
  }
  const transport = type as Transport;
  if (transport === 'stdio' && e.command === undefined) {
    throw where.invalid(e.url !== undefined ? 'has "url" but type "stdio": set "type": "http"' : 'needs either "command" (stdio) or "url" (http/sse)', 'command');
  }
  if (transport !== 'stdio' && e.url === undefined) throw where.invalid(`type "${transport}" needs "url"`, 'url');

  // ${VAR} expansion in the fields Claude Code expands; remember which variables are used, and which
  // env, headers and args values ask for a secret command (run at each start of the child).
  const used: ServerConfig['variables'] = [];
  const missing: { name: string; field: string }[] = [];
  const secretCommands: SecretCommandValue[] = [];
  const expand = (v: string, field: string, at?: Omit<SecretCommandValue, 'parts'>): string => {
    const x = expandValue(v, vars);
    used.push(...x.used);
    missing.push(...x.missing.map((n) => ({ name: n, field })));
    if (x.parts && at) secretCommands.push({ ...at, parts: x.parts });
    return x.value;
  };
  const command = e.command === undefined ? undefined : expand(str(e.command, where, 'command'), 'command');
  const args = strList(e.args ?? [], where, 'args').map((a, i) => expand(a, `args[${i}]`, { field: 'args', key: String(i) }));
  const env = mapOf(strMap(e.env ?? {}, where, 'env'), (k, v) => expand(v, `env.${k}`, { field: 'env', key: k }));
  const cwdRaw = e.cwd === undefined ? undefined : expand(str(e.cwd, where, 'cwd'), 'cwd');
  const cwd = cwdRaw === undefined ? undefined : isAbsolute(cwdRaw) ? cwdRaw : resolve(baseDir, expandHome(cwdRaw));
  const url = e.url === undefined ? undefined : expand(str(e.url, where, 'url'), 'url');
  const headers = mapOf(strMap(e.headers ?? {}, where, 'headers'), (k, v) => expand(v, `headers.${k}`, { field: 'headers', key: k }));
  if (url !== undefined && !missing.length) {
    try { new URL(url); } catch { throw where.invalid(`"url" is not a valid URL`, 'url'); }
  }
  const oauth = e.oauth === undefined ? undefined : oauthSettings(e.oauth, transport, where, expand);

  const prefix = e.prefix === undefined ? name : str(e.prefix, where, 'prefix');
  if (!/^[A-Za-z0-9_-]*$/.test(prefix)) throw where.invalid('"prefix" may only use letters, digits, "_" and "-"', 'prefix');
  const tags = strList(e.tags ?? [], where, 'tags');
  tags.forEach((t, i) => {
    if (!/^[A-Za-z0-9_.-]+$/.test(t)) throw where.invalid(`tag "${t}" may only use letters, digits, "_", "-" and "."`, `tags[${i}]`);
  });
  const start = e.start ?? 'eager';
  if (start !== 'eager' && start !== 'lazy') throw where.invalid('"start" must be "eager" or "lazy"', 'start');

  const tools = obj(e.tools, where, 'tools');
  const settingsRaw = obj(tools.settings ?? {}, where, 'tools.settings');
  const toolSettings: ServerConfig['tools']['settings'] = {};
  for (const [tool, s] of Object.entries(settingsRaw)) {
    const so = obj(s, where, `tools.settings.${tool}`);
    toolSettings[tool] = { timeoutMs: so.timeoutMs === undefined ? undefined : dur(so.timeoutMs, where, `tools.settings.${tool}.timeoutMs`) };
  }

  const breaker = obj(e.breaker, where, 'breaker');
  const cache = obj(e.cache, where, 'cache');
  const cacheTools: ServerConfig['cache']['tools'] = {};
  for (const [tool, s] of Object.entries(obj(cache.tools ?? {}, where, 'cache.tools'))) {
    if (s === false) { cacheTools[tool] = false; continue; }
    if (s === true) { cacheTools[tool] = {}; continue; }
    const so = obj(s, where, `cache.tools.${tool}`);
    cacheTools[tool] = {
      ttl: so.ttl === undefined ? undefined : dur(so.ttl, where, `cache.tools.${tool}.ttl`),
      staleTtl: so.staleTtl === undefined ? undefined : dur(so.staleTtl, where, `cache.tools.${tool}.staleTtl`),
    };
  }
  const fallback = obj(e.fallback, where, 'fallback');
  const errorPatterns = strList(e.errorPatterns ?? [], where, 'errorPatterns').map((p, i) => {
    try { return new RegExp(p, 'm'); } catch { throw where.invalid(`"${p}" is not a valid regular expression`, `errorPatterns[${i}]`); }
  });
  let rateLimit: ServerConfig['rateLimit'];
  if (e.rateLimit !== undefined) {
    const r = obj(e.rateLimit, where, 'rateLimit');
    rateLimit = { calls: int(r.calls, where, 'rateLimit.calls', 1), perMs: dur(r.per ?? 60_000, where, 'rateLimit.per') };
  }

  const problem = missing.length
    ? new McpxError(
        `server "${name}": variable ${[...new Set(missing.map((m) => m.name))].join(', ')} is not set (used in ${missing.map((m) => m.field).join(', ')})`,
        {
          code: 'VARIABLE_MISSING', server: name, field: missing[0]!.field, file: where.file,
          suggestion: `set it in the environment or in .env beside ${where.file}, or give a default with \${${missing[0]!.name}:-default}`,
        },
      )
    : undefined;

  return {
    name, transport, command, args, env, cwd, url, headers, oauth,
    headersHelper: e.headersHelper === undefined ? undefined : str(e.headersHelper, where, 'headersHelper'),
    prefix,
    disabled: bool(e.disabled, where, 'disabled'),
    tags,
    instructions: e.instructions === undefined ? undefined : str(e.instructions, where, 'instructions'),
    pinTools: bool(e.pinTools, where, 'pinTools'),
    start,
    tools: {
      include: strList(tools.include ?? [], where, 'tools.include'),
      exclude: strList(tools.exclude ?? [], where, 'tools.exclude'),
      settings: toolSettings,
    },
    timeoutMs: dur(e.timeoutMs, where, 'timeoutMs'),
    maxTotalTimeoutMs: dur(e.maxTotalTimeoutMs, where, 'maxTotalTimeoutMs'),
    startupTimeoutMs: dur(e.startupTimeoutMs, where, 'startupTimeoutMs'),
    retries: int(e.retries, where, 'retries', 0),
    maxConcurrent: int(e.maxConcurrent, where, 'maxConcurrent', 1),
    maxQueue: int(e.maxQueue, where, 'maxQueue', 0),
    maxRestarts: int(e.maxRestarts, where, 'maxRestarts', 0),
    maxMessageBytes: messageSize(e.maxMessageBytes, where, 'maxMessageBytes'),
    protocol: protocolSetting(e.protocol, where),
    breaker: {
      failureThreshold: int(breaker.failureThreshold, where, 'breaker.failureThreshold', 1),
      recoveryTimeoutMs: dur(breaker.recoveryTimeoutMs, where, 'breaker.recoveryTimeoutMs'),
      successThreshold: int(breaker.successThreshold, where, 'breaker.successThreshold', 1),
    },
    cache: {
      enabled: bool(cache.enabled, where, 'cache.enabled'),
      readOnly: cacheAsked,
      ttl: dur(cache.ttl, where, 'cache.ttl'),
      ttlExplicit: ttlSet,
      staleTtl: dur(cache.staleTtl, where, 'cache.staleTtl'),
      tools: cacheTools,
      invalidateOnWrite: bool(cache.invalidateOnWrite, where, 'cache.invalidateOnWrite'),
      noteAfter: dur(cache.noteAfter, where, 'cache.noteAfter'),
      scope: cacheScope(cache.scope, where, 'cache.scope'),
      credentialEnv: envNames(cache.credentialEnv, where, 'cache.credentialEnv'),
    },
    errorPatterns,
    fallback: {
      stale: bool(fallback.stale, where, 'fallback.stale'),
      backupDir: fallback.backupDir === undefined ? undefined : resolve(baseDir, expandHome(str(fallback.backupDir, where, 'fallback.backupDir'))),
      message: fallback.message === undefined ? undefined : str(fallback.message, where, 'fallback.message'),
    },
    rateLimit,
    maxOutputTokens: int(e.maxOutputTokens, where, 'maxOutputTokens', 0),
    identity: sha256(transport, command ?? '', canonicalJson(args), cwd ?? '', url ?? ''),
    catalogKey: sha256('catalog', name, transport, command ?? '', canonicalJson(args), cwd ?? '', url ?? ''),
    credentialFingerprint: oauth ? sha256(canonicalJson(env), canonicalJson(headers), canonicalJson(oauth)) : sha256(canonicalJson(env), canonicalJson(headers)),
    secretCommands,
    variables: dedupeVars(used),
    problem,
  };
}

const OAUTH_KEYS = ['clientId', 'clientSecret', 'scopes', 'grant', 'callbackPort', 'resource', 'clientMetadataUrl', 'authServerMetadataUrl'];

/** The `oauth` block of a remote child, checked: each error names the field. */
function oauthSettings(v: unknown, transport: Transport, where: Where, expand: (v: string, field: string, at?: Omit<SecretCommandValue, 'parts'>) => string): OAuthSettings {
  const o = obj(v, where, 'oauth');
  if (transport === 'stdio') throw where.invalid('is only for remote servers ("type": "http" or "sse")', 'oauth');
  for (const k of Object.keys(o)) if (!OAUTH_KEYS.includes(k)) throw where.invalid(`unknown key "${k}" (expected ${OAUTH_KEYS.map((x) => `"${x}"`).join(', ')})`, 'oauth');
  const grant = o.grant ?? 'authorization_code';
  if (grant !== 'authorization_code' && grant !== 'client_credentials') {
    throw where.invalid(`must be "authorization_code" or "client_credentials", got ${JSON.stringify(grant)}`, 'oauth.grant');
  }
  const clientId = o.clientId === undefined ? undefined : expand(str(o.clientId, where, 'oauth.clientId'), 'oauth.clientId');
  const clientSecret = o.clientSecret === undefined ? undefined : expand(str(o.clientSecret, where, 'oauth.clientSecret'), 'oauth.clientSecret', { field: 'oauth', key: 'clientSecret' });
  if (grant === 'client_credentials' && (clientId === undefined || clientSecret === undefined)) {
    throw where.invalid('"grant": "client_credentials" needs "clientId" and "clientSecret"', 'oauth');
  }
  const port = o.callbackPort === undefined ? undefined : int(o.callbackPort, where, 'oauth.callbackPort', 1);
  if (port !== undefined && port > 65535) throw where.invalid(`must be a port number (1-65535), got ${port}`, 'oauth.callbackPort');
  const metadataUrl = o.clientMetadataUrl === undefined ? undefined : str(o.clientMetadataUrl, where, 'oauth.clientMetadataUrl');
  if (metadataUrl !== undefined && !/^https:\/\/[^/]+\/./.test(metadataUrl)) throw where.invalid('must be an https URL with a path', 'oauth.clientMetadataUrl');
  const asMetadataUrl = o.authServerMetadataUrl === undefined ? undefined : str(o.authServerMetadataUrl, where, 'oauth.authServerMetadataUrl');
  if (asMetadataUrl !== undefined && !secureOrLoopback(asMetadataUrl)) throw where.invalid('must be an https URL (or http on this machine)', 'oauth.authServerMetadataUrl');
  return {
    clientId,
    clientSecret,
    scopes: oauthScopes(o.scopes, where),
    grant,
    callbackPort: port,
    resource: o.resource === undefined ? true : bool(o.resource, where, 'oauth.resource'),
    clientMetadataUrl: metadataUrl,
    authServerMetadataUrl: asMetadataUrl,
  };
}

/** A list, or one space-separated string as Claude Code writes it (an entry copied from .mcp.json works). */
function oauthScopes(v: unknown, where: Where): string[] {
  if (v === undefined) return [];
  if (typeof v === 'string') return v.split(/\s+/).filter(Boolean);
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw where.invalid(`must be a list of strings or one space-separated string, got ${JSON.stringify(v)}`, 'oauth.scopes');
  return v as string[];
}

function secureOrLoopback(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || (u.protocol === 'http:' && isLoopback(u.hostname));
  } catch {
    return false;
  }
}

/**
 * Keys of Claude Code's `.mcp.json` entries that mean something to mcpx: `timeout` is a per-call
 * deadline in ms (our `timeoutMs`, which wins when the entry sets both); `oauth` is read by normalizeServer.
 */
function claudeCodeKeys(name: string, entry: Raw, merged: Raw, where: Where, warnings: string[]): void {
  if (entry.timeout !== undefined) {
    const ms = dur(entry.timeout, where, 'timeout');
    if (entry.timeoutMs === undefined) merged.timeoutMs = ms;
    else log.debug(`${where.file}: server "${name}": both "timeout" (${ms} ms) and "timeoutMs" are set; "timeoutMs" wins`);
  }
}

// ---- small checkers: each names the file, server and field ------------------------------------

class Where {
  constructor(readonly file: string, readonly serverName?: string) {}
  server(name: string): Where { return new Where(this.file, name); }
  invalid(reason: string, field?: string, server = this.serverName): McpxError {
    const at = [server && `server "${server}"`, field && `field "${field}"`].filter(Boolean).join(', ');
    return new McpxError(`${this.file}: ${at ? at + ': ' : ''}${reason}`, {
      code: 'CONFIG_INVALID', file: this.file, server, field,
      suggestion: 'see the config reference in README.md',
    });
  }
}

function isObject(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function obj(v: unknown, w: Where, field: string): Raw {
  if (v === undefined) return {};
  if (!isObject(v)) throw w.invalid(`must be an object, got ${JSON.stringify(v)}`, field);
  return v;
}
function str(v: unknown, w: Where, field: string): string {
  if (typeof v !== 'string') throw w.invalid(`must be a string, got ${JSON.stringify(v)}`, field);
  return v;
}
function bool(v: unknown, w: Where, field: string): boolean {
  if (typeof v !== 'boolean') throw w.invalid(`must be true or false, got ${JSON.stringify(v)}`, field);
  return v;
}
function num(v: unknown, w: Where, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw w.invalid(`must be a non-negative number, got ${JSON.stringify(v)}`, field);
  return v;
}
function int(v: unknown, w: Where, field: string, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw w.invalid(`must be a whole number >= ${min}, got ${JSON.stringify(v)}`, field);
  return v;
}
function dur(v: unknown, w: Where, field: string): number {
  const ms = parseDuration(v);
  if (ms === undefined) throw w.invalid(`must be a duration (milliseconds, or "500ms", "30s", "15m", "2h", "1d"), got ${JSON.stringify(v)}`, field);
  return ms;
}
/** A message size: at least room for initialize's answer, and under V8's longest string (~512 MB). */
function messageSize(v: unknown, w: Where, field: string): number {
  const n = parseBytes(v);
  if (n === undefined || n < 1024 || n > 256 * 1024 * 1024) {
    throw w.invalid(`must be a size from 1 KB to 256 MB (bytes, or a string such as "512KB", "32MB"), got ${JSON.stringify(v)}`, field);
  }
  return n;
}
function strList(v: unknown, w: Where, field: string): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw w.invalid(`must be a list of strings, got ${JSON.stringify(v)}`, field);
  return v as string[];
}
function strMap(v: unknown, w: Where, field: string): Record<string, string> {
  const o = obj(v, w, field);
  for (const [k, x] of Object.entries(o)) if (typeof x !== 'string') throw w.invalid(`must be a string, got ${JSON.stringify(x)}`, `${field}.${k}`);
  return o as Record<string, string>;
}
function mapOf(m: Record<string, string>, f: (k: string, v: string) => string): Record<string, string> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, f(k, v)]));
}
function dedupeVars(vs: ServerConfig['variables']): ServerConfig['variables'] {
  const by = new Map<string, ServerConfig['variables'][number]>();
  for (const v of vs) {
    const prev = by.get(v.name);
    by.set(v.name, prev ? { ...prev, hasDefault: prev.hasDefault && v.hasDefault } : v);
  }
  return [...by.values()];
}

/** Deep merge of plain objects (defaults under entry); arrays and scalars from `over` replace. */
function merge(base: Raw, over: Raw): Raw {
  const out: Raw = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isObject(v) && isObject(base[k]) ? merge(base[k] as Raw, v) : v;
  }
  return out;
}

/** `cache.scope`: "credential" (default: entries per credential) or "public" (shared by everyone). */
function cacheScope(v: unknown, w: Where, field: string): CacheScope {
  if (v === 'credential' || v === 'public') return v;
  throw w.invalid(`must be "credential" (entries per credential, the default) or "public" (answers that do not depend on who asks), got ${JSON.stringify(v)}`, field);
}

/** `cache.credentialEnv`: names of environment variables (a value is never written here). */
function envNames(v: unknown, w: Where, field: string): string[] {
  const names = strList(v ?? [], w, field);
  names.forEach((n, i) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(n)) throw w.invalid('must be the name of a variable (letters, digits and "_"), never its value (what was written is not shown: it may be a secret)', `${field}[${i}]`);
  });
  return names;
}

const PROTOCOLS: readonly ChildProtocol[] = ['auto', 'legacy', '2026-07-28'];

/** `protocol`: "auto" (default), "legacy" or "2026-07-28". */
function protocolSetting(v: unknown, w: Where): ChildProtocol {
  if (v === undefined) return 'auto';
  if (typeof v === 'string' && (PROTOCOLS as readonly string[]).includes(v)) return v as ChildProtocol;
  throw w.invalid(`must be one of ${PROTOCOLS.map((p) => `"${p}"`).join(', ')}, got ${JSON.stringify(v)}`, 'protocol');
}
