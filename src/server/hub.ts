import { ErrorCode, McpError, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { Child, type UpstreamBridge } from '../children/child.js';
import type { Config } from '../config/types.js';
import { log } from '../util/log.js';
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

  constructor(config: Config, bridge: UpstreamBridge, ownTools: Tool[] = [], env: Record<string, string> = process.env as Record<string, string>) {
    this.routing = new Routing(ownTools);
    this.children = config.servers.map((s) => new Child(s, { stateDir: config.stateDir, bridge, env }));
    for (const child of this.children) {
      child.on('catalog', () => this.catalogChanged());
      if (child.config.problem) log.error(child.config.problem.message);
    }
    this.routing.rebuild(this.children);
    this.remember();
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
    this.routing.rebuild(this.children);
    this.remember();
  }

  private catalogChanged(): void {
    this.routing.rebuild(this.children);
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
