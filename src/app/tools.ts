import { ProtocolError, type CallToolResult, type Tool } from '@modelcontextprotocol/client';
import type { Child } from '../children/child.js';
import { loadConfig } from '../config/index.js';
import { unknownServer } from '../config/select.js';
import type { Config, Selection, ServerConfig } from '../config/types.js';
import { McpxError, errorMessage } from '../errors.js';
import { CLAUDE_PREFIX } from '../runtime/names.js';
import { cachePlan } from '../pipeline/policies.js';
import { createRuntime, type Runtime } from '../runtime/runtime.js';
import { localCaller } from '../util/caller.js';
import { log } from '../util/log.js';
import { usedVariableValues } from './secrets.js';

/**
 * `mcpx tools` and `mcpx call`, headless: a runtime built exactly as serve builds it (children,
 * routing, pipeline), with no upstream client; the children are always stopped before returning.
 */
export interface ToolRow {
  /** As Claude Code shows it: mcp__mcpx__<exposed>. */
  claudeName: string;
  /** What `mcpx call` takes and the routing knows: <prefix>__<name>. */
  name: string;
  server: string;
  /** The child's own name. */
  tool: string;
  readOnly: boolean;
  cacheable: boolean;
  description: string;
}

export interface ServerState {
  name: string;
  state: Child['state']['kind'];
  reason?: string;
}

/** A tool not listed because it waits for `mcpx approve` (pinTools). */
export interface WithheldRow {
  name: string;
  server: string;
  tool: string;
  change: 'changed' | 'new';
}

export interface ToolsResult {
  config: string;
  tools: ToolRow[];
  withheld: WithheldRow[];
  servers: ServerState[];
}

/** Loads the config and registers the values of its variables with the logger's redactor. */
export function loadForRun(flag?: string, select?: Selection): Config {
  const { config, warnings } = loadConfig(flag, { select });
  // Run here, the user means this folder's config: say it waits for trust rather than run another one.
  const waiting = config.waitingForTrust;
  if (waiting) throw new McpxError(waiting.message, { code: 'CONFIG_UNTRUSTED', file: waiting.file, suggestion: waiting.suggestion });
  for (const v of usedVariableValues(config).values()) log.addSecret(v);
  for (const w of warnings) log.warn(w);
  return config;
}

/** Runs fn with a started runtime; stops every child afterwards, whatever happens. */
export async function withRuntime<T>(config: Config, fn: (rt: Runtime) => Promise<T>): Promise<T> {
  const runtime = createRuntime(config);
  try {
    return await fn(runtime);
  } finally {
    await runtime.stop();
  }
}

/** Every enabled child, lazy ones included: the list is what Claude Code sees once all are up. */
export async function listTools(opts: { config?: string; server?: string; select?: Selection } = {}): Promise<ToolsResult> {
  const config = loadForRun(opts.config, opts.select);
  if (opts.server !== undefined && !config.servers.some((s) => s.name === opts.server)) throw unknownServer(config, opts.server);
  return withRuntime(config, async (rt) => {
    await rt.start();
    await Promise.all(rt.hub.children.map((c) => c.start()));
    const tools: ToolRow[] = [];
    for (const [name, route] of rt.hub.routing.toolRoutes) {
      if (opts.server !== undefined && route.child.name !== opts.server) continue;
      tools.push(toolRow(name, route.child.config, route.name, route.tool));
    }
    const withheld: WithheldRow[] = [];
    for (const [name, h] of rt.hub.routing.heldRoutes) {
      if (opts.server === undefined || h.child.name === opts.server) withheld.push({ name, server: h.child.name, tool: h.name, change: h.change });
    }
    const servers = rt.hub.children.filter((c) => opts.server === undefined || c.name === opts.server).map(stateOf);
    return { config: config.file, tools, withheld, servers };
  });
}

function toolRow(name: string, server: ServerConfig, original: string, tool: Tool): ToolRow {
  const readOnly = tool.annotations?.readOnlyHint === true;
  // Cached because the config asks; a 2026-07-28 child's ttlMs advice may cache more, result by result.
  const plan = cachePlan(server.cache, original, readOnly);
  const cacheable = !!plan && !plan.byAdvice;
  return {
    claudeName: CLAUDE_PREFIX + name,
    name,
    server: server.name,
    tool: original,
    readOnly,
    cacheable,
    description: (tool.description ?? '').trim().split('\n')[0]!.trim(),
  };
}

function stateOf(c: Child): ServerState {
  const s = c.state;
  return { name: c.name, state: s.kind, reason: s.kind === 'down' || s.kind === 'misconfigured' ? s.reason : undefined };
}

// ---- call ---------------------------------------------------------------------------------------

export interface CallResult {
  /** The exposed name called (without mcp__mcpx__). */
  name: string;
  server: string;
  tool: string;
  result: CallToolResult;
}

/** JSON_ARGS: a JSON object, or nothing ({}). A usage error (exit 2) names the problem. */
export function parseArguments(text: string | undefined): Record<string, unknown> {
  if (text === undefined || text.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new McpxError(`JSON_ARGS is not valid JSON: ${errorMessage(e)}`, {
      code: 'USAGE',
      suggestion: `quote it for the shell, e.g. mcpx call alpha__search '{"query": "hooks"}'`,
    });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new McpxError(`JSON_ARGS must be a JSON object of arguments, got ${Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v}`, {
      code: 'USAGE',
      suggestion: `e.g. '{"query": "hooks"}'`,
    });
  }
  return v as Record<string, unknown>;
}

/**
 * One tools/call through the whole pipeline. Starts the children whose prefix matches the name
 * first (the others only when the name is not found among them), so one call does not wait for
 * every server's cold start.
 */
export async function callTool(opts: { config?: string; select?: Selection; tool: string; args: Record<string, unknown>; signal: AbortSignal }): Promise<CallResult> {
  const name = opts.tool.startsWith(CLAUDE_PREFIX) ? opts.tool.slice(CLAUDE_PREFIX.length) : opts.tool;
  const config = loadForRun(opts.config, opts.select);
  return withRuntime(config, async (rt) => {
    await rt.load(); // the cache and the tool pins, as serve has them
    const routes = rt.hub.routing.toolRoutes;
    const likely = (c: Child): boolean => c.config.prefix === '' || name.startsWith(`${c.config.prefix}__`);
    await Promise.all(rt.hub.children.filter(likely).map((c) => c.start()));
    if (!routes.has(name)) await Promise.all(rt.hub.children.map((c) => c.start()));
    const refused = rt.hub.refusal(name);
    const held = rt.hub.routing.heldRoutes.get(name);
    if (refused && held) return { name, server: held.child.name, tool: held.name, result: refused };
    const route = routes.get(name);
    if (!route) throw notFound(name, rt.hub.children.filter(likely), [...routes.keys()]);

    try {
      const result = (await rt.pipeline.run({ kind: 'tool', params: { name, arguments: opts.args } }, { signal: opts.signal, caller: localCaller() })) as CallToolResult;
      return { name, server: route.child.name, tool: route.name, result };
    } catch (e) {
      if (opts.signal.aborted) throw new McpxError(`${name}: cancelled`, { code: 'CHECK_FAILED', exitCode: 130 });
      if (!(e instanceof ProtocolError)) throw e; // ours, not the child's: reported as unexpected (stack with --debug)
      const message = e.message.replace(/^MCP error -?\d+: /, '');
      throw new McpxError(`${name}: ${route.child.name} answered with an error: ${message}`, {
        code: 'CHECK_FAILED',
        server: route.child.name,
        suggestion: 'check the arguments against the tool\'s input schema (`mcpx tools --json` shows it)',
      });
    }
  });
}

/** Why the name is not there: a server that could not start, or a typo (with near matches). */
function notFound(name: string, candidates: Child[], known: string[]): McpxError {
  const broken = candidates.find((c) => c.config.prefix !== '' && c.state.kind !== 'ready');
  if (broken) {
    const s = broken.state;
    if (s.kind === 'misconfigured') return new McpxError(s.reason, { code: 'VARIABLE_MISSING', server: broken.name, suggestion: broken.config.problem?.suggestion });
    if (s.kind === 'disabled') return new McpxError(`${name}: server ${broken.name} is disabled in the config`, { code: 'USAGE', server: broken.name, suggestion: 'remove "disabled": true from it' });
    if (s.kind === 'down') return new McpxError(`${name}: server ${broken.name} could not start: ${s.reason}`, { code: 'CHILD_START', server: broken.name, suggestion: 'run `mcpx doctor` for details' });
  }
  const near = nearMatches(name, known);
  return new McpxError(`unknown tool "${name}"`, {
    code: 'UNKNOWN_NAME',
    exitCode: 2,
    suggestion: near.length ? `did you mean ${near.join(', ')}? (\`mcpx tools\` lists them all)` : '`mcpx tools` lists the tools',
    context: { near },
  });
}

export function nearMatches(name: string, known: string[], max = 5): string[] {
  const lower = name.toLowerCase();
  const tail = lower.split('__').pop() ?? lower;
  return known
    .map((k) => {
      const kl = k.toLowerCase();
      const d = distance(lower, kl);
      const contains = kl.includes(tail) || lower.includes(kl.split('__').pop() ?? kl);
      return { k, score: contains ? Math.min(d, 2) : d };
    })
    .filter((x) => x.score <= Math.max(3, Math.floor(name.length / 3)))
    .sort((a, b) => a.score - b.score || a.k.localeCompare(b.k))
    .slice(0, max)
    .map((x) => x.k);
}

/** Levenshtein distance. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

