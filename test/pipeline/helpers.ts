// In-memory stand-ins for the pipeline's unit tests: a child whose answers the test gives by hand, and a
// result store in a Map. Time is vitest's fake clock (vi.useFakeTimers), never a sleep.
import { createHmac } from 'node:crypto';
import { vi } from 'vitest';
import { SdkError, SdkErrorCode, type Tool } from '@modelcontextprotocol/client';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ChildState } from '../../src/children/child.js';
import { normalizeConfig } from '../../src/config/normalize.js';
import type { ServerConfig } from '../../src/config/types.js';
import type { CachedEntry, Mark, PutEntry, ResultStore } from '../../src/cache/store.js';
import { RecentInvalidations } from '../../src/cache/invalidations.js';
import { Pipeline, type PipelineChild } from '../../src/pipeline/call.js';
import { buildPolicies, type ChildPolicies } from '../../src/pipeline/policies.js';

/** One server entry as a user writes it, normalized as mcpx does. */
export function serverConfig(name: string, entry: Record<string, unknown> = {}): ServerConfig {
  const raw = { mcpServers: { [name]: { command: 'fake-child', ...entry } } };
  return normalizeConfig({ raw, file: '/tmp/mcpx.json', foundBy: 'flag', vars: {}, envFiles: [] }).config.servers[0]!;
}

/** A request the fake child received, answered by the test. */
export interface Received {
  method: string;
  params: Record<string, unknown>;
  signal?: AbortSignal;
  answer(result: Record<string, unknown>): void;
  fail(e: unknown): void;
}

/** A ready child whose requests wait until the test answers them; honours the deadline and cancellation as the SDK does. */
export class FakeChild implements PipelineChild {
  state: ChildState = { kind: 'ready', since: 0 };
  authRejected = false;
  connection = 1;
  /** A 2026 child (`modern`) may advise a cache scope; undefined: not connected yet (it may). */
  era?: 'legacy' | 'modern' = 'legacy';
  /** The era verdict stored with its catalog by an earlier run (`protocol: auto`), known before it connects. */
  storedEra?: 'legacy' | 'modern';
  /** As Child's: the live era, else the setting, else the stored verdict. */
  get knownEra(): 'legacy' | 'modern' | undefined {
    if (this.era) return this.era;
    if (this.config.protocol === 'legacy') return 'legacy';
    return this.config.protocol === '2026-07-28' ? 'modern' : this.storedEra;
  }
  /** Stands for the credentials it runs with (undefined: not known before it connects). */
  credentials: string | undefined = 'credentials-a';
  readonly received: Received[] = [];
  /** Set: every request is answered at once by it (else it waits for the test). */
  auto?: (r: Received) => void;

  constructor(public config: ServerConfig) {}

  get name(): string {
    return this.config.name;
  }

  credentialFingerprint(salt: Buffer): string | undefined {
    return this.credentials && createHmac('sha256', salt).update(this.credentials).digest('hex');
  }

  async start(): Promise<void> {}

  request(method: string, params: unknown, options: RequestOptions = {}): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = options.timeout === undefined ? undefined : setTimeout(() => reject(new SdkError(SdkErrorCode.RequestTimeout, 'Request timed out')), options.timeout);
      const settle = () => clearTimeout(timer);
      options.signal?.addEventListener('abort', () => (settle(), reject(options.signal!.reason)), { once: true });
      const r: Received = {
        method,
        params: params as Record<string, unknown>,
        signal: options.signal,
        answer: (result) => (settle(), resolve(result)),
        fail: (e) => (settle(), reject(e)),
      };
      this.received.push(r);
      this.auto?.(r);
    });
  }
}

export class MemoryStore implements ResultStore {
  readonly entries = new Map<string, CachedEntry>();
  private readonly recent = new RecentInvalidations();
  mark(): Mark {
    return { at: Date.now() };
  }
  get(key: string, now = Date.now()): CachedEntry | undefined {
    const e = this.entries.get(key);
    return e && now < e.expiresAt ? e : undefined;
  }
  getStale(key: string, now = Date.now()): CachedEntry | undefined {
    const e = this.entries.get(key);
    return e && now < e.staleUntil ? e : undefined;
  }
  put(p: PutEntry, now = Date.now()): boolean {
    if (p.since && this.recent.droppedSince(p.since.at, p)) return false;
    this.entries.set(p.key, { key: p.key, server: p.server, tool: p.tool, result: p.result, storedAt: now, expiresAt: now + p.ttlMs, staleUntil: now + p.ttlMs + p.staleTtlMs, bytes: JSON.stringify(p.result).length });
    return true;
  }
  invalidate(): number {
    this.recent.note({}, Date.now());
    const n = this.entries.size;
    this.entries.clear();
    return n;
  }
  prune(): number {
    return 0;
  }
  stats() {
    return { entries: this.entries.size, bytes: 0, servers: [] };
  }
  close(): void {}
}

const tool = (name: string, readOnly: boolean): Tool => ({ name, inputSchema: { type: 'object' }, annotations: { readOnlyHint: readOnly } });

/** A pipeline in front of one fake child with the tools `read` (read-only, cacheable) and `write`. */
export const SALT = Buffer.alloc(32, 7);

export function pipelineWith(child: FakeChild, opts: { store?: ResultStore; keySalt?: () => Buffer | undefined; reauthenticate?: () => Promise<void> } = {}) {
  const policies: ChildPolicies = buildPolicies(child.config);
  const reauths = { count: 0 };
  const pipeline = new Pipeline<FakeChild>({
    router: {
      tool: (name) => (name === 'docs__read' || name === 'docs__write' ? { child, name: name.slice(6), tool: tool(name.slice(6), name === 'docs__read') } : undefined),
      prompt: (name) => (name === 'docs__greet' ? { child, name: 'greet' } : undefined),
      resource: (uri) => (uri.startsWith('docs://') ? child : undefined),
      settled: async () => {},
    },
    policies: () => policies,
    store: () => opts.store,
    keySalt: opts.keySalt ?? (() => SALT),
    childWanted: () => {},
    reauthenticate: async () => {
      reauths.count++;
      await opts.reauthenticate?.();
    },
  });
  return { pipeline, policies, reauths };
}

export const ok = (text: string) => ({ content: [{ type: 'text', text }] });
export const live = () => new AbortController().signal;
export const textOf = (r: unknown) => ((r as { content?: { text?: string }[] }).content ?? []).map((c) => c.text).join('\n');

/** Lets pending promise callbacks run (fake time does not move) until `cond` holds. */
export async function until(cond: () => boolean, what = 'condition'): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (cond()) return;
    await vi.advanceTimersByTimeAsync(0);
  }
  throw new Error(`never happened: ${what}`);
}
