import { ProtocolError, ProtocolErrorCode, type CallToolResult, type Tool } from '@modelcontextprotocol/client';
import type { WaitingTool } from '../cache/pins.js';
import { Child, type UpstreamBridge } from '../children/child.js';
import type { Config, ServerConfig } from '../config/types.js';
import { log } from '../util/log.js';
import { withheldResult, type ToolPins } from './pins.js';
import { Routing } from './routing.js';

/**
 * The children of one serve process and the merged view of their catalogs. Emits one debounced
 * "lists changed" callback when a child's catalog really changed. A config reload adds and removes
 * children (add, remove, order); whoever wires children (runtime, upstream) does it in forEachChild.
 */
export type ListKind = 'tools' | 'prompts' | 'resources';

export class Hub {
  /** In config order; the array itself is shared (status reads it), its content changes on a reload. */
  readonly children: Child[] = [];
  readonly routing: Routing;
  private lastLists = { tools: '', prompts: '', resources: '' };
  private pendingChange?: NodeJS.Timeout;
  private readonly stateDir: string;
  private readonly wiring: ((child: Child) => void)[] = [];
  /** While > 0 (a reload being applied), changes rebuild the routing but wait to be announced. */
  private holding = 0;
  private changedWhileHeld = false;
  onListsChanged?: (kinds: ListKind[]) => void;
  /** pinTools: set by the runtime once the database is open; until then nothing is withheld. */
  pins?: ToolPins;
  /** Per child, its tools that wait for approval (withheld). */
  private readonly held = new Map<Child, Map<string, WaitingTool>>();

  constructor(
    config: Config,
    private readonly bridge: UpstreamBridge,
    ownTools: Tool[] = [],
    private readonly env: Record<string, string> = process.env as Record<string, string>,
  ) {
    this.stateDir = config.stateDir;
    this.routing = new Routing(ownTools);
    for (const s of config.servers) this.children.push(this.create(s));
    this.rebuild();
  }

  private create(config: ServerConfig): Child {
    const child = new Child(config, { stateDir: this.stateDir, bridge: this.bridge, env: this.env });
    child.on('catalog', () => this.catalogChanged(child));
    if (child.config.problem) log.error(child.config.problem.message);
    return child;
  }

  /** Calls fn for every child now and for every child added later. */
  forEachChild(fn: (child: Child) => void): void {
    this.children.forEach(fn);
    this.wiring.push(fn);
  }

  /** A child for a new config entry (not started), listed last until order() puts it in place. */
  add(config: ServerConfig): Child {
    const child = this.create(config);
    this.children.push(child);
    for (const fn of this.wiring) fn(child);
    this.listsMayHaveChanged();
    return child;
  }

  /** Takes a child out of the lists and the routing; the caller stops it. */
  remove(child: Child): void {
    const i = this.children.indexOf(child);
    if (i >= 0) this.children.splice(i, 1);
    this.held.delete(child);
    this.listsMayHaveChanged();
  }

  /** Config order: the first configured child keeps an unsuffixed name and wins a shared URI. */
  order(names: readonly string[]): void {
    const rank = new Map(names.map((n, i) => [n, i]));
    this.children.sort((a, b) => (rank.get(a.name) ?? Infinity) - (rank.get(b.name) ?? Infinity));
    this.listsMayHaveChanged();
  }

  /** Runs fn with announcements held back, so that everything it changes reaches the client as one list_changed. */
  async batch<T>(fn: () => Promise<T>): Promise<T> {
    this.holding++;
    try {
      return await fn();
    } finally {
      if (--this.holding === 0 && this.changedWhileHeld) {
        this.changedWhileHeld = false;
        this.listsMayHaveChanged();
      }
    }
  }

  child(name: string): Child | undefined {
    return this.children.find((c) => c.name === name);
  }

  /**
   * The child that serves a URI (reads, subscriptions, completions). Undefined when none could, or
   * when only a guess (scheme, sole owner) names one while a child without a known catalog is still
   * starting: the caller asks again once it has settled. Several candidates → -32602 naming them.
   */
  resourceChild(uri: string): Child | undefined {
    const route = this.routing.resolveResource(uri);
    if (!route) return undefined;
    const guess = route.by === 'scheme' || route.by === 'only-owner';
    if (guess && this.children.some((c) => c.state.kind === 'starting' && !c.catalog)) return undefined;
    if ('child' in route) return route.child;
    const names = route.candidates.map((c) => c.name).join(', ');
    const why = { template: 'has a template matching it', scheme: 'uses its scheme', 'only-owner': 'offers resources' }[route.by];
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown resource: ${uri}: no server lists it, and more than one ${why}: ${names}`);
  }

  /**
   * Starts every eager child, and every lazy child whose tools are not known yet (its tools cannot be
   * listed otherwise); resolves when each has started or failed.
   */
  startInitial(): Promise<void> {
    const first = this.children.filter((c) => c.config.start === 'eager' || !c.catalog);
    return Promise.all(first.map((c) => c.start())).then(() => undefined);
  }

  /** Resolves once no child without a known catalog is starting any more, or after `ms`. */
  async settled(ms: number): Promise<void> {
    const starting = this.children.filter((c) => c.state.kind === 'starting' && !c.catalog).map((c) => c.start());
    if (!starting.length) return;
    await Promise.race([Promise.all(starting), new Promise((r) => setTimeout(r, ms).unref())]);
  }

  /** Rebuilds the merged lists now (after catalogs were set from the database). */
  rebuild(): void {
    this.children.forEach((c) => this.checkPins(c));
    this.build();
    this.remember();
  }

  /** The tools of a child that wait for approval (for mcpx://status). */
  waiting(child: Child): WaitingTool[] {
    return [...(this.held.get(child)?.values() ?? [])];
  }

  /**
   * A call of a withheld tool gets a clear refusal instead of reaching the child. Looks first whether
   * `mcpx approve` ran elsewhere, so that a call right after an approval goes through. Other calls
   * pay one map lookup.
   */
  refusal(name: string): CallToolResult | undefined {
    if (!this.routing.heldRoutes.has(name)) return undefined;
    this.recheckPins();
    // A served tool of the same name (another server, no prefix) is not refused.
    const held = this.routing.toolRoutes.has(name) ? undefined : this.routing.heldRoutes.get(name);
    return held && withheldResult(name, held);
  }

  /** refusal(), for a name not known yet only once the children still starting have listed. */
  async refusalAfterSettling(name: string, settled: () => Promise<void>): Promise<CallToolResult | undefined> {
    if (!this.routing.toolRoutes.has(name) && !this.routing.heldRoutes.has(name)) await settled();
    return this.refusal(name);
  }

  /** After an approval made by another process: checks every child again, and announces what changed. */
  recheckPins(): void {
    if (!this.pins?.approvedElsewhere()) return;
    this.children.forEach((c) => this.checkPins(c));
    this.listsMayHaveChanged();
  }

  private checkPins(child: Child): void {
    if (this.pins && child.catalog) this.held.set(child, this.pins.check(child));
  }

  private build(): void {
    this.routing.rebuild(this.children, (c) => this.held.get(c));
  }

  private catalogChanged(child: Child): void {
    this.checkPins(child);
    this.listsMayHaveChanged();
  }

  /** Rebuilds the routing now; announces the lists that really changed, debounced. */
  listsMayHaveChanged(): void {
    this.build();
    if (this.holding) {
      this.changedWhileHeld = true;
      return;
    }
    clearTimeout(this.pendingChange);
    // A burst of changes (several children starting, a child re-listing) becomes one notification.
    this.pendingChange = setTimeout(() => {
      const changed = this.remember();
      if (changed.length) this.onListsChanged?.(changed);
    }, 50);
    this.pendingChange.unref();
  }

  /** Records the lists as last announced; returns which differ from before. */
  private remember(): ListKind[] {
    const r = this.routing;
    const now = {
      tools: JSON.stringify(r.tools),
      prompts: JSON.stringify(r.prompts),
      resources: JSON.stringify([r.resources, r.resourceTemplates]),
    };
    const changed = (Object.keys(now) as ListKind[]).filter((k) => now[k] !== this.lastLists[k]);
    this.lastLists = now;
    return changed;
  }

  /** Stops every child; resolves with the names of those that had to be killed (SIGKILL). */
  async stop(): Promise<string[]> {
    clearTimeout(this.pendingChange);
    const killed = await Promise.all(this.children.map((c) => c.stop()));
    return this.children.filter((_, i) => killed[i]).map((c) => c.name);
  }

  /** A forced stop: SIGKILL to every running child's process group at once, no waiting. */
  kill(): void {
    for (const c of this.children) {
      if (c.pid === undefined) continue;
      try {
        process.kill(-c.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
