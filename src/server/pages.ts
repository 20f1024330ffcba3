import { randomUUID } from 'node:crypto';

/**
 * The pages of tool results cut by the output budget (pipeline/budget.ts), kept for the session that
 * got the first page, until `mcpx__more` asks for them. In memory and bounded: past `maxBytes` or
 * `maxResults` the oldest results go first (a later `mcpx__more` for them says so). A handle is a random
 * id, and answers only its owner: the same client (edge) and, on HTTP, the same token's caller.
 */
export interface Owner {
  edge: object;
  caller?: string;
}

interface Held extends Owner {
  pages: string[];
  bytes: number;
}

export class Pages {
  private readonly held = new Map<string, Held>();
  private bytes = 0;

  constructor(
    private readonly maxBytes = 64 * 1024 * 1024,
    private readonly maxResults = 256,
  ) {}

  put(owner: Owner, pages: string[]): string {
    const handle = randomUUID();
    const bytes = pages.reduce((n, p) => n + p.length * 2, 0);
    this.held.set(handle, { ...owner, pages, bytes });
    this.bytes += bytes;
    for (const [h, v] of this.held) {
      if (this.held.size <= 1 || (this.bytes <= this.maxBytes && this.held.size <= this.maxResults)) break;
      this.held.delete(h);
      this.bytes -= v.bytes;
    }
    return handle;
  }

  /** Page `page` (2 onwards; 1 was the cut result itself) and how many there are; undefined: unknown handle, or another owner's. */
  get(owner: Owner, handle: string, page: number): { text?: string; pages: number } | undefined {
    const h = this.held.get(handle);
    if (!h || h.edge !== owner.edge || h.caller !== owner.caller) return undefined;
    return { text: h.pages[page - 2], pages: h.pages.length + 1 };
  }
}
