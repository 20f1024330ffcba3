import picomatch from 'picomatch';
import type { Catalog, Child } from '../children/child.js';
import { log } from '../util/log.js';
import { collisionName, exposedName } from './names.js';
import { compileTemplate, type UriMatcher } from './uri-template.js';

// The definitions' types are the children edge's (whichever SDK line it speaks).
type Tool = Catalog['tools'][number];
type Prompt = Catalog['prompts'][number];
type Resource = Catalog['resources'][number];
type ResourceTemplate = Catalog['resourceTemplates'][number];

/**
 * The merged view of every child's catalog, and where each name or URI goes. Rebuilt (cheaply) each
 * time a child's catalog changes; built in config order, so that the first configured child wins
 * a URI and keeps an unsuffixed name.
 */
export interface ToolRoute {
  child: Child;
  name: string; // the child's own name
  tool: Tool;
}
/** A tool waiting for `mcpx approve` (pinTools): not listed, and a call to it is refused. */
export interface HeldRoute {
  child: Child;
  name: string;
  change: 'changed' | 'new';
}
/** Per child, its tools that wait for approval, by the child's own name. */
export type HeldTools = (child: Child) => ReadonlyMap<string, { change: 'changed' | 'new' }> | undefined;
export interface PromptRoute {
  child: Child;
  name: string;
}

/**
 * Who serves a URI: one child (and by which rule), or several that could, none of them sure.
 * Rules, in order: a listed resource; the templates that match it; the children whose listed
 * resources or templates use its scheme; the children that offer resources at all.
 */
export type ResourceRoute =
  | { child: Child; by: 'listed' | 'template' | 'scheme' | 'only-owner' }
  | { candidates: readonly Child[]; by: 'template' | 'scheme' | 'only-owner' };

export class Routing {
  tools: Tool[] = [];
  prompts: Prompt[] = [];
  resources: Resource[] = [];
  resourceTemplates: ResourceTemplate[] = [];
  readonly toolRoutes = new Map<string, ToolRoute>();
  readonly heldRoutes = new Map<string, HeldRoute>();
  readonly promptRoutes = new Map<string, PromptRoute>();
  private readonly resourceOwners = new Map<string, Child>();
  private templateOwners: { match: UriMatcher; raw: string; child: Child }[] = [];
  private readonly schemeOwners = new Map<string, Set<Child>>();
  private children: readonly Child[] = [];
  private readonly warned = new Set<string>();

  /**
   * Extra tools of mcpx's own (mcpx__status), listed after the children's. `quiet`: logs nothing (the
   * stored list's build, server/stored-list.ts, whose mappings and collisions the runtime's build logs anyway).
   */
  constructor(
    readonly own: Tool[] = [],
    private readonly quiet = false,
  ) {}

  rebuild(children: readonly Child[], held?: HeldTools): void {
    this.tools = [];
    this.prompts = [];
    this.resources = [];
    this.resourceTemplates = [];
    this.toolRoutes.clear();
    this.heldRoutes.clear();
    this.promptRoutes.clear();
    this.resourceOwners.clear();
    this.templateOwners = [];
    this.schemeOwners.clear();
    this.children = children;
    const toolOwner = new Map<string, string>();
    const promptOwner = new Map<string, string>();

    for (const child of children) {
      const cat = child.catalog;
      if (!cat) continue;
      const { prefix, tools: filter } = child.config;
      const include = filter.include.length ? picomatch(filter.include) : () => true;
      const exclude = filter.exclude.length ? picomatch(filter.exclude) : () => false;

      const waiting = held?.(child);
      for (const tool of cat.tools) {
        if (!include(tool.name) || exclude(tool.name)) continue;
        const w = waiting?.get(tool.name);
        if (w) {
          this.heldRoutes.set(this.mapped(prefix, tool.name, child.name), { child, name: tool.name, change: w.change });
          continue;
        }
        const name = this.uniqueName(this.mapped(prefix, tool.name, child.name), child.name, toolOwner, 'tool');
        this.toolRoutes.set(name, { child, name: tool.name, tool });
        this.tools.push(name === tool.name ? tool : { ...tool, name });
      }
      for (const prompt of cat.prompts) {
        const name = this.uniqueName(this.mapped(prefix, prompt.name, child.name), child.name, promptOwner, 'prompt');
        this.promptRoutes.set(name, { child, name: prompt.name });
        this.prompts.push(name === prompt.name ? prompt : { ...prompt, name });
      }
      for (const r of cat.resources) {
        this.ownsScheme(r.uri, child);
        const owner = this.resourceOwners.get(r.uri);
        if (owner) {
          this.warnOnce(`resource ${r.uri} is offered by both ${owner.name} and ${child.name}; ${owner.name} (configured first) serves it`);
          continue;
        }
        this.resourceOwners.set(r.uri, child);
        this.resources.push(r);
      }
      for (const t of cat.resourceTemplates) {
        this.resourceTemplates.push(t);
        this.ownsScheme(t.uriTemplate, child);
        const match = compileTemplate(t.uriTemplate);
        if (match) this.templateOwners.push({ match, raw: t.uriTemplate, child });
        else this.once(`${child.name}: resource template ${t.uriTemplate} uses more than {var} and {+var}; its URIs are routed by their scheme`, 'info');
      }
    }
    this.tools.push(...this.own);
  }

  /**
   * Who serves a URI (see ResourceRoute). A listed URI goes to the first configured child that lists
   * it; otherwise the first rule that names anyone decides: one child is routed to, several are
   * returned as candidates (the caller refuses, naming them) rather than one picked at random.
   */
  resolveResource(uri: string): ResourceRoute | undefined {
    const listed = this.resourceOwners.get(uri);
    if (listed) return { child: listed, by: 'listed' };
    const byTemplate = new Set(this.templateOwners.filter((t) => t.match(uri)).map((t) => t.child));
    const byScheme = this.schemeOwners.get(schemeOf(uri) ?? '') ?? new Set<Child>();
    const owners = this.children.filter(offersResources);
    const rules = [['template', [...byTemplate]], ['scheme', [...byScheme]], ['only-owner', owners]] as const;
    for (const [by, found] of rules) {
      if (found.length === 1) return { child: found[0]!, by };
      if (found.length > 1) return { candidates: found, by };
    }
    return undefined;
  }

  templateOwner(uriTemplate: string): Child | undefined {
    return this.templateOwners.find((t) => t.raw === uriTemplate)?.child;
  }

  private ownsScheme(uriOrTemplate: string, child: Child): void {
    const scheme = schemeOf(uriOrTemplate);
    if (!scheme) return;
    const owners = this.schemeOwners.get(scheme) ?? new Set<Child>();
    this.schemeOwners.set(scheme, owners.add(child));
  }

  /** The exposed name; when it is not simply `<prefix>__<name>` (characters replaced, shortened), log the mapping. */
  private mapped(prefix: string, name: string, server: string): string {
    const out = exposedName(prefix, name);
    const plain = prefix ? `${prefix}__${name}` : name;
    if (out !== plain) this.once(`${server}: ${plain} is exposed as ${out}`, 'info');
    return out;
  }

  private uniqueName(name: string, server: string, owners: Map<string, string>, kind: string): string {
    let out = name;
    const first = owners.get(name);
    if (first !== undefined && first !== server) {
      out = collisionName(name, server);
      this.warnOnce(`${kind} name ${name} is offered by both ${first} and ${server}; ${server}'s is named ${out}`);
    }
    owners.set(out, server);
    return out;
  }

  private warnOnce(msg: string): void {
    this.once(msg, 'warn');
  }

  private once(msg: string, level: 'info' | 'warn'): void {
    if (this.quiet || this.warned.has(msg)) return;
    this.warned.add(msg);
    log[level](msg);
  }
}

/** `fixture` of `fixture://a/b`, lower-cased (schemes are case-insensitive); undefined when there is none. */
export function schemeOf(uri: string): string | undefined {
  return /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(uri)?.[1]!.toLowerCase();
}

/**
 * Could this child own URIs it does not list? Yes when it declared the resources capability, or,
 * before it has connected, when its stored catalog lists resources or templates.
 */
function offersResources(child: Child): boolean {
  if (child.state.kind === 'disabled' || child.state.kind === 'misconfigured') return false;
  if (child.serverCapabilities) return !!child.serverCapabilities.resources;
  return !!child.catalog && child.catalog.resources.length + child.catalog.resourceTemplates.length > 0;
}
