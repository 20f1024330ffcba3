import type { CallToolResult } from '@modelcontextprotocol/client';
import type { Child } from '../children/child.js';
import type { PinStore, WaitingTool } from '../cache/pins.js';
import { log } from '../util/log.js';
import type { HeldRoute } from './routing.js';

/**
 * serve's side of pinTools: which tools of a child wait for approval (recorded for every server,
 * withheld only for servers with `pinTools`), and whether an approval was made by another process
 * (`mcpx approve`) since the last look. The store is opened with the cache database, on first use.
 */
export class ToolPins {
  private generation?: number;
  private warned = false;
  private readonly said = new Map<string, string>();

  constructor(private readonly store: () => PinStore | undefined) {}

  /** Records what the child lists now; returns its tools to withhold, by the child's own name. */
  check(child: Child): Map<string, WaitingTool> {
    const tools = child.catalog?.tools;
    const store = this.store();
    if (!tools || !store) {
      if (tools && child.config.pinTools && !this.warned) {
        this.warned = true;
        log.warn(`${child.name}: pinTools is on, but the cache database is not available: its tools are served unchecked`);
      }
      return new Map();
    }
    this.generation ??= store.generation();
    const waiting = store.observe(child.name, tools);
    this.sayOnce(child, waiting);
    return child.config.pinTools ? new Map(waiting.map((w) => [w.tool, w])) : new Map();
  }

  /** One log line per new state of a child's waiting tools, not one per check. */
  private sayOnce(child: Child, waiting: WaitingTool[]): void {
    const what = describeWaiting(waiting);
    if (this.said.get(child.name) === what) return;
    this.said.set(child.name, what);
    if (!waiting.length) return;
    if (child.config.pinTools) log.warn(`${child.name}: tools withheld until \`mcpx approve ${child.name}\`: ${what}`);
    else log.info(`${child.name}: tool definitions differ from the first seen (pinTools off: served as is): ${what}`);
  }

  /** True when an approval was recorded (by any process) since the last look. */
  approvedElsewhere(): boolean {
    const now = this.store()?.generation();
    if (now === undefined || now === this.generation) return false;
    this.generation = now;
    return true;
  }
}

/** "echo changed, extra new" */
export function describeWaiting(waiting: readonly Pick<WaitingTool, 'tool' | 'change'>[]): string {
  return waiting.map((w) => `${w.tool} ${w.change}`).join(', ');
}

/** The answer to a call of a withheld tool: an error result the model can act on, naming the command. */
export function withheldResult(exposed: string, held: HeldRoute): CallToolResult {
  const server = held.child.name;
  const why = held.change === 'new'
    ? `it is a new tool of ${server}, not approved yet`
    : `its description or input schema changed since it was approved`;
  return {
    isError: true,
    content: [{
      type: 'text',
      text: `${exposed} is withheld by mcpx: ${why} (${server} has "pinTools" on). ` +
        `The user can review the change with \`mcpx approve --list\` and accept it with \`mcpx approve ${server} ${held.name}\`.`,
    }],
  };
}
