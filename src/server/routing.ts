import picomatch from 'picomatch';
import { UriTemplate } from '@modelcontextprotocol/sdk/shared/uriTemplate.js';
import type { Prompt, Resource, ResourceTemplate, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Child } from '../children/child.js';
import { log } from '../util/log.js';
import { collisionName, exposedName } from './names.js';

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

export class Routing {
  tools: Tool[] = [];
  prompts: Prompt[] = [];
  resources: Resource[] = [];
  resourceTemplates: ResourceTemplate[] = [];
  readonly toolRoutes = new Map<string, ToolRoute>();
  readonly heldRoutes = new Map<string, HeldRoute>();
  readonly promptRoutes = new Map<string, PromptRoute>();
  private readonly resourceOwners = new Map<string, Child>();
  private templateOwners: { template: UriTemplate; raw: string; child: Child }[] = [];
  private readonly warned = new Set<string>();

  /** Extra tools of mcpx's own (mcpx__status), listed after the children's. */
  constructor(private readonly ownTools: Tool[] = []) {}

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
        try {
          this.templateOwners.push({ template: new UriTemplate(t.uriTemplate), raw: t.uriTemplate, child });
        } catch {
          this.warnOnce(`${child.name}: resource template ${t.uriTemplate} cannot be parsed; reads by it are not routed`);
        }
      }
    }
    this.tools.push(...this.ownTools);
  }

  /** The child that serves a URI: a listed resource first, then the first template that matches. */
  resourceOwner(uri: string): Child | undefined {
    const owner = this.resourceOwners.get(uri);
    if (owner) return owner;
    for (const t of this.templateOwners) if (t.template.match(uri)) return t.child;
    return undefined;
  }

  templateOwner(uriTemplate: string): Child | undefined {
    return this.templateOwners.find((t) => t.raw === uriTemplate)?.child;
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
    if (this.warned.has(msg)) return;
    this.warned.add(msg);
    log[level](msg);
  }
}
