import { randomUUID } from 'node:crypto';
import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/client';

/** Rounds of input_required a modern child may ask for in one call before mcpx gives up on it. */
export const MAX_INPUT_ROUNDS = 8;

type Params = Record<string, unknown> | undefined;
type Send = (params: Params, allowInputRequired: boolean) => Promise<Record<string, unknown>>;
type Ask = (method: string, params: unknown) => Promise<unknown>;

/**
 * A modern child's request, with its input_required rounds (2026-07-28) answered. Each embedded
 * request (elicitation/create, roots/list, sampling/createMessage) is asked of the upstream client
 * through `ask` (the bridge), then the request is sent again with `inputResponses` and the child's
 * `requestState` echoed untouched. Not the SDK's auto-fulfilment: its handlers cannot tell which
 * upstream call a request belongs to.
 */
export async function runInputRounds(send: Send, ask: Ask, params: Params): Promise<Record<string, unknown>> {
  let next = params;
  for (let round = 0; round < MAX_INPUT_ROUNDS; round++) {
    const r = await send(next, true);
    if (r.resultType !== 'input_required') return r;
    const requests = (r.inputRequests ?? {}) as Record<string, { method: string; params?: Record<string, unknown> }>;
    const inputResponses: Record<string, unknown> = {};
    for (const [key, e] of Object.entries(requests)) inputResponses[key] = await ask(e.method, forLegacyPeer(e.method, e.params));
    next = { ...params, inputResponses, ...(r.requestState !== undefined && { requestState: r.requestState }) };
  }
  throw new ProtocolError(ProtocolErrorCode.InternalError, `the server asked for input more than ${MAX_INPUT_ROUNDS} times in one call`);
}

/** A 2025 client needs an `elicitationId` on URL-mode elicitation; the 2026 form has none. */
function forLegacyPeer(method: string, params: Record<string, unknown> | undefined): unknown {
  if (method === 'elicitation/create' && params?.mode === 'url' && params.elicitationId === undefined) return { ...params, elicitationId: randomUUID() };
  return params;
}
