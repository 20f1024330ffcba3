import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { basename, delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { DB_FILE } from '../cache/db.js';
import { SCHEMA_VERSION } from '../cache/migrations.js';
import { compareWithPins, readPins, type PinRow } from '../cache/pins.js';
import { Child } from '../children/child.js';
import { loadConfig } from '../config/index.js';
import { urlPassword } from '../config/secrets.js';
import { unknownServer } from '../config/select.js';
import type { CacheScope, Config, Selection, ServerConfig, Transport, WaitingForTrust } from '../config/types.js';
import type { RedisProbe } from '../cache/redis-admin.js';
import { McpxError, errorMessage, isMcpxError } from '../errors.js';
import { CLAUDE_PREFIX } from '../runtime/names.js';
import { describeWaiting } from '../runtime/pins.js';
import { Routing } from '../runtime/routing.js';
import { NO_UPSTREAM } from '../runtime/runtime.js';
import { formatBytes } from '../util/bytes.js';
import { formatDuration } from '../util/duration.js';
import { isRunning } from '../util/proc.js';
import { docServerOf, templateErrorPatterns } from './doc-servers.js';
import { redactor, usedVariableValues } from './secrets.js';

/**
 * `mcpx doctor`, headless: every check as plain data (DoctorReport); the command renders it as text
 * or prints it as JSON. Checks: the config, the variables each server uses (never their values),
 * each server (command on PATH, start, initialize, lists, sizes, names) in parallel, the cache
 * database (opened read-only, never created) and the status snapshots of running serve processes.
 */
export type Verdict = 'pass' | 'warn' | 'fail' | 'skip' | 'info';
export type ServerStatus = 'healthy' | 'degraded' | 'failing' | 'skipped';

export interface Check {
  verdict: Verdict;
  message: string;
  hint?: string;
}

export interface VariableReport {
  server: string;
  name: string;
  /** set: non-empty value; empty: set to ""; default: unset (or empty) and the default is used; missing: unset, no default. */
  state: 'set' | 'empty' | 'default' | 'missing';
  /** Length of the value when set: the value itself is never reported. */
  length?: number;
  verdict: Verdict;
}

export interface ServerReport {
  name: string;
  transport: Transport;
  status: ServerStatus;
  /** The command (and args) or the URL without query or credentials. */
  target: string;
  checks: Check[];
  resolvedCommand?: string;
  serverInfo?: { name: string; version: string };
  protocolVersion?: string;
  /** 2025 (`legacy`, initialize) or 2026-07-28 (`modern`, server/discover), with the `protocol` setting. */
  era?: { kind: 'legacy' | 'modern'; setting: string };
  timings?: { initializeMs?: number; listMs?: number };
  counts?: { tools: number; prompts: number; resources: number; resourceTemplates: number };
  /** Bytes of the tool list as Claude Code receives it (after include/exclude and renaming). */
  toolListBytes?: number;
  junkLines?: number;
  /** Claude Code names that are shortened (over 64 characters) or renamed after a collision. */
  renamed?: { tool: string; claudeName: string; why: 'too-long' | 'collision' | 'characters' }[];
  logFile?: string;
  /** Whose its cached entries are: shared by everyone (`public`), or per credential (the default). */
  cacheScope?: CacheScope;
  /** Whether and how long its answers are cached (opt-in: only what the config asks, or a 2026 child's ttlMs). */
  caching?: CachingReport;
}

export interface CachingReport {
  /** Every read-only tool and resource read, for ttlMs (then staleTtlMs more as a fallback). */
  readOnly: boolean;
  ttlMs: number;
  staleTtlMs: number;
  /** `cache.tools`: a tool cached for its own TTL whatever its hint, or never (false). */
  tools: Record<string, { ttlMs: number; staleTtlMs: number } | false>;
  /** False: `cache.enabled: false`, nothing at all. */
  enabled: boolean;
}

export interface CacheReport {
  file: string;
  exists: boolean;
  bytes?: number;
  entries?: number;
  schemaVersion?: number;
  mode?: string;
  writable?: boolean;
  integrity?: string;
  checks: Check[];
}

/** The shared result store (cache.backend "redis"): does it answer, and how fast. */
export interface RedisReport extends RedisProbe {
  checks: Check[];
}

export interface InstanceReport {
  pid: number;
  updatedAt: string;
  ageMs: number;
  running: boolean;
  stale: boolean;
  servers: { name: string; state?: string; breaker?: string; restarts?: number; lastError?: string }[];
  /** An edit of the config that this process refused (it serves its last good config). */
  configError?: string;
}

export interface DoctorReport {
  config: {
    file?: string;
    foundBy?: Config['foundBy'];
    ok: boolean;
    checks: Check[];
    error?: Record<string, unknown>;
    /** ./mcpx.json found but not used until `mcpx trust`: doctor exits 1. */
    waitingForTrust?: WaitingForTrust;
  };
  variables: VariableReport[];
  servers: ServerReport[];
  cache?: CacheReport;
  redis?: RedisReport;
  instances?: { checks: Check[]; snapshots: InstanceReport[] };
  summary: { healthy: number; degraded: number; failing: number; skipped: number };
  exitCode: 0 | 1 | 2;
}

export interface DoctorOptions {
  config?: string;
  server?: string;
  /** `--tags` / `--only`: check only these servers. */
  select?: Selection;
  /** Bound on each server's check, ms. */
  timeoutMs?: number;
  /** Progress for spinners: a server's check started / ended. */
  onProgress?: (event: { server: string; phase: 'start' | 'done'; status?: ServerStatus }) => void;
}

export const TOOL_LIST_WARN_BYTES = 20 * 1024;
const STALE_SNAPSHOT_MS = 60_000;
const CLAUDE_MAX = 64;
const COLD_START = new Set(['npx', 'uvx', 'bunx', 'pnpx', 'pipx']);

/** Runs every check; never throws for what it checks (a config error is reported with exitCode 2). */
export async function doctor(opts: DoctorOptions = {}): Promise<DoctorReport> {
  const report: DoctorReport = {
    config: { ok: false, checks: [] },
    variables: [],
    servers: [],
    summary: { healthy: 0, degraded: 0, failing: 0, skipped: 0 },
    exitCode: 2,
  };

  // 1. config
  let config: Config;
  try {
    const loaded = loadConfig(opts.config, { select: opts.select });
    config = loaded.config;
    const waiting = config.waitingForTrust;
    report.config = {
      file: config.file,
      foundBy: config.foundBy,
      ok: !waiting,
      waitingForTrust: waiting,
      checks: [
        ...(waiting ? [{ verdict: 'fail', message: waiting.message, hint: waiting.suggestion } satisfies Check] : []),
        ...(waiting && !config.servers.length ? [] : [{ verdict: 'pass', message: `${config.file} (found ${FOUND_BY[config.foundBy]}): ${config.servers.length} server(s)` } satisfies Check]),
        ...loaded.warnings
          .filter((w) => w !== waiting?.message)
          .map((w): Check => ({ verdict: 'warn', message: w, hint: / unknown (top-level )?key /.test(w) ? 'remove the key, or check its spelling' : undefined })),
        ...config.envFiles.map((f): Check => ({ verdict: 'info', message: `variables also read from ${f}` })),
      ],
    };
  } catch (e) {
    if (!isMcpxError(e)) throw e;
    report.config = {
      file: e.file,
      ok: false,
      checks: [{ verdict: 'fail', message: e.message, hint: e.suggestion }],
      error: e.toJSON(),
    };
    return report;
  }

  let servers = config.servers;
  if (opts.server !== undefined) {
    servers = servers.filter((s) => s.name === opts.server);
    if (!servers.length) throw unknownServer(config, opts.server);
  }

  // 2. variables: names and states only
  const values = usedVariableValues(config);
  for (const s of servers) {
    for (const v of s.variables) {
      const value = values.get(v.name);
      const state: VariableReport['state'] =
        value !== undefined && value !== '' ? 'set' : v.hasDefault ? 'default' : value === '' ? 'empty' : 'missing';
      const verdict: Verdict = s.disabled ? 'skip' : state === 'missing' ? 'fail' : state === 'empty' ? 'warn' : 'pass';
      report.variables.push({ server: s.name, name: v.name, state, length: state === 'set' ? value!.length : undefined, verdict });
    }
  }

  // 3. servers, in parallel; then the names they produce together
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const checked = await Promise.all(
    servers.map(async (s) => {
      opts.onProgress?.({ server: s.name, phase: 'start' });
      const r = await checkServer(s, config, timeoutMs);
      opts.onProgress?.({ server: s.name, phase: 'done', status: statusOf(r.report) });
      return r;
    }),
  );
  checkNames(checked);
  const dbFile = join(config.cache.dir, DB_FILE);
  checkPins(checked, dbFile);
  report.servers = checked.map((c) => ({ ...c.report, status: statusOf(c.report) }));

  // 4. cache database, 5. running instances
  const { cache, instances } = checkDatabase(dbFile);
  report.cache = cache;
  report.instances = instances;
  // 6. the shared result store
  if (config.cache.backend === 'redis') report.redis = await checkRedis(config.cache.url!, config.cache.lookupTimeoutMs);

  for (const s of report.servers) report.summary[s.status]++;
  const failed = (checks: Check[] | undefined) => !!checks?.some((c) => c.verdict === 'fail');
  const bad = report.summary.failing + report.summary.degraded > 0 || failed(cache.checks) || failed(report.redis?.checks);
  report.exitCode = bad || config.waitingForTrust ? 1 : 0;
  // Nothing a child, a database or Redis says about a secret value reaches the report.
  return redactor([...values.values(), ...urlPassword(config.cache.url)]).deep(report);
}

const FOUND_BY: Record<Config['foundBy'], string> = {
  flag: 'by --config',
  env: 'by $MCPX_CONFIG',
  cwd: 'in the current directory',
  user: 'in the user config directory',
};

function statusOf(r: ServerReport): ServerStatus {
  if (r.checks.some((c) => c.verdict === 'skip') && r.checks.every((c) => c.verdict === 'skip' || c.verdict === 'info')) return 'skipped';
  if (r.checks.some((c) => c.verdict === 'fail')) return 'failing';
  if (r.checks.some((c) => c.verdict === 'warn')) return 'degraded';
  return 'healthy';
}

// ---- one server ---------------------------------------------------------------------------------

interface Checked {
  report: ServerReport;
  child?: Child;
}

async function checkServer(s: ServerConfig, config: Config, timeoutMs: number): Promise<Checked> {
  const report: ServerReport = { name: s.name, transport: s.transport, status: 'healthy', target: target(s), checks: [] };
  const add = (verdict: Verdict, message: string, hint?: string): void => void report.checks.push({ verdict, message, hint });

  if (s.disabled) {
    add('skip', 'disabled in the config ("disabled": true): not started');
    return { report };
  }
  if (s.problem) {
    add('fail', s.problem.message, s.problem.suggestion);
    return { report };
  }
  report.cacheScope = s.cache.scope;
  add('info', cacheScopeLine(s));
  report.caching = cachingOf(s);
  add('info', cachingLine(report.caching));
  const unmarked = unmarkedFailures(s, report.caching);
  if (unmarked) {
    add('warn', `caches its answers but has no "errorPatterns": ${unmarked.template} tells a failed lookup as a plain answer, which would be cached as the answer`,
      `add the errorPatterns of mcpx's ${unmarked.template} template: "errorPatterns": ${JSON.stringify(unmarked.patterns)}`);
  }

  // Can it be started at all?
  if (s.transport === 'stdio') {
    if (s.cwd && !isDirectory(s.cwd)) {
      add('fail', `working directory ${s.cwd} does not exist`, 'fix "cwd" in the config (relative paths are from the config file)');
      return { report };
    }
    const resolved = resolveCommand(s.command!, s.cwd, s.env.PATH ?? process.env.PATH ?? '');
    if (!resolved) {
      const isPath = s.command!.includes('/');
      add(
        'fail',
        isPath ? `command ${s.command} does not exist or is not executable` : `command "${s.command}" is not on PATH`,
        isPath ? 'fix "command" in the config (relative paths are from the server\'s cwd)' : `install it, or give its full path in "command" (PATH is searched as mcpx sees it)`,
      );
      return { report };
    }
    report.resolvedCommand = resolved;
    add('pass', `command ${s.command} → ${resolved}`);
    if (COLD_START.has(basename(s.command!))) {
      add('info', `started through ${basename(s.command!)}: a cold start (package download) takes 4–9 s; serve starts children in the background, so Claude Code does not wait for it`);
    }
  } else {
    add('pass', `URL ${report.target} (${s.transport === 'http' ? 'Streamable HTTP, SSE as fallback' : 'SSE'})`);
  }

  // Start it, as serve would, with a client that declares nothing; then stop it.
  const child = new Child(
    { ...s, startupTimeoutMs: Math.min(s.startupTimeoutMs, timeoutMs) },
    { stateDir: config.stateDir, bridge: NO_UPSTREAM, env: process.env as Record<string, string> },
  );
  report.logFile = s.transport === 'stdio' ? child.logFile : undefined;
  const logStart = report.logFile ? fileSize(report.logFile) : 0;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
  try {
    const outcome = await Promise.race([child.start().then(() => 'done' as const), deadline]);
    if (outcome === 'timeout' || child.state.kind === 'starting') {
      add('fail', `no answer within ${formatDuration(timeoutMs)} (initialize and list)`, 'raise --timeout for a slow first start, or look at its log' + logHint(report));
    } else if (child.state.kind !== 'ready') {
      const reason = child.state.kind === 'down' ? child.state.reason : child.state.kind;
      const said = report.logFile ? lastLines(report.logFile, logStart) : [];
      add('fail', `could not start: ${reason}${said.length ? `; its stderr ended with: ${said.join(' | ')}` : ''}`,
        s.transport === 'stdio' ? 'run the command by hand to see why' : child.loginNeeded ? `run \`mcpx login ${s.name}\` in a terminal` : 'check the URL, the network and the credentials');
    } else {
      describeRunning(child, report, add);
    }
  } finally {
    clearTimeout(timer);
    await child.stop();
  }
  return { report, child: child.catalog ? child : undefined };
}

function cachingOf(s: ServerConfig): CachingReport {
  const c = s.cache;
  const tools: CachingReport['tools'] = {};
  for (const [name, t] of Object.entries(c.tools)) tools[name] = t === false ? false : { ttlMs: t.ttl ?? c.ttl, staleTtlMs: t.staleTtl ?? c.staleTtl };
  return { enabled: c.enabled, readOnly: c.enabled && c.readOnly, ttlMs: c.ttl, staleTtlMs: c.staleTtl, tools };
}

/**
 * A documentation server that caches without errorPatterns while mcpx's template has some for it
 * (Context7 answers "Error searching libraries: …" without isError): its failures would be kept as answers.
 */
function unmarkedFailures(s: ServerConfig, c: CachingReport): { template: string; patterns: string[] } | undefined {
  const caches = c.enabled && (c.readOnly || Object.values(c.tools).some((t) => t !== false));
  if (!caches || s.errorPatterns.length) return undefined;
  const template = docServerOf({ command: s.command, args: s.args, url: s.url });
  const patterns = template && templateErrorPatterns(template);
  return patterns ? { template: template!, patterns } : undefined;
}

/** Whether and how long a server's answers are cached, in one line. */
export function cachingLine(c: CachingReport): string {
  if (!c.enabled) return 'caches nothing ("cache": {"enabled": false})';
  const listed = Object.entries(c.tools);
  const kept = listed.filter((e): e is [string, { ttlMs: number; staleTtlMs: number }] => e[1] !== false).map(([n, t]) => `${n} (${formatDuration(t.ttlMs)})`);
  const never = listed.filter(([, t]) => t === false).map(([n]) => n);
  const but = `${kept.length ? `; also ${kept.join(', ')}` : ''}${never.length ? `; never ${never.join(', ')}` : ''}`;
  if (c.readOnly) return `caches read-only tools and resources for ${formatDuration(c.ttlMs)} (then ${formatDuration(c.staleTtlMs)} more as a stale fallback)${but}`;
  const advice = 'a 2026-07-28 server\'s own ttlMs still counts';
  if (kept.length) return `caches only ${kept.join(', ')}: read-only tools are cached only when "cache" sets "ttl" (${advice})`;
  return `caches nothing: no "cache": {"ttl": …} for it or in "defaults" (caching is opt-in; ${advice})`;
}

/** Whose cached entries are: what a team shares, and what it does not. */
export function cacheScopeLine(s: ServerConfig): string {
  if (s.cache.scope === 'public') return 'cached entries are shared by everyone on this cache ("scope": "public"): its answers must not depend on who asks';
  const listed = s.cache.credentialEnv.length ? `, and ${s.cache.credentialEnv.join(', ')}` : '';
  const what = s.transport === 'stdio' ? `its env, the credential variables it inherits${listed}` : `its headers, headersHelper's${listed}`;
  return `cached entries are per credential: shared only by callers whose credentials (${what}) are identical`;
}

function describeRunning(child: Child, report: ServerReport, add: (v: Verdict, m: string, h?: string) => void): void {
  const cat = child.catalog!;
  const t = child.timings;
  report.timings = { initializeMs: round(t.initializeMs), listMs: round(t.listMs) };
  report.serverInfo = child.serverInfo ? { name: child.serverInfo.name, version: child.serverInfo.version } : undefined;
  report.protocolVersion = child.protocolVersion;
  report.era = child.era && { kind: child.era, setting: child.config.protocol };
  report.counts = {
    tools: cat.tools.length,
    prompts: cat.prompts.length,
    resources: cat.resources.length,
    resourceTemplates: cat.resourceTemplates.length,
  };
  const who = report.serverInfo ? `${report.serverInfo.name} ${report.serverInfo.version}` : 'a server with no name';
  const era = report.era ? `; ${report.era.kind === 'modern' ? '2026-07-28 era (server/discover)' : '2025 era (initialize)'}, "protocol": "${report.era.setting}"` : '';
  add('pass', `${who}, protocol ${report.protocolVersion ?? 'unknown'}: initialized after ${report.timings.initializeMs} ms, listed after ${report.timings.listMs} ms${era}`);
  const c = report.counts;
  add(c.tools ? 'pass' : 'info', `${plural(c.tools, 'tool')}, ${plural(c.prompts, 'prompt')}, ${plural(c.resources, 'resource')}, ${plural(c.resourceTemplates, 'resource template')}`);
  report.junkLines = child.junkLines;
  if (child.junkLines > 0) {
    add('warn', `printed ${plural(child.junkLines, 'line')} on stdout that ${child.junkLines === 1 ? 'is' : 'are'} not JSON-RPC (mcpx skips them; a strict client would fail)`,
      'the server should log to stderr; see its log for the lines' + logHint(report));
  }
}

/** Sizes and Claude Code names, computed the way serve's routing computes them (config order). */
function checkNames(checked: Checked[]): void {
  const running = checked.filter((c) => c.child);
  if (!running.length) return;
  const routing = new Routing();
  routing.rebuild(running.map((c) => c.child!));
  const exposedOf = new Map<Child, { exposed: string; original: string; tool: Record<string, unknown> }[]>();
  for (const [exposed, route] of routing.toolRoutes) {
    const list = exposedOf.get(route.child) ?? [];
    list.push({ exposed, original: route.name, tool: { ...route.tool, name: exposed } });
    exposedOf.set(route.child, list);
  }
  const plainOwners = new Map<string, string[]>();
  for (const c of running) {
    for (const tool of c.child!.catalog!.tools) {
      const plain = c.child!.config.prefix ? `${c.child!.config.prefix}__${tool.name}` : tool.name;
      plainOwners.set(plain, [...(plainOwners.get(plain) ?? []), c.report.name]);
    }
  }

  for (const { report, child } of running) {
    const exposed = exposedOf.get(child!) ?? [];
    const bytes = Buffer.byteLength(JSON.stringify(exposed.map((e) => e.tool)));
    report.toolListBytes = bytes;
    const filtered = (report.counts?.tools ?? 0) - exposed.length;
    const sizeMsg = `tool list is ${kb(bytes)} (~${tokens(bytes)} tokens of context in every conversation)${filtered ? `; ${filtered} tool(s) filtered out by tools.include/exclude` : ''}`;
    if (bytes > TOOL_LIST_WARN_BYTES) report.checks.push({ verdict: 'warn', message: sizeMsg, hint: 'trim it with "tools": {"include": [...]} or {"exclude": [...]}' });
    else report.checks.push({ verdict: 'pass', message: sizeMsg });

    const renamed: NonNullable<ServerReport['renamed']> = [];
    const prefix = child!.config.prefix;
    for (const { exposed: name, original } of exposed) {
      const plain = prefix ? `${prefix}__${original}` : original;
      const claudeName = CLAUDE_PREFIX + name;
      if (name === plain) continue;
      const owners = plainOwners.get(plain) ?? [];
      const why = owners.length > 1 && owners[0] !== report.name ? 'collision' : (CLAUDE_PREFIX + plain).length > CLAUDE_MAX ? 'too-long' : 'characters';
      renamed.push({ tool: original, claudeName, why });
    }
    report.renamed = renamed;
    const long = renamed.filter((r) => r.why === 'too-long');
    const collided = renamed.filter((r) => r.why === 'collision');
    const chars = renamed.filter((r) => r.why === 'characters');
    if (long.length) {
      report.checks.push({
        verdict: 'warn',
        message: `${plural(long.length, 'tool name')} over ${CLAUDE_MAX} characters as ${CLAUDE_PREFIX}…, shortened: ${long.slice(0, 3).map((r) => `${r.tool} → ${r.claudeName}`).join(', ')}${long.length > 3 ? ', …' : ''}`,
        hint: 'set a shorter "prefix" for this server (or "" for none)',
      });
    }
    if (collided.length) {
      const first = plainOwners.get(prefix ? `${prefix}__${collided[0]!.tool}` : collided[0]!.tool)?.[0];
      report.checks.push({
        verdict: 'warn',
        message: `${plural(collided.length, 'tool name')} also offered by ${first}, renamed: ${collided.slice(0, 3).map((r) => `${r.tool} → ${r.claudeName}`).join(', ')}${collided.length > 3 ? ', …' : ''}`,
        hint: 'give one of the servers its own "prefix"',
      });
    }
    if (chars.length) {
      report.checks.push({ verdict: 'info', message: `${plural(chars.length, 'tool name')} with characters Claude Code does not accept, exposed as ${chars.slice(0, 3).map((r) => r.claudeName).join(', ')}` });
    }
  }
}

/**
 * Tool definitions that differ from the approved ones (pinTools), compared with what each server
 * listed just now. Doctor only reads: serve and `mcpx tools`/`call` record, `mcpx approve` accepts.
 */
function checkPins(checked: Checked[], file: string): void {
  const running = checked.filter((c) => c.child);
  if (!running.length || !existsSync(file)) return;
  let pins: Map<string, Map<string, PinRow>>;
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true, timeout: 2000 });
    pins = readPins(db, running.map((c) => c.report.name));
  } catch {
    return; // an older schema without tool_pins: nothing is pinned yet (the database check reports the rest)
  } finally {
    db?.close();
  }
  for (const { report, child } of running) {
    const approved = pins.get(report.name)!;
    if (!approved.size) continue; // not seen by serve yet: nothing pinned
    const waiting = compareWithPins(report.name, approved, child!.catalog!.tools);
    if (!waiting.length) continue;
    const review = `\`mcpx approve --list\` shows the difference; \`mcpx approve ${report.name}\` accepts it`;
    if (child!.config.pinTools) report.checks.push({ verdict: 'warn', message: `withheld until approved (pinTools): ${describeWaiting(waiting)}`, hint: review });
    else report.checks.push({ verdict: 'info', message: `tool definitions differ from the approved ones (pinTools off: served as is): ${describeWaiting(waiting)}`, hint: review });
  }
}

function target(s: ServerConfig): string {
  if (s.transport !== 'stdio') {
    try {
      const u = new URL(s.url!);
      return `${u.origin}${u.pathname}`;
    } catch {
      return '(invalid URL)';
    }
  }
  return [s.command!, ...s.args].map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ');
}

/** The executable the command names, as execa would find it: a path (from cwd), or the first match on PATH. */
export function resolveCommand(command: string, cwd: string | undefined, path: string): string | undefined {
  if (command.includes('/')) {
    const p = isAbsolute(command) ? command : resolve(cwd ?? process.cwd(), command);
    return isExecutable(p) ? p : undefined;
  }
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, command);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

function isExecutable(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function fileSize(p: string): number {
  try {
    return statSync(p).size;
  } catch {
    return 0;
  }
}

/** The last lines this run appended to a child's stderr log (redacted with the rest of the report). */
function lastLines(file: string, from: number, n = 3): string[] {
  try {
    const text = readFileSync(file).subarray(from).toString('utf8');
    const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
    // Each line once, where it came last: a child that exits on the era probe runs again and says the same.
    const once = lines.filter((l, i) => lines.lastIndexOf(l) === i);
    return once.slice(-n).map((l) => (l.length > 200 ? l.slice(0, 200) + '…' : l));
  } catch {
    return [];
  }
}

function logHint(r: ServerReport): string {
  return r.logFile ? ` (${r.logFile})` : '';
}

// ---- the database: read-only, never created ---------------------------------------------------

function checkDatabase(file: string): { cache: CacheReport; instances: NonNullable<DoctorReport['instances']> } {
  const cache: CacheReport = { file, exists: existsSync(file), checks: [] };
  const instances: NonNullable<DoctorReport['instances']> = { checks: [], snapshots: [] };
  if (!cache.exists) {
    cache.checks.push({ verdict: 'pass', message: `${file}: not created yet (serve creates it on its first start)` });
    instances.checks.push({ verdict: 'pass', message: 'none running (no database yet)' });
    return { cache, instances };
  }
  const st = statSync(file);
  cache.bytes = st.size + (existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0);
  cache.mode = (st.mode & 0o777).toString(8).padStart(4, '0');
  cache.writable = canWrite(file) && canWrite(dirname(file));

  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true, timeout: 2000 });
    cache.schemaVersion = db.pragma('user_version', { simple: true }) as number;
    const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
    if (tables.has('entries')) cache.entries = (db.prepare('SELECT count(*) AS n FROM entries').get() as { n: number }).n;
    const rows = db.pragma('integrity_check(20)') as { integrity_check: string }[];
    cache.integrity = rows.map((r) => r.integrity_check).join('; ');
    if (tables.has('status')) readSnapshots(db, instances);
    else instances.checks.push({ verdict: 'pass', message: 'none running' });
  } catch (e) {
    cache.checks.push({ verdict: 'fail', message: `${file}: cannot be read: ${errorMessage(e)}`, hint: 'serve moves a damaged database aside on its next start; or run `mcpx cache clear`' });
    instances.checks.push({ verdict: 'skip', message: 'not read (the database cannot be opened)' });
    return { cache, instances };
  } finally {
    db?.close();
  }

  const summary = `${file}: ${kb(cache.bytes)}, ${cache.entries ?? 0} entries, schema ${cache.schemaVersion}`;
  if (cache.integrity === 'ok') cache.checks.push({ verdict: 'pass', message: `${summary}, integrity ok` });
  else cache.checks.push({ verdict: 'fail', message: `${summary}, integrity_check: ${cache.integrity}`, hint: 'stop serve, move the file aside (or delete it: it is only a cache) and start again' });
  if ((cache.schemaVersion ?? 0) > SCHEMA_VERSION) {
    cache.checks.push({ verdict: 'fail', message: `schema version ${cache.schemaVersion} is newer than this mcpx understands (${SCHEMA_VERSION})`, hint: 'upgrade mcpx, or point cache.dir / $MCPX_CACHE_DIR elsewhere' });
  }
  if (cache.mode !== '0600') {
    cache.checks.push({ verdict: 'warn', message: `file mode ${cache.mode}: cached results may hold private data`, hint: `chmod 600 ${file}` });
  }
  if (!cache.writable) {
    cache.checks.push({ verdict: 'warn', message: 'not writable by this user: serve reads it but does not cache new results', hint: 'check the owner and permissions of the file and its directory' });
  }
  return { cache, instances };
}

// ---- Redis: answers, and how fast --------------------------------------------------------------

async function checkRedis(url: string, lookupMs: number): Promise<RedisReport> {
  const { probeRedis } = await import('../cache/redis-admin.js');
  const probe = await probeRedis(url);
  if (!probe.reachable) {
    return { ...probe, checks: [{ verdict: 'fail', message: `Redis ${probe.url}: not answering (${probe.error})`,
      hint: 'start Redis, or fix cache.url / $MCPX_CACHE_URL; serve keeps answering without it (memory and the servers), but shares nothing' }] };
  }
  const message = `Redis ${probe.url}${probe.version ? ` ${probe.version}` : ''}: answers PING in ${probe.latencyMs} ms, ${probe.entries} shared ${probe.entries === 1 ? 'entry' : 'entries'}`;
  const slow = probe.latencyMs! > lookupMs / 2;
  return { ...probe, checks: [slow
    ? { verdict: 'warn', message, hint: `lookups wait at most ${lookupMs} ms (cache.lookupTimeoutMs), then count as misses: put Redis closer to mcpx` }
    : { verdict: 'pass', message }] };
}

function canWrite(p: string): boolean {
  try {
    accessSync(p, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The serve processes' snapshots (their layout belongs to telemetry: read leniently). */
function readSnapshots(db: Database.Database, out: NonNullable<DoctorReport['instances']>): void {
  const rows = db.prepare('SELECT pid, data, updated_at FROM status ORDER BY updated_at DESC').all() as { pid: number; data: string; updated_at: number }[];
  const now = Date.now();
  for (const row of rows) {
    const updatedMs = row.updated_at < 1e12 ? row.updated_at * 1000 : row.updated_at;
    let data: unknown;
    try {
      data = JSON.parse(row.data);
    } catch {
      data = undefined;
    }
    const running = isRunning(row.pid);
    const ageMs = Math.max(0, now - updatedMs);
    out.snapshots.push({
      pid: row.pid,
      updatedAt: new Date(updatedMs).toISOString(),
      ageMs,
      running,
      stale: !running || ageMs > STALE_SNAPSHOT_MS,
      servers: snapshotServers(data),
      configError: (data as { config?: { error?: { message?: string } } } | undefined)?.config?.error?.message,
    });
  }
  const live = out.snapshots.filter((s) => !s.stale);
  if (!live.length) {
    out.checks.push({ verdict: 'pass', message: `none running${out.snapshots.length ? ` (${plural(out.snapshots.length, 'stale snapshot')} ignored)` : ''}` });
  }
  for (const snap of live) {
    const parts = snap.servers.map((s) =>
      [s.name, s.state, s.breaker && `breaker ${s.breaker}`, s.restarts ? `${s.restarts} restarts` : undefined].filter(Boolean).join(' '),
    );
    const open = snap.servers.filter((s) => s.breaker === 'open' || s.state === 'down');
    out.checks.push({
      verdict: open.length ? 'warn' : 'pass',
      message: `serve pid ${snap.pid}, heartbeat ${formatDuration(snap.ageMs)} ago${parts.length ? `: ${parts.join('; ')}` : ''}`,
      hint: open.length ? open.map((s) => `${s.name}: ${s.lastError ?? s.state ?? 'breaker open'}`).join('; ') : undefined,
    });
    if (snap.configError) {
      out.checks.push({ verdict: 'warn', message: `serve pid ${snap.pid} refused the last edit of its config: ${snap.configError}`, hint: 'fix the file: mcpx applies it when it is saved; until then the last good config serves' });
    }
  }
  for (const snap of out.snapshots.filter((s) => s.stale)) {
    out.checks.push({ verdict: 'info', message: `stale snapshot of pid ${snap.pid} (${snap.running ? `no heartbeat for ${formatDuration(snap.ageMs)}` : 'process gone'})` });
  }
}

function snapshotServers(data: unknown): InstanceReport['servers'] {
  if (!data || typeof data !== 'object') return [];
  const raw = (data as { servers?: unknown; children?: unknown }).servers ?? (data as { children?: unknown }).children;
  const entries: [string, unknown][] = Array.isArray(raw)
    ? raw.map((x, i) => [String((x as { name?: unknown })?.name ?? i), x])
    : raw && typeof raw === 'object'
      ? Object.entries(raw)
      : [];
  return entries.map(([name, v]) => {
    const o = (v && typeof v === 'object' ? v : {}) as Record<string, unknown>;
    const text = (x: unknown): string | undefined =>
      typeof x === 'string' ? x : x && typeof x === 'object' ? text((x as { kind?: unknown; state?: unknown; message?: unknown }).kind ?? (x as { state?: unknown }).state ?? (x as { message?: unknown }).message) : undefined;
    return {
      name,
      state: text(o.state),
      breaker: text(o.breaker),
      restarts: typeof o.restarts === 'number' ? o.restarts : undefined,
      lastError: text(o.lastError),
    };
  });
}

// ---- small formatting -------------------------------------------------------------------------

/** A rough count (4 bytes a token) for the size warning. */
function tokens(bytes: number): string {
  const t = Math.round(bytes / 4);
  return t < 1000 ? String(t) : `${(t / 1000).toFixed(1)}k`;
}

function round(ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : Math.round(ms);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function kb(n: number | undefined): string {
  return n === undefined ? '?' : formatBytes(n);
}
