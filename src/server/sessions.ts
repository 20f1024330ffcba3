import type { ClientCapabilities, LoggingLevel } from '@modelcontextprotocol/server';
import type { UpstreamBridge } from '../children/child.js';
import type { ListKind } from '../runtime/hub.js';
import { QuestionRefused, type Askers } from '../children/asking.js';
import { log } from '../util/log.js';
import type { Asker, UpstreamEdge } from './bridge.js';

type Notification = { method: string; params?: Record<string, unknown> };

/**
 * The children's side of every upstream client of one process: one set of children, many edges
 * (stdio: one; HTTP: one per 2025 session, plus one for all 2026-07-28 requests).
 * - A child's request (elicitation, roots, sampling) goes to the client its call belongs to, by
 *   correlation, or to no one (`route`); with no call in flight, to `sole` (stdio's only client).
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

  /**
   * A child's question, to the client it belongs to or to no one: by the upstream requests it serves
   * (`askers`) when known, else to the one client with requests in flight to that child. Two clients
   * (or none, but over stdio) and mcpx cannot tell: the child gets an error naming the reason.
   */
  request(method: string, params: unknown, signal: AbortSignal, child?: string, askers?: Askers): Promise<Record<string, unknown>> {
    const route = this.route(child, askers);
    if (typeof route === 'string') {
      const refused = new QuestionRefused(method, route);
      log.warn(`${child ?? 'a server'}: ${refused.message}`); // the method and why, never the params
      return Promise.reject(refused);
    }
    return route.edge.request(method, params, signal, route.asker);
  }

  /** Where a child's question goes (the client's edge, and the request within which it asks), or why nowhere. */
  route(child: string | undefined, askers?: Askers): { edge: UpstreamEdge; asker?: Asker } | string {
    const known = askers?.size ? ([...askers] as Asker[]) : undefined;
    const candidates = known ?? [...this.edges].flatMap((e) => e.inFlight(child));
    const owner = soleOwner(candidates);
    if (owner) return { edge: owner.edge, asker: owner };
    if (candidates.length) {
      const n = new Set(candidates.map((a) => a.client)).size;
      return known
        ? `the call it belongs to is shared by ${n} clients (identical calls joined in flight), so it has no one owner`
        : `${n} clients have calls in flight to ${child ?? 'this server'} and its request does not say which call it belongs to`;
    }
    if (this.opts.sole) return { edge: this.opts.sole };
    return `no call of any client is in flight to ${child ?? 'this server'}, so there is no one to ask`;
  }

  /**
   * A child's notification. resources/updated: to the clients that subscribed to the URI. A log line
   * (notifications/message): only to the client whose call produced it (the one with calls in flight
   * to that child; over stdio the only client), on that call's stream, at or above the client's level.
   */
  notify(n: Notification, child?: string): void {
    if (n.method === 'notifications/message') return this.log(n, child);
    const uri = n.method === 'notifications/resources/updated' ? n.params?.uri : undefined;
    for (const e of this.edges) {
      if (typeof uri === 'string' && !e.allUpdates && !this.holders.get(uri)?.has(e)) continue;
      e.send(n);
    }
  }

  private log(n: Notification, child: string | undefined): void {
    const route = this.route(child);
    if (typeof route === 'string') return log.debug(`${child ?? 'a server'}: a log message not passed on: ${route}`);
    const { edge, asker } = route;
    if (!atLeast(n.params?.level, edge.logLevel)) return;
    edge.notify(n, asker);
  }

  /**
   * The level children are told (logging/setLevel): the most verbose any client needs, a client that
   * set none counting as all of it, so that each client gets what it asked for and filters the rest.
   * Undefined while no client set one (children send what they send by default).
   */
  logLevel(): LoggingLevel | undefined {
    const edges = [...this.edges].filter((e) => !e.stateless);
    if (!edges.some((e) => e.logLevel)) return undefined;
    return LEVELS[Math.min(...edges.map((e) => LEVELS.indexOf(e.logLevel ?? 'debug')))];
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

/**
 * The routing rule: the requests a question may belong to name one client, or none is the owner. Within
 * that client, the oldest request (a 2025 client's questions come on that request's stream).
 */
export function soleOwner(candidates: readonly Asker[]): Asker | undefined {
  let first: Asker | undefined;
  for (const a of candidates) {
    if (first && a.client !== first.client) return undefined;
    if (!first || a.order < first.order) first = a;
  }
  return first;
}

/** The syslog levels of MCP logging, most verbose first. */
const LEVELS: LoggingLevel[] = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];

/** A message at `level` passes a client that asked for `min` (an unknown level passes: the client judges). */
function atLeast(level: unknown, min: LoggingLevel | undefined): boolean {
  const at = LEVELS.indexOf(level as LoggingLevel);
  return min === undefined || at === -1 || at >= LEVELS.indexOf(min);
}
