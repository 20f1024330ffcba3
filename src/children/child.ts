import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import {
  Client,
  ProtocolError,
  ProtocolErrorCode,
  SdkError,
  SdkErrorCode,
  type DiscoverResult,
  type ClientCapabilities,
  type Implementation,
  type McpSubscription,
  type PriorDiscovery,
  type Prompt,
  type RequestId,
  type RequestOptions,
  type Resource,
  type ResourceTemplateType as ResourceTemplate,
  type ServerCapabilities,
  type StandardSchemaV1,
  type Tool,
  type Transport,
  type AuthProvider,
  SUBSCRIPTION_ID_META_KEY,
  LOG_LEVEL_META_KEY,
} from '@modelcontextprotocol/client';
import type { ServerConfig } from '../config/types.js';
import { McpxError, errorMessage } from '../errors.js';
import { log } from '../util/log.js';
import { credentialDigest, credentialFingerprint, isCredentialName } from './credentials.js';
import { hasSecretCommands, resolveSecretCommands } from './secrets.js';
import { StdioChildTransport } from './stdio.js';
import { liftCacheAdvice } from './advice.js';
import { runInputRounds } from './input.js';
import type { Askers } from './asking.js';
import type { StreamCorrelation } from './streams.js';
import { RAW_METHODS } from './raw.js';
import { isLoginNeeded, loginNeededIn, wantsOAuth } from './oauth/needed.js';
import { signInId } from './oauth/store.js';
import { abortSignal } from '../util/cancel.js';

/** Takes the child's result as it is: no parse, no rebuild (unknown fields inside content blocks stay). */
const Loose: StandardSchemaV1<unknown, Record<string, unknown>> = {
  '~standard': { version: 1, vendor: 'mcpx', validate: (value) => ({ value: value as Record<string, unknown> }) },
};

/** What mcpx found out about a child's protocol era, stored with its catalog so later starts skip the probe. */
export type EraVerdict = ({ kind: 'modern'; discover: DiscoverResult } | { kind: 'legacy' }) & { at: number };


/** What a child offers: its lists, fetched to the end of their pagination, as the child sent them. */
export interface Catalog {
  tools: Tool[];
  prompts: Prompt[];
  resources: Resource[];
  resourceTemplates: ResourceTemplate[];
  /** What its initialize said it is for: stored with the lists, so that mcpx's own initialize need not wait for it. */
  instructions?: string;
  /** The child's era as found out by `protocol: auto` (absent for pinned/legacy settings). */
  era?: EraVerdict;
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
  /**
   * `child`: the asking child's name. `askers`: the upstream requests the question belongs to, when
   * mcpx knows it (a 2026 child's input_required, an HTTP child's request on a call's own stream);
   * without them the bridge routes it only where the owner is not in doubt, else refuses.
   */
  request(method: string, params: unknown, signal: AbortSignal, child?: string, askers?: Askers): Promise<Record<string, unknown>>;
}

/** A request to a child, with the upstream requests it serves (a question it asks belongs to them). */
export type ChildRequestOptions = RequestOptions & { askers?: Askers };

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
  /** The era of the current connection: 2025 (`initialize`) or 2026-07-28 (`server/discover`, stateless). */
  era?: 'legacy' | 'modern';
  /**
   * The era of the current connection, else what is known before it connects: the setting
   * (`legacy`, `2026-07-28`), or with `auto` the verdict stored with the catalog (undefined: none yet).
   */
  get knownEra(): 'legacy' | 'modern' | undefined {
    if (this.era) return this.era;
    if (this.config.protocol === 'legacy') return 'legacy';
    return this.config.protocol === '2026-07-28' ? 'modern' : this.catalog?.era?.kind;
  }
  instructions?: string;
  /** ms from start() to initialize answered, and to the catalog listed. */
  timings: { initializeMs?: number; listMs?: number } = {};
  /** The config with secret commands run (kept in memory only), for the current connection. */
  private resolved?: ServerConfig;
  /** The digest of the credentials of the current connection (memory only), and of the config before the first. */
  private credentials?: Buffer;
  private planned?: Buffer;
  /** The last fingerprint made, for the salt it was made with (one HMAC per connection, not per call). */
  private keyed?: { digest: Buffer; salt: Buffer; fingerprint: string };
  /** The last connect failed because a remote child refused the credentials (HTTP 401/403), or needs a sign-in. */
  authRejected = false;
  /** Set while the child waits for `mcpx login NAME` (its OAuth grant is gone or was never given). */
  loginNeeded = false;
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
  /** A modern child's notification stream (list_changed, resources/updated for `subscribedUris`). */
  private subscription?: McpSubscription;
  /** The URIs the upstream subscribed to at this child: a modern child gets them as its listen filter. */
  private readonly subscribedUris = new Set<string>();

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
      this.catalog = await this.connectAndList(t0);
      this.timings.listMs = performance.now() - t0;
      await this.listen().catch((e) => log.warn(`${this.name}: could not open its notification stream: ${errorMessage(e)}`));
      this.authRejected = false;
      this.loginNeeded = false;
      this.setState({ kind: 'ready', since: Date.now() });
      this.emit('catalog', this.catalog);
    } catch (e) {
      this.authRejected = isAuthFailure(e);
      this.loginNeeded = isLoginNeeded(e);
      // On a probe timeout the SDK closes the transport itself (the child then exits on SIGTERM): the timeout is the news.
      const exit = isTimeout(e) ? undefined : this.exitDescription();
      const reason = exit ? `${exit} during start-up (its stderr is in ${this.logFile})` : describeStartError(e, this.config);
      log.warn(`${this.name}: could not start: ${reason}`);
      await this.closeConnection();
      this.setState({ kind: 'down', since: Date.now(), reason });
    }
  }

  /**
   * The salted fingerprint of the credentials this child's answers depend on (children/credentials.ts):
   * those of the current connection; before the first one, those of the config, unless a command
   * (`${cmd:…}`, headersHelper) has to run to know them: then undefined, and the call is not looked up.
   */
  credentialFingerprint(salt: Buffer): string | undefined {
    const digest = this.credentials ?? (this.planned ??= this.plannedCredentials());
    if (!digest) return undefined;
    if (this.keyed?.digest !== digest || this.keyed.salt !== salt) this.keyed = { digest, salt, fingerprint: credentialFingerprint(digest, salt) };
    return this.keyed.fingerprint;
  }

  private plannedCredentials(): Buffer | undefined {
    if (hasSecretCommands(this.config) || this.config.headersHelper) return undefined;
    return credentialDigest({ config: this.config, inherited: this.deps.env, signIn: this.signIn(this.config) });
  }

  /**
   * Connects and lists the child. With `protocol: auto` a stored era verdict skips the probe; one that
   * turns out wrong (the child was upgraded or downgraded) is dropped and the child probed once more.
   */
  private async connectAndList(t0: number): Promise<Catalog> {
    const prior = this.storedPrior();
    try {
      await this.connectOnce(this.config.transport, prior);
      this.timings.initializeMs = performance.now() - t0;
      return await this.fetchCatalog();
    } catch (e) {
      if (!prior || isTimeout(e) || isAuthFailure(e) || this.stopping) throw e;
      log.info(`${this.name}: its stored protocol era (${prior.kind}) no longer fits (${errorMessage(e)}); probing again`);
      this.verdict = undefined;
      await this.reopen();
      await this.connectOnce(this.config.transport, undefined);
      this.timings.initializeMs = performance.now() - t0;
      return this.fetchCatalog();
    }
  }

  /** The verdict of this connection (auto only), stored with the catalog. */
  private verdict?: EraVerdict;

  /** A verdict stored with the catalog (auto only); a pinned or legacy setting never probes anyway. */
  private storedPrior(): PriorDiscovery | undefined {
    if (this.config.protocol !== 'auto') return undefined;
    const v = this.verdict ?? this.catalog?.era;
    if (!v) return undefined;
    return v.kind === 'modern' ? { kind: 'modern', discover: v.discover } : { kind: 'legacy' };
  }

  /** Closes the connection for another attempt within the same start. */
  private async reopen(): Promise<void> {
    await this.closeConnection();
    this.stopping = false;
  }

  private async connectOnce(kind: ServerConfig['transport'], prior: PriorDiscovery | undefined): Promise<void> {
    this.resolved = hasSecretCommands(this.config) ? await resolveSecretCommands(this.config) : undefined;
    const helperHeaders = kind === 'stdio' ? undefined : await this.helperHeaders();
    this.credentials = credentialDigest({ config: this.resolved ?? this.config, inherited: this.deps.env, helperHeaders, signIn: this.signIn(this.config) });
    const client = this.makeClient();
    const transport = kind === 'stdio' ? this.stdioTransport() : await this.remoteTransport(kind, helperHeaders ?? {});
    this.client = client;
    this.transport = transport;
    transport.onclose = () => this.onTransportClosed(client);
    try {
      await client.connect(transport, { timeout: this.config.startupTimeoutMs, ...(prior && { prior }) });
    } catch (e) {
      if (kind === 'http' && (await import('./remote.js')).shouldFallBackToSse(e)) {
        log.info(`${this.name}: Streamable HTTP refused (${errorMessage(e)}); trying SSE`);
        await client.close().catch(() => undefined);
        return this.connectOnce('sse', prior);
      }
      // rmcp servers (and others) exit on an unknown first method: that is a 2025-era server.
      if (!prior && this.config.protocol === 'auto' && this.exitedDuringProbe(e) && !this.stopping) {
        log.info(`${this.name}: exited on server/discover: a 2025-era server; starting it again as such`);
        await this.reopen();
        return this.connectOnce(kind, { kind: 'legacy' });
      }
      throw e;
    }
    this.serverInfo = client.getServerVersion();
    this.serverCapabilities = client.getServerCapabilities();
    this.instructions = client.getInstructions();
    this.era = client.getProtocolEra();
    this.protocolVersion = client.getNegotiatedProtocolVersion() ?? (transport as { protocolVersion?: string }).protocolVersion ?? this.protocolVersion;
    if (this.config.protocol === 'auto') {
      // A prior that worked keeps its date; a probe gives a new verdict (read now: it is gone after close).
      const discover = client.getDiscoverResult();
      const kept = this.verdict ?? this.catalog?.era;
      this.verdict = prior && kept?.kind === prior.kind ? kept : discover ? { kind: 'modern', discover, at: Date.now() } : { kind: 'legacy', at: Date.now() };
    }
  }

  /** The child died while answering the era probe (not a timeout: a slow start is no verdict). */
  private exitedDuringProbe(e: unknown): boolean {
    return e instanceof SdkError && e.code === SdkErrorCode.EraNegotiationFailed && this.transport instanceof StdioChildTransport && !!this.transport.exitInfo;
  }

  /** Headers printed (as a JSON object) by the entry's `headersHelper` command, run at each connect. */
  private async helperHeaders(): Promise<Record<string, string>> {
    if (!this.config.headersHelper) return {};
    const { runHeadersHelper } = await import('./helper.js');
    return runHeadersHelper(this.config.headersHelper, this.name, this.config.cwd);
  }

  /**
   * The sign-in of a remote child that does not carry its own Authorization (oauth/ owns the tokens).
   */
  private async oauthSession(c: ServerConfig): Promise<AuthProvider | undefined> {
    const { OAuthSession } = await import('./oauth/index.js');
    return wantsOAuth(c) ? new OAuthSession(c, this.deps.stateDir) : undefined;
  }

  /** The id of the OAuth sign-in a remote child would use now (part of its credentials' digest). */
  private signIn(c: ServerConfig): string | undefined {
    return wantsOAuth(c) ? signInId(this.deps.stateDir, c.name, c.url!) : undefined;
  }

  /** New settings for this child (credentials re-read from .env): takes effect at the next connect. */
  reconfigure(config: ServerConfig): void {
    // Other names that count as credentials: what this connection's fingerprint covered is not known any
    // more; a child with no command to run is fingerprinted from the config, the others not until they reconnect.
    if (config.cache.credentialEnv.join('\0') !== this.config.cache.credentialEnv.join('\0')) this.credentials = undefined;
    this.config = config;
    this.planned = undefined;
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

  /** Over Streamable HTTP: which of our requests a child's request came with (its call's askers). */
  private streams?: StreamCorrelation;

  /** HTTP/SSE transports are loaded on first use: most configs have only stdio children. */
  private async remoteTransport(kind: 'http' | 'sse', helperHeaders: Record<string, string>): Promise<Transport> {
    const c = this.resolved ?? this.config;
    const [{ remoteTransport }, { StreamCorrelation }] = await Promise.all([import('./remote.js'), import('./streams.js')]);
    this.streams = kind === 'http' ? new StreamCorrelation() : undefined;
    const t = remoteTransport(kind, c.url!, { ...c.headers, ...helperHeaders }, this.streams, await this.oauthSession(c));
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
    const capabilities: Record<string, object> = {};
    if (up.roots) capabilities.roots = { listChanged: true };
    if (up.elicitation) capabilities.elicitation = up.elicitation; // form/url as the upstream client has them
    if (up.sampling) capabilities.sampling = up.sampling;
    const client = new Client(CLIENT_INFO, { capabilities, versionNegotiation: this.negotiation() });

    // A legacy child's server→client requests; a modern child's come as input_required (input.ts).
    const forward = (method: string) => async (req: { params?: unknown }, ctx: { mcpReq: { id: RequestId; signal: AbortSignal } }) =>
      this.deps.bridge.request(method, req.params, ctx.mcpReq.signal, this.name, this.streams?.askersOf(ctx.mcpReq.id));
    if (capabilities.roots) client.setRequestHandler('roots/list', forward('roots/list') as never);
    if (capabilities.elicitation) client.setRequestHandler('elicitation/create', forward('elicitation/create') as never);
    if (capabilities.sampling) client.setRequestHandler('sampling/createMessage', forward('sampling/createMessage') as never);

    client.fallbackNotificationHandler = async (n) => this.onNotification(n);
    client.onerror = (e) => log.debug(`${this.name}: ${errorMessage(e)}`);
    return client;
  }

  /** How the SDK finds out the era; `auto` probes with the startup timeout (the probe IS the startup wait). */
  private negotiation(): NonNullable<ConstructorParameters<typeof Client>[1]>['versionNegotiation'] {
    switch (this.config.protocol) {
      case 'legacy':
        return { mode: 'legacy' };
      case '2026-07-28':
        return { mode: { pin: '2026-07-28' } };
      default:
        return { mode: 'auto', probe: { timeoutMs: this.config.startupTimeoutMs } };
    }
  }

  /**
   * A modern child sends list_changed and resources/updated only on a `subscriptions/listen` stream:
   * opened after each connect and again when the subscribed URIs change (the new one before the old
   * one closes, so nothing is missed) or when the child ends it unexpectedly.
   */
  private async listen(): Promise<void> {
    const client = this.client;
    const caps = this.serverCapabilities ?? {};
    if (this.era !== 'modern' || !client) return;
    const filter = {
      ...(caps.tools?.listChanged && { toolsListChanged: true }),
      ...(caps.prompts?.listChanged && { promptsListChanged: true }),
      ...(caps.resources?.listChanged && { resourcesListChanged: true }),
      ...(caps.resources?.subscribe && this.subscribedUris.size > 0 && { resourceSubscriptions: [...this.subscribedUris] }),
    };
    if (!Object.keys(filter).length) return;
    const previous = this.subscription;
    const sub = await client.listen(filter);
    this.subscription = sub;
    await previous?.close().catch(() => undefined);
    void sub.closed.then((why) => {
      if (why !== 'remote' || this.subscription !== sub || this.client !== client || this.state.kind !== 'ready') return;
      log.debug(`${this.name}: its notification stream ended; listening again`);
      void this.listen().catch((e) => log.warn(`${this.name}: could not listen again: ${errorMessage(e)}`));
    });
  }

  /** The upstream client's logging level: a modern child has no logging/setLevel, each request carries it. */
  private logLevel?: string;

  private setLogLevel(params: unknown): Record<string, unknown> {
    const level = (params as { level?: unknown } | undefined)?.level;
    if (typeof level !== 'string') throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'logging/setLevel: level is required');
    this.logLevel = level;
    return {};
  }

  /** Params with `_meta["io.modelcontextprotocol/logLevel"]` when a level was set (the SDK keeps a key we set). */
  private withLogLevel(params: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
    if (this.logLevel === undefined) return params;
    return { ...params, _meta: { ...(params?._meta as Record<string, unknown> | undefined), [LOG_LEVEL_META_KEY]: this.logLevel } };
  }

  /** resources/(un)subscribe for a modern child: its listen filter changes instead (there is no such method). */
  private async subscribeModern(method: string, params: unknown): Promise<Record<string, unknown>> {
    const uri = (params as { uri?: unknown } | undefined)?.uri;
    if (typeof uri !== 'string') throw new ProtocolError(ProtocolErrorCode.InvalidParams, `${method}: uri is required`);
    const before = this.subscribedUris.size;
    if (method === 'resources/subscribe') this.subscribedUris.add(uri);
    else this.subscribedUris.delete(uri);
    if (this.subscribedUris.size !== before) await this.listen();
    return {};
  }

  private async onNotification(n: { method: string; params?: Record<string, unknown> }): Promise<void> {
    // The child's stream id is its business, not the upstream client's.
    const meta = n.params?._meta as Record<string, unknown> | undefined;
    if (meta && SUBSCRIPTION_ID_META_KEY in meta) {
      const { [SUBSCRIPTION_ID_META_KEY]: _, ...rest } = meta;
      const { _meta: __, ...params } = n.params!;
      n = { method: n.method, params: Object.keys(rest).length ? { ...params, _meta: rest } : params };
    }
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
    return { tools, prompts, resources, resourceTemplates, instructions: this.instructions, ...(this.verdict && { era: this.verdict }) };
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
        if (e instanceof ProtocolError && e.code === ProtocolErrorCode.MethodNotFound && page === 0) {
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
  async request(method: string, params: unknown, opts: ChildRequestOptions = {}): Promise<Record<string, unknown>> {
    const { askers, ...options } = opts;
    const client = this.client;
    if (!client || (this.state.kind !== 'ready' && this.state.kind !== 'starting')) {
      throw new McpxError(`${this.name} is not running${this.state.kind === 'down' ? `: ${this.state.reason}` : ''}`, {
        code: 'CHILD_DOWN',
        server: this.name,
      });
    }
    if (this.era !== 'modern') {
      // A 2025-era stdio child: the forwarded requests go past the Client (raw.ts), the rest (lists, setLevel) through it.
      const t = this.transport;
      if (t instanceof StdioChildTransport && RAW_METHODS.has(method)) return t.raw.request(method, params, options);
      const tag = this.streams?.tag(askers); // the child's requests on this request's stream are its askers'
      try {
        return await client.request({ method, params: params as Record<string, unknown> }, Loose, { ...options, signal: abortSignal(options.signal), relatedRequestId: tag });
      } finally {
        this.streams?.untag(tag);
      }
    }
    if (method === 'resources/subscribe' || method === 'resources/unsubscribe') return this.subscribeModern(method, params);
    if (method === 'logging/setLevel') return this.setLogLevel(params);
    params = this.withLogLevel(params as Record<string, unknown> | undefined);
    // A modern child asks for input (elicitation, roots, sampling) by answering input_required: each
    // embedded request goes to the upstream client through the same bridge a legacy child's requests use.
    const result = await runInputRounds(
      (p, allowInputRequired) => client.request({ method, params: p }, Loose, { ...options, signal: abortSignal(options.signal), allowInputRequired }),
      (m, p) => this.deps.bridge.request(m, p, options.signal ?? new AbortController().signal, this.name, askers),
      params as Record<string, unknown> | undefined,
    );
    return liftCacheAdvice(result);
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
    this.subscription = undefined; // ends with the connection
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

/** HTTP 401/403 from a remote child: its credentials were refused (or it needs a sign-in). */
export function isAuthFailure(e: unknown): boolean {
  const status = httpStatus(e);
  return status === 401 || status === 403 || (e instanceof Error && e.name === 'UnauthorizedError') || isLoginNeeded(e);
}

/** The HTTP status of a remote transport's failure (v2 SdkHttpError carries it in `status`), if any. */
export function httpStatus(e: unknown): number | undefined {
  const { code, status } = (e ?? {}) as { code?: unknown; status?: unknown };
  return typeof status === 'number' ? status : typeof code === 'number' && code >= 100 && code < 600 ? code : undefined;
}

/** The child did not answer in time (a request, or the era probe): never a verdict about the child. */
export function isTimeout(e: unknown): boolean {
  return e instanceof SdkError && e.code === SdkErrorCode.RequestTimeout;
}

/** "check NOTION_TOKEN": the secret-looking variables the entry uses, for auth error messages. */
export function credentialHint(c: ServerConfig): string {
  if (c.oauth || (c.transport !== 'stdio' && wantsOAuth(c) && !c.variables.length)) return `sign in again: run \`mcpx login ${c.name}\``;
  const secret = c.variables.map((v) => v.name).filter(isCredentialName);
  const names = secret.length ? secret : c.variables.map((v) => v.name);
  return names.length ? `check ${names.join(', ')}` : 'check its headers';
}

function describeStartError(e: unknown, c: ServerConfig): string {
  const login = loginNeededIn(e);
  if (login) return login.message;
  if (isAuthFailure(e)) return `${c.name} rejected the credentials (HTTP ${httpStatus(e) ?? 401}): ${credentialHint(c)}`;
  if (isTimeout(e)) return `no answer to ${/probe/i.test(errorMessage(e)) ? 'server/discover' : 'initialize'} within ${c.startupTimeoutMs} ms`;
  if (e instanceof ProtocolError && e.code === ProtocolErrorCode.UnsupportedProtocolVersion) {
    const supported = (e.data as { supported?: unknown } | undefined)?.supported;
    return `it does not speak the 2025 protocol (it supports ${JSON.stringify(supported)}): set "protocol": "auto" or "2026-07-28" for it`;
  }
  return errorMessage(e);
}
