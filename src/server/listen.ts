import { PROTOCOL_VERSION_META_KEY, type JSONRPCMessage, type MessageExtraInfo, type Transport } from '@modelcontextprotocol/server';
import type { ListKind } from '../runtime/hub.js';

/**
 * What a 2026-07-28 client listens to. serveStdio answers `subscriptions/listen` itself and routes
 * mcpx's notifications onto the open streams, but the filter's resource URIs never reach a handler,
 * and such a client sends no `resources/subscribe`: mcpx learns the URIs here, from the wire, to
 * subscribe the children that own them. It also tells the list handlers whether a client will hear
 * of a change (then a list may be cached for long).
 */
export interface Filter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
  resourceSubscriptions?: string[];
}

const FLAG: Record<ListKind, keyof Filter> = { tools: 'toolsListChanged', prompts: 'promptsListChanged', resources: 'resourcesListChanged' };

export class Listens {
  /** Open streams: by request id over stdio, by an HTTP exchange's own key over HTTP (ids of different clients may be equal). */
  private streams = new Map<unknown, Filter>();
  private uris = new Map<string, number>();
  /** A URI some stream listens to now (first stream) or no more (last one). */
  onSubscription?: (uri: string, subscribed: boolean) => void;

  /** Some open listen stream hears of this list's changes. */
  hears(kind: ListKind): boolean {
    for (const f of this.streams.values()) if (f[FLAG[kind]] === true) return true;
    return false;
  }

  inbound(m: JSONRPCMessage): void {
    if ('method' in m && m.method === 'subscriptions/listen' && 'id' in m) {
      const params = m.params as { notifications?: Filter; _meta?: Record<string, unknown> } | undefined;
      if (params?._meta?.[PROTOCOL_VERSION_META_KEY] === undefined) return; // not a modern request: refused anyway
      this.open(m.id, params.notifications ?? {});
    } else if ('method' in m && m.method === 'notifications/cancelled') {
      this.end((m.params as { requestId?: string | number } | undefined)?.requestId);
    }
  }

  /** The listen request's own response (a result or an error) ends its stream. */
  outbound(m: JSONRPCMessage): void {
    if (!('method' in m) && 'id' in m) this.end(m.id);
  }

  closeAll(): void {
    for (const id of [...this.streams.keys()]) this.end(id);
  }

  /** A listen stream opened with this filter. */
  open(key: unknown, filter: Filter): void {
    this.streams.set(key, filter);
    for (const uri of filter.resourceSubscriptions ?? []) this.count(uri, 1);
  }

  end(key: unknown): void {
    const f = key === undefined ? undefined : this.streams.get(key);
    if (!f) return;
    this.streams.delete(key);
    for (const uri of f.resourceSubscriptions ?? []) this.count(uri, -1);
  }

  private count(uri: string, by: number): void {
    if (typeof uri !== 'string') return;
    const n = (this.uris.get(uri) ?? 0) + by;
    if (n > 0) this.uris.set(uri, n);
    else this.uris.delete(uri);
    if (by > 0 && n === 1) this.onSubscription?.(uri, true);
    if (by < 0 && n === 0) this.onSubscription?.(uri, false);
  }
}

/**
 * The transport an SDK Server gets (serveStdio's, or an HTTP session's or request's): the real one, with
 * `seen` told of every message both ways first. `take` (the forwarded requests' route, forward.ts) may
 * answer an inbound message itself: then the SDK never sees it, unless `take` hands it on later with
 * `deliver`. `drop` keeps an answer
 * already given from going twice (`outbound` still sees it).
 */
export function tapTransport(
  inner: Transport,
  seen: {
    inbound(m: JSONRPCMessage): void;
    outbound(m: JSONRPCMessage): void;
    take?(m: JSONRPCMessage, deliver: () => void, extra?: MessageExtraInfo): boolean;
    /** An outbound message not to send (already answered: first-answer.ts). */
    drop?(m: JSONRPCMessage): boolean;
  },
): Transport {
  let onmessage: Transport['onmessage'];
  return {
    start: () => inner.start(),
    close: () => inner.close(),
    send: (m, o) => {
      const dropped = seen.drop?.(m);
      seen.outbound(m);
      return dropped ? Promise.resolve() : inner.send(m, o);
    },
    get onmessage() {
      return onmessage;
    },
    set onmessage(fn) {
      onmessage = fn;
      inner.onmessage = fn && ((m, extra) => {
        seen.inbound(m);
        if (!seen.take?.(m, () => fn(m, extra), extra)) fn(m, extra);
      });
    },
    get onclose() {
      return inner.onclose;
    },
    set onclose(fn) {
      inner.onclose = fn;
    },
    get onerror() {
      return inner.onerror;
    },
    set onerror(fn) {
      inner.onerror = fn;
    },
  };
}
