import { instructionsOf } from '../../children/instructions.js';
import type { ToolSearchConfig } from '../../config/types.js';
import type { Routing, ToolRoute } from '../../runtime/routing.js';
import { alwaysMatcher, FoundTools, searchListing, searchOn } from './exposure.js';
import { readOnlyOf, SHIPPED, ToolIndex, type ToolDoc } from './rank.js';

/**
 * Tool search in one serve process: per client, whether it is on and what tools/list holds; the
 * ranking index over the merged catalog (rebuilt when the routing is, i.e. when a catalog changed);
 * per client (one stdio connection, one 2025 HTTP session) the tools found lately.
 */
export interface Asker {
  /** The client's clientInfo.name (2025: from initialize; 2026-07-28: the request's envelope). */
  client?: string;
  /** What identifies one client for the found tools (its edge); none: shared edge, nothing is added. */
  key?: object;
}

/** At most this many found tools are added to one client's list. */
export const FOUND_CAP = 16;
export const DEFAULT_LIMIT = 5;
export const MAX_LIMIT = 20;

interface Doc extends ToolDoc {
  route: ToolRoute;
}

export class ToolSearch {
  private readonly always: (name: string) => boolean;
  private readonly found = new WeakMap<object, FoundTools>();
  private index?: { tools: unknown[]; index: ToolIndex<Doc> };

  constructor(readonly config: ToolSearchConfig) {
    this.always = alwaysMatcher(config);
  }

  on(routing: Routing, who: Asker): boolean {
    return searchOn(this.config, childTools(routing).length, who.client);
  }

  /** tools/list for this client: the routing's own array when search is off (the route, forward.ts, caches its JSON by identity). */
  listing(routing: Routing, who: Asker) {
    if (!this.on(routing, who)) return routing.tools;
    const found = who.key ? this.found.get(who.key)?.set : undefined;
    return searchListing(childTools(routing), routing.own, this.always, found);
  }

  /** The best tools for a query; for a client with search on, they join its list (true: its list changed). */
  find(routing: Routing, query: string, limit: number, who: Asker): { tools: Doc[]; listChanged: boolean } {
    const hits = this.indexOf(routing).search(query, limit).map((h) => h.doc);
    let listChanged = false;
    if (who.key && hits.length && this.on(routing, who)) {
      let f = this.found.get(who.key);
      if (!f) this.found.set(who.key, (f = new FoundTools(FOUND_CAP)));
      listChanged = f.add(hits.filter((d) => !this.always(d.name)).map((d) => d.name));
    }
    return { tools: hits, listChanged };
  }

  /** Names close to an unknown one: the best matches of its words, else those that share its start. */
  closest(routing: Routing, name: string, n = 3): string[] {
    const byWords = this.indexOf(routing).search(name, n).map((h) => h.doc.name);
    if (byWords.length) return byWords;
    const start = name.slice(0, 4).toLowerCase();
    return [...routing.toolRoutes.keys()].filter((k) => k.toLowerCase().includes(start)).slice(0, n);
  }

  private indexOf(routing: Routing): ToolIndex<Doc> {
    if (this.index?.tools !== routing.tools) {
      const docs: Doc[] = [...routing.toolRoutes].map(([name, route]) => ({
        name,
        ownName: route.name,
        title: route.tool.title ?? route.tool.annotations?.title,
        description: route.tool.description,
        inputSchema: route.tool.inputSchema,
        server: route.child.name,
        instructions: instructionsOf(route.child).text,
        readOnly: readOnlyOf(route.tool.annotations),
        route,
      }));
      this.index = { tools: routing.tools, index: new ToolIndex(docs, SHIPPED) };
    }
    return this.index.index;
  }
}

/** The children's tools of the merged list (mcpx's own come last). */
function childTools(routing: Routing) {
  return routing.tools.slice(0, routing.tools.length - routing.own.length);
}
