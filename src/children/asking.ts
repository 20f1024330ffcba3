import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/client';

/**
 * Who a child's question (elicitation, sampling, roots) belongs to, as far as the children's side
 * knows: the upstream requests its call serves. They are server/'s objects, opaque here; the pipeline
 * hands them down with the call (several when identical calls in flight share one child call).
 */
export type Askers = ReadonlySet<object>;

/**
 * A child's question mcpx would not route: the owner is ambiguous, or nobody is there to ask. The
 * child gets it as a JSON-RPC error naming the reason; it is mcpx's decision, never the child's fault.
 */
export class QuestionRefused extends ProtocolError {
  /** A mark, not `instanceof`: the SDK's ProtocolError answers `instanceof` by a brand its subclasses share. */
  readonly questionRefused = true;
  constructor(method: string, reason: string) {
    super(ProtocolErrorCode.InvalidRequest, `${REFUSED} ${method}: ${reason}`);
  }
}

/** How every refusal starts: a 2025 child that fails its call with it passes mcpx's refusal on. */
const REFUSED = 'mcpx did not pass on';

/**
 * mcpx's refusal, or a child's error answer that carries it (the child's call failed because mcpx would
 * not ask anyone): neither is the child's failure.
 */
export function isQuestionRefused(e: unknown): boolean {
  if ((e as { questionRefused?: unknown } | null)?.questionRefused === true) return true;
  return e instanceof ProtocolError && e.message.includes(REFUSED);
}
