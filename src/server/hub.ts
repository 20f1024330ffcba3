import { ErrorCode, McpError, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import type { WaitingTool } from '../cache/pins.js';
import { Child, type UpstreamBridge } from '../children/child.js';
import type { Config } from '../config/types.js';
import { log } from '../util/log.js';
import { withheldResult, type ToolPins } from './pins.js';
import { Routing } from './routing.js';

/**
 * The children of one serve process and the merged view of their catalogs. Emits one debounced
 * "lists changed" callback when a child's catalog really changed.
 */
export type ListKind = 'tools' | 'prompts' | 'resources';

export class Hub {
  readonly children: Child[];
  readonly routing: Routing;
  private lastLists = { tools: '', prompts: '', resources: '' };
  private pendingChange?: NodeJS.Timeout;
  onListsChanged?: (kinds: ListKind[]) => void;
  /** pinTools: set by the runtime once the database is open; until then nothing is withheld. */
  pins?: ToolPins;
  /** Per child, its tools that wait for approval (withheld). */
  private readonly held = new Map<Child, Map<string, WaitingTool>>();

  constructor(config: Config, bridge: UpstreamBridge, ownTools: Tool[] = [], env: Record<string, string> = process.env as Record<string, string>) {
    this.routing = new Routing(ownTools);
    this.children = config.servers.map((s) => new Child(s, { stateDir: config.stateDir, bridge, env }));
    for (const child of this.children) {
      child.on('catalog', () => this.catalogChanged(child));
      if (child.config.problem) log.error(child.config.problem.message);
    }
    this.rebuild();
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
    throw new McpError(ErrorCode.InvalidParams, `Unknown resource: ${uri}: no server lists it, and more than one ${why}: ${names}`);
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
    this.changed();
  }

  private checkPins(child: Child): void {
    if (this.pins && child.catalog) this.held.set(child, this.pins.check(child));
  }

  private build(): void {
    this.routing.rebuild(this.children, (c) => this.held.get(c));
  }

  private catalogChanged(child: Child): void {
    this.checkPins(child);
    this.changed();
  }

  private changed(): void {
    this.build();
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
