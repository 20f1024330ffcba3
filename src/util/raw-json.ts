/**
 * A result object's own JSON text, as a child sent it (set by children/raw.ts for results
 * nothing in mcpx has rebuilt). Whoever needs the JSON of such a result (the upstream answer, the cache
 * entry, the audit's size) takes this text instead of serialising the object again. A result that was
 * changed is a new object, so it has no text here.
 */
export const rawJson = new WeakMap<object, string>();

/** The JSON of a value: the child's own text when known, else JSON.stringify. */
export function jsonOf(value: unknown): string | undefined {
  const raw = typeof value === 'object' && value !== null ? rawJson.get(value) : undefined;
  return raw ?? JSON.stringify(value);
}
