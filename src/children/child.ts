import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CreateMessageRequestSchema,
  ErrorCode,
  McpError,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  ResultSchema,
  type ClientCapabilities,
  type Implementation,
  type Prompt,
  type Resource,
  type ResourceTemplate,
  type ServerCapabilities,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type { ServerConfig } from '../config/types.js';
import { McpxError, errorMessage } from '../errors.js';
import { log } from '../util/log.js';
import { hasSecretCommands, resolveSecretCommands } from './secrets.js';
import { StdioChildTransport } from './stdio.js';

/** What a child offers: its lists, fetched to the end of their pagination, as the child sent them. */
export interface Catalog {
  tools: Tool[];
  prompts: Prompt[];
  resources: Resource[];
  resourceTemplates: ResourceTemplate[];
  /** What its initialize said it is for: stored with the lists, so that mcpx's own initialize need not wait for it. */
  instructions?: string;
}

export type ChildState =
  | { kind: 'idle' } // lazy and not started yet
  | { kind: 'starting'; since: number }
  | { kind: 'ready'; since: number }
  | { kind: 'down'; since: number; reason: string }
  | { kind: 'disabled' }
  | { kind: 'misconfigured'; reason: string };

/** How a child reaches the upstream client (elicitation, roots, sampling). */
export interface UpstreamBridge {
  capabilities(): ClientCapabilities;
  /** `child`: the asking child's name (a 2026 client answers it within a request in flight to that child). */
  request(method: string, params: unknown, signal: AbortSignal, child?: string): Promise<Record<string, unknown>>;
}

export interface ChildEvents {
  state: [ChildState];
  catalog: [Catalog];
  /** notifications the upstream client should see: resources/updated, message (logging) */
  notification: [{ method: string; params?: Record<string, unknown> }];
}

const CLIENT_INFO: Implementation = { name: 'mcpx', version: '0.1.0' };

/**
 * One child server: its connection (spawned stdio process or remote http/sse), its SDK Client,
 * its state and its catalog. Knows nothing of the upstream server except the bridge it is given.
 */
export class Child extends EventEmitter<ChildEvents> {
  state: ChildState;
  catalog?: Catalog;
  serverInfo?: Implementation;
  serverCapabilities?: ServerCapabilities;
  protocolVersion?: string;
  instructions?: string;
  /** ms from start() to initialize answered, and to the catalog listed. */
  timings: { initializeMs?: number; listMs?: number } = {};
  /** The config with secret commands run (kept in memory only), for the current connection. */
  private resolved?: ServerConfig;
  /** The last connect failed because a remote child refused the credentials (HTTP 401/403). */
  authRejected = false;
  /** Counts the connects: a call refused (401) on an older connection needs no new re-authentication. */
  connection = 0;
  private client?: Client;
  private transport?: Transport;
  private starting?: Promise<void>;
  private stopping = false;
  /** Removed from the config: never starts again. */
  private retired = false;
  /** Counts stop() calls: a restart under way does not connect again after one. */
  private stops = 0;

  constructor(
    public config: ServerConfig,
    private readonly deps: { stateDir: string; bridge: UpstreamBridge; env: Record<string, string> },
  ) {
    super();
    this.state = config.problem
      ? { kind: 'misconfigured', reason: config.problem.message }
      : config.disabled
        ? { kind: 'disabled' }
        : { kind: 'idle' };
  }

  get name(): string {
    return this.config.name;
  }

  get junkLines(): number {
    return this.transport instanceof StdioChildTransport ? this.transport.junkLines : 0;
  }

  get pid(): number | undefined {
    return this.transport instanceof StdioChildTransport ? this.transport.pid : undefined;
  }

  /** Starts (once; concurrent callers share the attempt). Never throws: failure is the `down` state. */
  start(): Promise<void> {
    if (!this.canRun) return Promise.resolve();
    if (this.state.kind === 'ready') return Promise.resolve();
    return (this.starting ??= this.track(this.connect()));
  }

  private get canRun(): boolean {
    return !this.retired && this.state.kind !== 'disabled' && this.state.kind !== 'misconfigured';
  }

  /** The attempt in progress, forgotten when it ends (unless a restart has replaced it meanwhile). */
  private track(attempt: Promise<void>): Promise<void> {
    const p: Promise<void> = attempt.finally(() => {
      if (this.starting === p) this.starting = undefined;
    });
    return p;
  }

  private async connect(): Promise<void> {
    const t0 = performance.now();
    this.connection++;
    this.stopping = false;
    this.setState({ kind: 'starting', since: Date.now() });
    try {
      await this.connectOnce(this.config.transport);
      this.timings.initializeMs = performance.now() - t0;
      this.catalog = await this.fetchCatalog();
      this.timings.listMs = performance.now() - t0;
      this.authRejected = false;
      this.setState({ kind: 'ready', since: Date.now() });
      this.emit('catalog', this.catalog);
    } catch (e) {
      this.authRejected = isAuthFailure(e);
      const exit = this.exitDescription();
      const reason = exit ? `${exit} during start-up (its stderr is in ${this.logFile})` : describeStartError(e, this.config);
      log.warn(`${this.name}: could not start: ${reason}`);
      await this.closeConnection();
      this.setState({ kind: 'down', since: Date.now(), reason });
    }
  }

  /** The credential fingerprint of the values the child actually got (after secret commands). */
  get fingerprint(): string {
    return this.resolved?.credentialFingerprint ?? this.config.credentialFingerprint;
  }

  private async connectOnce(kind: ServerConfig['transport']): Promise<void> {
    this.resolved = hasSecretCommands(this.config) ? await resolveSecretCommands(this.config) : undefined;
    const client = this.makeClient();
    const transport = kind === 'stdio' ? this.stdioTransport() : await this.remoteTransport(kind);
    this.client = client;
    this.transport = transport;
    transport.onclose = () => this.onTransportClosed(client);
    try {
      await client.connect(transport, { timeout: this.config.startupTimeoutMs });
    } catch (e) {
      if (kind === 'http' && (await import('./remote.js')).shouldFallBackToSse(e)) {
        log.info(`${this.name}: Streamable HTTP refused (${errorMessage(e)}); trying SSE`);
        await client.close().catch(() => undefined);
        return this.connectOnce('sse');
      }
      throw e;
    }
    this.serverInfo = client.getServerVersion();
    this.serverCapabilities = client.getServerCapabilities();
    this.instructions = client.getInstructions();
    this.protocolVersion = (transport as { protocolVersion?: string }).protocolVersion ?? this.protocolVersion;
  }

  /** Headers printed (as a JSON object) by the entry's `headersHelper` command, run at each connect. */
  private async helperHeaders(): Promise<Record<string, string>> {
    if (!this.config.headersHelper) return {};
    const { runHeadersHelper } = await import('./helper.js');
    return runHeadersHelper(this.config.headersHelper, this.name, this.config.cwd);
  }

  /** New settings for this child (credentials re-read from .env): takes effect at the next connect. */
  reconfigure(config: ServerConfig): void {
    this.config = config;
  }

  /**
   * Disconnects and connects again (new credentials, a changed config entry, `mcpx restart`). The state
   * is `starting` from the first moment, so that a call arriving meanwhile waits for the new connection
   * within its deadline, as it does for a first start, and shares this attempt instead of starting another.
   */
  restart(): Promise<void> {
    if (!this.canRun) return Promise.resolve();
    const previous = this.starting;
    const stops = this.stops;
    this.setState({ kind: 'starting', since: Date.now() });
    return (this.starting = this.track(
      (async () => {
        await this.closeConnection(); // also ends a start still waiting for initialize
        await previous?.catch(() => undefined);
        if (this.stops === stops) await this.connect(); // stopped meanwhile (mcpx exiting): no new process
      })(),
    ));
  }

  /** Stops for good (the server was removed from the config): its process group is gone, it never starts again. */
  async retire(): Promise<void> {
    this.retired = true;
    await this.stop();
    this.setState({ kind: 'down', since: Date.now(), reason: 'removed from the config' });
  }

  private stdioTransport(): Transport {
    const c = this.resolved ?? this.config;
    return new StdioChildTransport({
      server: c.name,
      command: c.command!,
      args: c.args,
      env: { ...this.deps.env, ...c.env },
      cwd: c.cwd,
      logDir: join(this.deps.stateDir, 'logs'),
      maxMessageBytes: c.maxMessageBytes,
    });
  }

  /** HTTP/SSE transports are loaded on first use: most configs have only stdio children. */
  private async remoteTransport(kind: 'http' | 'sse'): Promise<Transport> {
    const c = this.resolved ?? this.config;
    const { remoteTransport } = await import('./remote.js');
    const t = remoteTransport(kind, c.url!, { ...c.headers, ...(await this.helperHeaders()) });
    // Remember the negotiated version (the Client tells HTTP transports through this hook).
    const set = t.setProtocolVersion?.bind(t);
    t.setProtocolVersion = (v: string) => {
      this.protocolVersion = v;
      set?.(v);
    };
    return t;
  }


  /** The SDK Client, declaring to the child only what the upstream client declared. */
  private makeClient(): Client {
    const up = this.deps.bridge.capabilities();
    const capabilities: ClientCapabilities = {};
    if (up.roots) capabilities.roots = { listChanged: true };
    if (up.elicitation) capabilities.elicitation = up.elicitation;
    if (up.sampling) capabilities.sampling = up.sampling;
    const client = new Client(CLIENT_INFO, { capabilities });

    const forward = (method: string) => async (req: { params?: unknown }, extra: { signal: AbortSignal }) =>
      this.deps.bridge.request(method, req.params, extra.signal, this.name);
    if (capabilities.roots) client.setRequestHandler(ListRootsRequestSchema, forward('roots/list') as never);
    if (capabilities.elicitation) client.setRequestHandler(ElicitRequestSchema, forward('elicitation/create') as never);
    if (capabilities.sampling) client.setRequestHandler(CreateMessageRequestSchema, forward('sampling/createMessage') as never);

    client.fallbackNotificationHandler = async (n) => this.onNotification(n);
    client.onerror = (e) => log.debug(`${this.name}: ${errorMessage(e)}`);
    return client;
  }

  private async onNotification(n: { method: string; params?: Record<string, unknown> }): Promise<void> {
    switch (n.method) {
      case 'notifications/tools/list_changed':
      case 'notifications/prompts/list_changed':
      case 'notifications/resources/list_changed':
        await this.refreshCatalog();
        return;
      case 'notifications/resources/updated':
      case 'notifications/message':
        this.emit('notification', n);
        return;
      default:
        log.debug(`${this.name}: notification ${n.method} not forwarded`);
    }
  }

  /** Re-lists the child (after list_changed); emits `catalog` with the new lists. */
  async refreshCatalog(): Promise<void> {
    if (this.state.kind !== 'ready') return;
    try {
      this.catalog = await this.fetchCatalog();
      this.emit('catalog', this.catalog);
    } catch (e) {
      log.warn(`${this.name}: could not re-list after list_changed: ${errorMessage(e)}`);
    }
  }

  private async fetchCatalog(): Promise<Catalog> {
    const caps = this.serverCapabilities ?? {};
    const [tools, prompts, resources, resourceTemplates] = await Promise.all([
      caps.tools ? this.listAll<Tool>('tools/list', 'tools') : [],
      caps.prompts ? this.listAll<Prompt>('prompts/list', 'prompts') : [],
      caps.resources ? this.listAll<Resource>('resources/list', 'resources') : [],
      caps.resources ? this.listAll<ResourceTemplate>('resources/templates/list', 'resourceTemplates') : [],
    ]);
    return { tools, prompts, resources, resourceTemplates, instructions: this.instructions };
  }

  /** Follows nextCursor to the end; items are kept exactly as the child sent them. */
  private async listAll<T>(method: string, key: string): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 1000; page++) {
      let r: Record<string, unknown>;
      try {
        r = await this.request(method, cursor ? { cursor } : {}, { timeout: this.config.startupTimeoutMs });
      } catch (e) {
        // Some servers declare a capability but not every list of it (resources without templates/list).
        if (e instanceof McpError && e.code === ErrorCode.MethodNotFound && page === 0) {
          log.debug(`${this.name}: ${method} not implemented; taken as empty`);
          return items;
        }
        throw e;
      }
      items.push(...((r[key] as T[] | undefined) ?? []));
      cursor = typeof r.nextCursor === 'string' && r.nextCursor ? r.nextCursor : undefined;
      if (!cursor) break;
    }
    return items;
  }

  /** A request to the child; the result is returned as the child sent it (loose schema, no rebuilding). */
  async request(method: string, params: unknown, options: RequestOptions = {}): Promise<Record<string, unknown>> {
    const client = this.client;
    if (!client || (this.state.kind !== 'ready' && this.state.kind !== 'starting')) {
      throw new McpxError(`${this.name} is not running${this.state.kind === 'down' ? `: ${this.state.reason}` : ''}`, {
        code: 'CHILD_DOWN',
        server: this.name,
      });
    }
    return client.request({ method, params: params as Record<string, unknown> }, ResultSchema, options) as Promise<
      Record<string, unknown>
    >;
  }

  async notify(method: string, params?: Record<string, unknown>): Promise<void> {
    if (this.state.kind !== 'ready' || !this.client) return;
    await this.client.notification({ method, params } as never).catch((e) => log.debug(`${this.name}: ${errorMessage(e)}`));
  }

  private onTransportClosed(client: Client): void {
    if (client !== this.client) return; // an older connection
    if (this.stopping || this.state.kind === 'starting') return; // a failed start is reported by connect()
    const reason = this.exitDescription() ?? 'connection closed';
    if (this.state.kind === 'ready') log.warn(`${this.name}: ${reason}`);
    this.client = undefined;
    this.setState({ kind: 'down', since: Date.now(), reason });
  }

  get logFile(): string {
    return join(this.deps.stateDir, 'logs', `${this.name}.log`);
  }

  private exitDescription(): string | undefined {
    const exit = this.transport instanceof StdioChildTransport ? this.transport.exitInfo : undefined;
    if (!exit) return undefined;
    return `exited${exit.code !== null ? ` with code ${exit.code}` : ''}${exit.signal ? ` on ${exit.signal}` : ''}`;
  }

  private setState(s: ChildState): void {
    this.state = s;
    this.emit('state', s);
  }

  private async closeConnection(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.stopping = true;
    await client?.close().catch(() => undefined);
    await this.transport?.close().catch(() => undefined);
  }

  /**
   * Stops the child: stdin closed, then SIGTERM, then SIGKILL to its process group. Resolves true when
   * the process it stopped had to be killed (SIGKILL): it did not stop when asked.
   */
  async stop(): Promise<boolean> {
    this.stops++;
    this.stopping = true;
    const proc = this.transport instanceof StdioChildTransport && !this.transport.exitInfo ? this.transport : undefined;
    await this.closeConnection(); // also ends a start still waiting for initialize
    await this.starting?.catch(() => undefined);
    if (this.state.kind === 'ready' || this.state.kind === 'starting') this.setState({ kind: 'idle' });
    return proc?.exitInfo?.signal === 'SIGKILL';
  }
}

/** HTTP 401/403 from a remote child: its credentials were refused. */
export function isAuthFailure(e: unknown): boolean {
  const code = (e as { code?: unknown } | undefined)?.code;
  return code === 401 || code === 403 || (e instanceof Error && e.name === 'UnauthorizedError');
}

/** "check NOTION_TOKEN": the secret-looking variables the entry uses, for auth error messages. */
export function credentialHint(c: ServerConfig): string {
  const secret = c.variables.map((v) => v.name).filter((n) => /TOKEN|KEY|SECRET|PASS|CREDENTIAL|AUTH/i.test(n));
  const names = secret.length ? secret : c.variables.map((v) => v.name);
  return names.length ? `check ${names.join(', ')}` : 'check its headers';
}

function describeStartError(e: unknown, c: ServerConfig): string {
  if (isAuthFailure(e)) return `${c.name} rejected the credentials (HTTP ${(e as { code?: number }).code ?? 401}): ${credentialHint(c)}`;
  const msg = errorMessage(e);
  if (/Request timed out|RequestTimeout|-32001/.test(msg)) return `no answer to initialize within ${c.startupTimeoutMs} ms`;
  return msg;
}
