import type { CallToolResult } from '@modelcontextprotocol/client';
import { formatDuration } from '../util/duration.js';

/**
 * What the model reads when mcpx answers instead of the child: a cache hit (marked), a stale copy
 * (marked, with a first line saying so), or a clear error saying who is unavailable, why and when
 * it will be tried again. A full queue is mcpx's refusal, not the child being unavailable: it says so.
 */
export type FailureReason = 'timeout' | 'breaker-open' | 'error' | 'child-down' | 'queue-full' | 'quota';

export interface CacheMark {
  status: 'hit' | 'stale';
  ageMs: number;
  server: string;
  reason?: FailureReason;
}

type Result = Record<string, unknown> & { _meta?: Record<string, unknown> };

/** The stored result with `_meta["mcpx/cache"]` added; everything else as the child sent it. */
export function markCached(result: unknown, mark: CacheMark): Result {
  const r = result as Result;
  return { ...r, _meta: { ...r._meta, 'mcpx/cache': mark } };
}

/**
 * A cached tool result as the model gets it: marked in `_meta`, and, once it is at least `noteAfter`
 * old, with one text item added at the end saying so (Claude Code does not show `_meta` to the model).
 * The child's own content items and structuredContent are left exactly as stored; a younger answer
 * gets the marker only.
 */
export function cachedToolResult(result: unknown, mark: CacheMark, noteAfter: number): Result {
  const r = markCached(result, mark) as CallToolResult;
  if (mark.ageMs < noteAfter) return r;
  return { ...r, content: [...(r.content ?? []), cachedNote(mark)] };
}

/** The text item of an older cached answer: whose answer it is, and how old. */
export function cachedNote(mark: CacheMark): { type: 'text'; text: string } {
  return { type: 'text', text: `[mcpx] Cached answer: ${mark.server} gave it ${formatDuration(mark.ageMs)} ago; it may be out of date.` };
}

/** A stale tool result: the marker, and a first text block saying it is an older copy and why. */
export function staleToolResult(result: unknown, mark: CacheMark, why: string): CallToolResult {
  const r = markCached(result, mark) as CallToolResult;
  const what = mark.reason === 'queue-full' ? why : `${mark.server} is unavailable (${why})`;
  const note = { type: 'text' as const, text: `[mcpx] Cached copy from ${formatDuration(mark.ageMs)} ago: ${what}. It may be out of date.` };
  return { ...r, content: [note, ...(r.content ?? [])] };
}

/** Why a call got no answer from the child, in one sentence. */
export function failureText(server: string, reason: FailureReason, why: string): string {
  return reason === 'queue-full' ? why : `${server} is unavailable: ${why}`;
}

/** The clear error result; `custom` is the entry's `fallback.message`, about the child being unavailable. */
export function unavailableResult(server: string, reason: FailureReason, why: string, custom?: string): CallToolResult {
  const text = custom && reason !== 'queue-full' ? `${custom} (${server}: ${why})` : `${failureText(server, reason, why)}; no cached answer for this call.`;
  return { content: [{ type: 'text', text }], isError: true };
}
