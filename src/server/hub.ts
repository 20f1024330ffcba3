import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { Child, type UpstreamBridge } from '../children/child.js';
import type { Config, ServerConfig } from '../config/types.js';
import { log } from '../util/log.js';
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
  private held = 0;
  private changedWhileHeld = false;
  onListsChanged?: (kinds: ListKind[]) => void;

  constructor(
    config: Config,
    private readonly bridge: UpstreamBridge,
    ownTools: Tool[] = [],
    private readonly env: Record<string, string> = process.env as Record<string, string>,
  ) {
    this.stateDir = config.stateDir;
    this.routing = new Routing(ownTools);
    for (const s of config.servers) this.children.push(this.create(s));
    this.routing.rebuild(this.children);
    this.remember();
  }

  private create(config: ServerConfig): Child {
    const child = new Child(config, { stateDir: this.stateDir, bridge: this.bridge, env: this.env });
    child.on('catalog', () => this.listsMayHaveChanged());
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
    this.held++;
    try {
      return await fn();
    } finally {
      if (--this.held === 0 && this.changedWhileHeld) {
        this.changedWhileHeld = false;
        this.listsMayHaveChanged();
      }
    }
  }

  child(name: string): Child | undefined {
    return this.children.find((c) => c.name === name);
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

  /** Rebuilds the routing now; announces the lists that really changed, debounced. */
  listsMayHaveChanged(): void {
    this.routing.rebuild(this.children);
    if (this.held) {
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

  async stop(): Promise<void> {
    clearTimeout(this.pendingChange);
    await Promise.all(this.children.map((c) => c.stop()));
  }
}
