import type { FetchLike, JSONRPCMessage, RequestId, Transport, TransportSendOptions } from '@modelcontextprotocol/client';
import type { Askers } from './asking.js';

/**
 * Which upstream call a remote (Streamable HTTP) child's question belongs to. The transport sends a
 * server's request that relates to one of ours on that request's own SSE stream (the 2025 spec's
 * "related request"); the SDK Client does not say which stream a message came on, so mcpx watches the
 * streams itself:
 * - `fetch` wraps the transport's fetch: the answer stream of a POST carrying one of our requests is
 *   read as it passes (its bytes unchanged), and each request the child sends on it is noted against ours;
 * - `transport` wraps the transport: a request sent with `relatedRequestId` set to a tag of `tag()`
 *   is noted with the askers of that tag (the tag never reaches the wire);
 * - `askersOf(childRequestId)`: the askers of the call the child's request came with, once.
 * A request on the standalone GET stream relates to none: routed as a stdio child's would be.
 */
export class StreamCorrelation {
  private nextTag = 0;
  private readonly tagged = new Map<number, Askers>();
  private readonly sent = new Map<RequestId, Askers>();
  private readonly cameWith = new Map<RequestId, RequestId>();

  /** A tag for one request's askers, passed as its `relatedRequestId`; `untag` when the request is over. */
  tag(askers: Askers | undefined): number | undefined {
    if (!askers?.size) return undefined;
    const tag = ++this.nextTag;
    this.tagged.set(tag, askers);
    return tag;
  }

  untag(tag: number | undefined): void {
    if (tag !== undefined) this.tagged.delete(tag);
  }

  askersOf(childRequestId: RequestId): Askers | undefined {
    const ours = this.cameWith.get(childRequestId);
    this.cameWith.delete(childRequestId);
    return ours === undefined ? undefined : this.sent.get(ours);
  }

  transport(inner: Transport): Transport {
    const send = inner.send.bind(inner);
    inner.send = (message: JSONRPCMessage, options?: TransportSendOptions) => {
      if ('method' in message && message.method === 'notifications/cancelled') this.sent.delete((message.params as { requestId?: RequestId } | undefined)?.requestId ?? '');
      const tag = options?.relatedRequestId;
      if (typeof tag !== 'number' || !('id' in message) || !('method' in message)) return send(message, options);
      const askers = this.tagged.get(tag);
      if (askers && message.id !== undefined) this.sent.set(message.id, askers);
      return send(message, { ...options, relatedRequestId: undefined });
    };
    let handler: Transport['onmessage'];
    Object.defineProperty(inner, 'onmessage', {
      configurable: true,
      get: () => handler,
      set: (fn: Transport['onmessage']) => {
        handler = fn && ((m, extra) => {
          // Our request answered: nothing more relates to it.
          if (!('method' in m) && 'id' in m && m.id !== null && m.id !== undefined) this.sent.delete(m.id);
          fn(m, extra);
        });
      },
    });
    return inner;
  }

  fetch(inner: FetchLike): FetchLike {
    return async (url, init) => {
      const response = await inner(url, init);
      const ours = init?.method === 'POST' ? requestIdOf(init.body) : undefined;
      if (ours === undefined || !response.body || !response.headers.get('content-type')?.includes('text/event-stream')) return response;
      const noted: RequestId[] = [];
      const events = new SseEvents((data) => {
        const id = childRequestId(data);
        if (id !== undefined) this.cameWith.set(id, ours), noted.push(id);
      });
      const watched = response.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
        transform: (chunk, out) => (events.push(chunk), out.enqueue(chunk)),
        flush: () => void noted.forEach((id) => this.cameWith.delete(id)),
      }));
      return new Response(watched, { status: response.status, statusText: response.statusText, headers: response.headers });
    };
  }
}

/** The id of the one JSON-RPC request a POST body carries (not a batch, not a notification or response). */
function requestIdOf(body: unknown): RequestId | undefined {
  return typeof body === 'string' ? childRequestId(body) : undefined;
}

/** The id of the request in this JSON text, if it is one. Parsed only when it may be one (most events are results). */
function childRequestId(data: string): RequestId | undefined {
  if (!data.includes('"method"') || !data.includes('"id"')) return undefined;
  try {
    const m = JSON.parse(data) as { id?: unknown; method?: unknown };
    return typeof m.method === 'string' && (typeof m.id === 'string' || typeof m.id === 'number') ? m.id : undefined;
  } catch {
    return undefined;
  }
}

/** The `data` of each server-sent event, from chunks as they come (a line or an event split across chunks is whole). */
class SseEvents {
  private readonly decoder = new TextDecoder();
  private line = '';
  private data: string[] = [];

  constructor(private readonly onEvent: (data: string) => void) {}

  push(chunk: Uint8Array): void {
    const text = this.line + this.decoder.decode(chunk, { stream: true });
    const lines = text.split('\n');
    this.line = lines.pop()!;
    for (const raw of lines) {
      const l = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (l === '') {
        if (this.data.length) this.onEvent(this.data.join('\n'));
        this.data = [];
      } else if (l.startsWith('data:')) this.data.push(l.slice(l.startsWith('data: ') ? 6 : 5));
    }
  }
}
