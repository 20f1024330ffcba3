import { rawJson } from '../util/raw-json.js';
import { CLIENT_CAPABILITIES_KEY, CLIENT_INFO_KEY, LEGACY_PROTOCOL_VERSIONS, LOG_LEVEL_KEY, MODERN_PROTOCOL_VERSIONS, PROTOCOL_VERSION_KEY, SERVER_CAPABILITIES, SERVER_INFO, SERVER_INFO_KEY } from './identity.js';

/**
 * The rules that make one answer right for both protocol eras, in one place: what mcpx changes in a
 * child's answer for a 2025 client or a 2026-07-28 one (a wrapped output schema, the 2026 result
 * fields), how it tells a request that carries 2026 material, and the answers it writes itself as the
 * SDK Server writes them (the forwarded route's, forward.ts, and the first initialize or discover
 * answered before the SDK is loaded, first-answer.ts). Nothing here uses the SDK's private members; the
 * byte tests (test/serve/route.test.ts against the SDK Server's recorded bytes, first-answer.test.ts
 * against the SDK Server live, exact.test.ts against the child's bytes) hold them to the SDK's.
 * Loads no SDK: the first answers use it before the SDK is loaded.
 */

/**
 * A tool whose output schema has a root that is not an object (a 2026-07-28 child may list one; the
 * 2025 revision wants `type: "object"`). The SDK's 2025 codec then lists it wrapped,
 * `{type:"object", properties:{result:<schema>}, required:["result"]}` (its rule, as `toolNeedsLegacyWrap`
 * says it), and a 2025 client validates the call's structuredContent against that.
 */
export function needsLegacyWrap(t: { outputSchema?: unknown }): boolean {
  const s = t.outputSchema;
  return isObject(s) && s.type !== 'object';
}

/**
 * The tools of a list for a 2025 client: a tool whose output schema needs it (above) is listed with the
 * schema wrapped, `{type:"object", properties:{result:<schema>}, required:["result"]}`, the SEP-2106
 * rule the SDK's 2025 codec follows; the same array when no tool needs it.
 */
export function legacyTools<T extends { outputSchema?: unknown }>(tools: T[]): T[] {
  if (!tools.some(needsLegacyWrap)) return tools;
  return tools.map((t) => (needsLegacyWrap(t) ? { ...t, outputSchema: wrapSchema(t.outputSchema as Record<string, unknown>) } : t));
}

/**
 * A schema moved under `properties.result` of a new root. Same-document pointers (`$ref`, `$dynamicRef`:
 * `#` and `#/…`) are moved with it, except inside a subtree with a `$id` of its own (its pointers
 * resolve against that base) and inside instance data (`const`, `enum`, `default`, `examples`); names
 * under `properties`, `$defs` and the like are names, their values schemas. A root `$schema` stays at
 * the root; a draft 2019-09 `$recursiveRef: "#"` becomes a `$ref` to the moved root.
 */
function wrapSchema(schema: Record<string, unknown>): Record<string, unknown> {
  const $schema = typeof schema.$schema === 'string' ? schema.$schema : undefined;
  const root = (s: unknown) => ({ ...($schema !== undefined && { $schema }), type: 'object', properties: { result: s }, required: ['result'] });
  if (ownBase(schema.$id)) return root(schema);
  const recursion = typeof $schema === 'string' && $schema.includes('2019-09') && schema.$recursiveAnchor !== true;
  const moved = (v: string) => (v === '#' ? '#/properties/result' : v.startsWith('#/') ? `#/properties/result${v.slice(1)}` : v);
  const walk = (node: unknown, names: boolean): unknown => {
    if (Array.isArray(node)) return node.map((n) => walk(n, false));
    if (!isObject(node)) return node;
    if (!names && ownBase(node.$id)) return node;
    const out: Record<string, unknown> = {};
    let recursive = false;
    for (const [k, v] of Object.entries(node)) {
      if (names) out[k] = walk(v, false);
      else if ((k === '$ref' || k === '$dynamicRef') && typeof v === 'string') out[k] = moved(v);
      else if (k === '$recursiveRef' && v === '#' && recursion) recursive = true;
      else if (DATA_KEYS.has(k)) out[k] = v;
      else out[k] = walk(v, NAME_MAP_KEYS.has(k));
    }
    if (recursive) {
      if ('$ref' in out) out.allOf = [...(Array.isArray(out.allOf) ? out.allOf : []), { $ref: '#/properties/result' }];
      else out.$ref = '#/properties/result';
    }
    return out;
  };
  return root(walk(schema, false));
}

/** An `$id` that sets a new base for the pointers under it (a fragment-only one, `#name`, does not). */
const ownBase = (id: unknown) => id !== undefined && !(typeof id === 'string' && id.startsWith('#'));
const DATA_KEYS: ReadonlySet<string> = new Set(['const', 'enum', 'default', 'examples']);
const NAME_MAP_KEYS: ReadonlySet<string> = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas', 'dependencies']);

/**
 * A tool call's result for a 2025 client: its structuredContent wrapped as `{result: <value>}` when the
 * tool's listed schema was wrapped (above), or when the value is not an object (which the 2025 revision
 * does not allow), as the SDK's 2025 projection of a call result does; otherwise the result as it is
 * (the same object, so the child's own bytes can still be written).
 */
export function legacyToolResult(result: unknown, outputSchema: unknown): unknown {
  if (!isObject(result) || !('structuredContent' in result) || result.structuredContent === undefined) return result;
  if (isObject(result.structuredContent) && !needsLegacyWrap({ outputSchema })) return result;
  return { ...result, structuredContent: { result: result.structuredContent } };
}

/** 2026-07-28 envelope keys live under this prefix in `_meta`. */
export const ENVELOPE_PREFIX = 'io.modelcontextprotocol/';

/** No 2026-07-28 material in the request: nothing the SDK would lift off it first. */
export function plain(params: Record<string, unknown>): boolean {
  if (typeof params !== 'object' || Array.isArray(params)) return false;
  if ('inputResponses' in params || 'requestState' in params) return false;
  const meta = params._meta;
  if (meta === undefined) return true;
  if (!meta || typeof meta !== 'object') return false;
  for (const k in meta) if (k.startsWith(ENVELOPE_PREFIX)) return false;
  return true;
}

type Id = string | number;

/** The 2026 results that get cache fields (the SDK's CACHEABLE_RESULT_METHODS, among those mcpx writes). */
const CACHEABLE: ReadonlySet<string> = new Set(['tools/list', 'prompts/list', 'resources/list', 'resources/templates/list', 'resources/read', 'server/discover']);
/** The `_meta` the 2026 codec stamps on a result that has none, as text. */
export const SERVER_INFO_META = JSON.stringify({ [SERVER_INFO_KEY]: SERVER_INFO });

/** The answer to a 2025 client: the child's own text when mcpx did not change the result. */
export function legacyAnswer(id: Id, result: unknown): string {
  const raw = typeof result === 'object' && result !== null ? rawJson.get(result) : undefined;
  return raw !== undefined ? `{"result":${raw},"jsonrpc":"2.0","id":${JSON.stringify(id)}}\n` : JSON.stringify({ result, jsonrpc: '2.0', id }) + '\n';
}

/**
 * The answer to a 2026 client. The child's own text when mcpx did not change the result and the codec
 * only appends to it (no resultType, `_meta`, cache fields or capabilities of its own): resultType, the
 * cache fields of a read, the server's identity. Else the codec's encode of the object.
 */
export function modernAnswer(method: string, id: Id, result: Record<string, unknown>): string {
  const raw = typeof result === 'object' && result !== null ? rawJson.get(result) : undefined;
  if (raw !== undefined && raw.charCodeAt(raw.length - 1) === 0x7d && !('resultType' in result) && !('_meta' in result) && !('ttlMs' in result) && !('cacheScope' in result) && !('capabilities' in result)) {
    let tail = '"resultType":"complete"';
    if (CACHEABLE.has(method)) tail += ',"ttlMs":0,"cacheScope":"private"';
    const empty = Object.keys(result).length === 0;
    return `{"result":${raw.slice(0, -1)}${empty ? '' : ','}${tail},"_meta":${SERVER_INFO_META}},"jsonrpc":"2.0","id":${JSON.stringify(id)}}\n`;
  }
  return JSON.stringify({ result: encodeModern(method, result), jsonrpc: '2.0', id }) + '\n';
}

/**
 * The 2026 codec's `encodeResult` for the results mcpx writes (deleted fields stripped, resultType
 * stamped, cache fields filled on a cacheable complete result, the server's identity stamped into
 * `_meta`), keeping the key order the SDK's spreads give.
 */
export function encodeModern(method: string, result: Record<string, unknown>): Record<string, unknown> {
  let r = result;
  if (method === 'tools/list' && Array.isArray(r.tools) && r.tools.some((t) => isObject(t) && 'execution' in t)) {
    r = { ...r, tools: r.tools.map((t) => (isObject(t) && 'execution' in t ? without(t, 'execution') : t)) };
  }
  if (isObject(r.capabilities) && 'tasks' in r.capabilities) r = { ...r, capabilities: without(r.capabilities, 'tasks') };
  if (r.resultType === undefined) r = { ...r, resultType: 'complete' };
  if (r.resultType === 'complete' && CACHEABLE.has(method)) {
    const ttlMs = typeof r.ttlMs === 'number' && Number.isSafeInteger(r.ttlMs) && r.ttlMs >= 0 ? r.ttlMs : 0;
    const cacheScope = r.cacheScope === 'public' || r.cacheScope === 'private' ? r.cacheScope : 'private';
    r = { ...r, ttlMs, cacheScope };
  }
  const meta = r._meta;
  if (meta === undefined) return { ...r, _meta: { [SERVER_INFO_KEY]: SERVER_INFO } };
  if (!isObject(meta) || meta[SERVER_INFO_KEY] !== undefined) return r;
  return { ...r, _meta: { ...meta, [SERVER_INFO_KEY]: SERVER_INFO } };
}

/** The error response as the SDK Server writes it (both codecs map -32002 to -32602). */
export function errorLine(id: Id, e: unknown): string {
  const err = (e ?? {}) as { code?: unknown; message?: unknown; data?: unknown };
  const thrown = Number.isSafeInteger(err.code) ? (err.code as number) : -32603;
  const error = { code: thrown === -32002 ? -32602 : thrown, message: (err.message as string | undefined) ?? 'Internal error', ...(err.data !== undefined && { data: err.data }) };
  return JSON.stringify({ jsonrpc: '2.0', id, error }) + '\n';
}

type Request = { params?: Record<string, unknown> };

/** The SDK Server's result for a plain 2025 initialize; undefined for anything it might judge otherwise. */
export function initializeResult(m: Request, instructions: string): object | undefined {
  const p = m.params;
  if (!p || typeof p !== 'object' || typeof p.protocolVersion !== 'string' || !isObject(p.capabilities)) return undefined;
  const info = p.clientInfo as Record<string, unknown> | undefined;
  if (!isObject(info) || typeof info.name !== 'string' || typeof info.version !== 'string') return undefined;
  if (p._meta !== undefined && (!isObject(p._meta) || Object.keys(p._meta).some((k) => k.startsWith(ENVELOPE_PREFIX)))) return undefined;
  const protocolVersion = LEGACY_PROTOCOL_VERSIONS.includes(p.protocolVersion) ? p.protocolVersion : LEGACY_PROTOCOL_VERSIONS[0];
  return { protocolVersion, capabilities: SERVER_CAPABILITIES, serverInfo: SERVER_INFO, ...(instructions && { instructions }) };
}

/**
 * serveStdio's result for a 2026-07-28 server/discover (the Server's discover result through the 2026
 * codec's encode, above), for an envelope that is plainly valid. Anything the SDK's envelope schema
 * might judge otherwise (unknown shapes inside the capabilities, other params) is left to it.
 */
export function discoverResult(m: Request, instructions: string): object | undefined {
  const p = m.params;
  if (!isObject(p) || Object.keys(p).some((k) => k !== '_meta') || !isObject(p._meta) || !plainEnvelope(p._meta)) return undefined;
  return encodeModern('server/discover', { supportedVersions: MODERN_PROTOCOL_VERSIONS, capabilities: SERVER_CAPABILITIES, ...(instructions && { instructions }) });
}

/** An envelope every check of the SDK accepts for sure: a served revision, capabilities and client info of known plain shapes. */
export function plainEnvelope(meta: Record<string, unknown>): boolean {
  for (const k of Object.keys(meta)) {
    if (k === 'progressToken') return false;
    if (k.startsWith(ENVELOPE_PREFIX) && k !== PROTOCOL_VERSION_KEY && k !== CLIENT_INFO_KEY && k !== CLIENT_CAPABILITIES_KEY && k !== LOG_LEVEL_KEY) return false;
  }
  if (!MODERN_PROTOCOL_VERSIONS.includes(meta[PROTOCOL_VERSION_KEY] as string)) return false;
  const info = meta[CLIENT_INFO_KEY];
  if (info !== undefined && !(isObject(info) && Object.keys(info).every((k) => ['name', 'version', 'title'].includes(k)) && typeof info.name === 'string' && typeof info.version === 'string' && (info.title === undefined || typeof info.title === 'string'))) return false;
  if (meta[LOG_LEVEL_KEY] !== undefined && !LOG_LEVELS.includes(meta[LOG_LEVEL_KEY] as string)) return false;
  const caps = meta[CLIENT_CAPABILITIES_KEY];
  if (!isObject(caps)) return false;
  // Each capability an object of objects (experimental, extensions, sampling, elicitation), roots a
  // listChanged flag; an unknown capability is dropped by the SDK's schema, so is accepted.
  for (const [k, v] of Object.entries(caps)) {
    if (!isObject(v)) return false;
    if (k === 'roots' && !Object.entries(v).every(([rk, rv]) => rk === 'listChanged' && typeof rv === 'boolean')) return false;
    if (k !== 'roots' && !Object.values(v).every(isObject)) return false;
    if (k === 'elicitation' && !Object.keys(v).every((ek) => ek === 'form' || ek === 'url')) return false;
    if (k === 'elicitation' && isObject(v.form) && v.form.applyDefaults !== undefined && typeof v.form.applyDefaults !== 'boolean') return false;
  }
  return true;
}

const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];

function without(o: Record<string, unknown>, key: string): Record<string, unknown> {
  const copy = { ...o };
  delete copy[key];
  return copy;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
