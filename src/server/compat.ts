/**
 * The rules that make one answer right for both protocol eras, in one place: what mcpx changes in a
 * child's answer for a 2025 client or a 2026-07-28 one, and how it tells a request that carries 2026
 * material. Every route (the SDK Server's handlers, the fast path, the early answers) takes them from
 * here, never from the SDK's private members. Imports nothing: the early answers load it before the SDK.
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

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
