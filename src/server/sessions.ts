import type { ClientCapabilities } from '@modelcontextprotocol/server';
import type { UpstreamBridge } from '../children/child.js';
import type { ListKind } from '../runtime/hub.js';
import type { UpstreamEdge } from './bridge.js';

type Notification = { method: string; params?: Record<string, unknown> };

/**
 * The children's side of every upstream client of one process: one set of children, many edges
 * (stdio: one; HTTP: one per 2025 session, plus one for all 2026-07-28 requests).
 * - A child's request (elicitation, roots, sampling) goes to the client whose call to that child has
 *   been in flight the longest, never to another one; with none, to `sole` (stdio's only client, as
 *   before sessions) or it fails as a request no client waits on.
 * - list_changed reaches every client; resources/updated the clients that subscribed to the URI.
 * - A URI stays subscribed at its child while some client holds it (`hold`/`release`).
 */
export class Sessions implements UpstreamBridge {
  private readonly edges = new Set<UpstreamEdge>();
  /** Who holds each subscribed URI: edges (resources/subscribe) and the 2026 listen streams. */
  private readonly holders = new Map<string, Set<object>>();

  constructor(
    private readonly opts: {
      /** The only client (stdio): it gets the children's requests even with no call in flight. */
      sole?: UpstreamEdge;
      /** Declared to children on top of what the connected clients declared (HTTP; see http.ts). */
      defaults?: ClientCapabilities;
    } = {},
  ) {
    if (opts.sole) this.edges.add(opts.sole);
  }

  open(edge: UpstreamEdge): UpstreamEdge {
    this.edges.add(edge);
    return edge;
  }

  /** A client is gone: its calls and questions are cancelled; returns the URIs nobody holds any more. */
  close(edge: UpstreamEdge): string[] {
    this.edges.delete(edge);
    edge.close();
    return [...this.holders.keys()].filter((uri) => this.release(edge, uri));
  }

  get size(): number {
    return this.edges.size;
  }

  /**
   * What children are told the client supports: stdio's client's own; over HTTP, the union of the
   * connected clients' and the defaults (children start before any client connects).
   */
  capabilities(): ClientCapabilities {
    if (this.opts.sole) return this.opts.sole.capabilities();
    const out: Record<string, unknown> = { ...this.opts.defaults };
    for (const e of this.edges) {
      for (const [k, v] of Object.entries(e.capabilities())) out[k] = { ...(out[k] as object | undefined), ...(v as object) };
    }
    return out as ClientCapabilities;
  }

  request(method: string, params: unknown, signal: AbortSignal, child?: string): Promise<Record<string, unknown>> {
    let target: UpstreamEdge | undefined;
    let first = Infinity;
    for (const e of this.edges) {
      const order = e.oldest(method, child);
      if (order !== undefined && order < first) (target = e), (first = order);
    }
    target ??= this.opts.sole;
    if (!target) return Promise.reject(new Error(`${method}: no request of a client is waiting on this server`));
    return target.request(method, params, signal, child);
  }

  /** A child's notification: logging to every client, resources/updated to those that subscribed to the URI. */
  notify(n: Notification): void {
    const uri = n.method === 'notifications/resources/updated' ? n.params?.uri : undefined;
    for (const e of this.edges) {
      if (typeof uri === 'string' && !e.allUpdates && !this.holders.get(uri)?.has(e)) continue;
      e.send(n);
    }
  }

  /** The lists changed: every client hears it, but a 2025 client not initialized yet (its first list will be current). */
  listsChanged(kinds: ListKind[]): void {
    for (const e of this.edges) {
      if (e.era === 'legacy' && !e.server?.getClientCapabilities()) continue;
      for (const k of kinds) e.send({ method: `notifications/${k}/list_changed` });
    }
  }

  hold(holder: object, uri: string): void {
    let set = this.holders.get(uri);
    if (!set) this.holders.set(uri, (set = new Set()));
    set.add(holder);
  }

  /** True when nobody holds the URI any more (then its child may be unsubscribed). */
  release(holder: object, uri: string): boolean {
    const set = this.holders.get(uri);
    if (!set?.delete(holder)) return !set?.size;
    if (set.size) return false;
    this.holders.delete(uri);
    return true;
  }
}
