import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import {
  auth,
  extractWWWAuthenticateParams,
  type AuthorizationServerMetadata,
  type OAuthDiscoveryState,
} from '@modelcontextprotocol/client';
import type { ServerConfig } from '../../config/types.js';
import { McpxError, errorMessage } from '../../errors.js';
import { discoverServer } from './discovery.js';
import { withFileLock } from './lock.js';
import { RecordProvider } from './provider.js';
import { OAuthSession } from './session.js';
import { readRecord, recordLock, writeRecord, type OAuthRecord } from './store.js';

/** How long `mcpx login` waits for the browser to come back. */
const WAIT_MS = 5 * 60_000;
/** How long a write of the record waits for a refresh in another process to end. */
const LOCK_WAIT_MS = 30_000;

export interface LoginOptions {
  stateDir: string;
  /** false: print the URL only (`--no-browser`). */
  browser: boolean;
  /** Where the authorization URL (on a line of its own) and the waiting message go. */
  say: (line: string) => void;
  waitMs?: number;
  signal?: AbortSignal;
}

export interface LoginResult {
  server: string;
  grant: 'authorization_code' | 'client_credentials';
  /** The authorization server's issuer. */
  issuer?: string;
  scopes?: string[];
  expiresAt?: string;
  callbackPort?: number;
  registered: 'configured' | 'metadata-document' | 'dynamic' | 'kept';
}

/**
 * `mcpx login NAME`: discovery (RFC 9728 from the 401's header or the well-known paths, then RFC 8414
 * with OpenID fallback), registration when needed, the authorization code flow with PKCE S256, state
 * and resource (RFC 8707), through a loopback redirect on a port kept for this server. The SDK's
 * `auth()` runs each leg; mcpx owns the listener, the browser and the storage.
 */
export async function login(server: ServerConfig, opts: LoginOptions): Promise<LoginResult> {
  const settings = server.oauth;
  if (server.transport === 'stdio' || !server.url) {
    throw new McpxError(`${server.name} is not a remote server: only "type": "http" or "sse" servers sign in`, { code: 'USAGE', server: server.name });
  }
  if (settings?.grant === 'client_credentials') return clientCredentialsLogin(server, opts.stateDir);

  const previous = readRecord(opts.stateDir, server.name);
  const kept = previous?.url === server.url ? previous : undefined;
  const discovery = await discover(server);
  requireS256(server.name, discovery.authorizationServerMetadata);

  const port = settings?.callbackPort ?? kept?.callbackPort;
  const listener = await listen(server.name, port);
  const callbackPort = (listener.address() as { port: number }).port;
  const redirectUrl = `http://127.0.0.1:${callbackPort}/callback`;
  const state = randomBytes(24).toString('base64url');
  const record: OAuthRecord = { server: server.name, url: server.url, callbackPort, client: kept?.client, discovery };
  const registeredBefore = !!record.client;
  let authorizationUrl: URL | undefined;
  const provider = new RecordProvider(record, settings, {
    redirectUrl,
    state,
    onRedirect: (u) => {
      authorizationUrl = u;
    },
  });
  try {
    const callback = waitForCallback(listener, state, opts.waitMs ?? WAIT_MS, opts.signal);
    callback.catch(() => undefined); // awaited below; a failure before that must not be unhandled
    const scope = settings?.scopes.length ? settings.scopes.join(' ') : undefined;
    await auth(provider, { serverUrl: server.url, forceReauthorization: true, ...(scope && { scope }), ...(discovery.resourceMetadataUrl && { resourceMetadataUrl: new URL(discovery.resourceMetadataUrl) }) });
    if (!authorizationUrl) throw new Error('the authorization server gave no authorization URL');
    // The registration and the callback port are kept now: a login cut short reuses them next time. The
    // sign-in on disk stays as it is now, not as it was when this login began: a serve may have refreshed
    // it since, spending the refresh token read then (written back, its next use would revoke the grant).
    await withFileLock(recordLock(opts.stateDir, server.name), LOCK_WAIT_MS, async () => {
      const now = readRecord(opts.stateDir, server.name);
      const current = now?.url === server.url ? now : undefined;
      writeRecord(opts.stateDir, { ...current, ...record, tokens: current?.tokens, expiresAt: current?.expiresAt });
    });
    opts.say(`Sign in to ${server.name} in the browser. If it does not open, visit this URL:`);
    opts.say(authorizationUrl.href);
    if (opts.browser && !openBrowser(authorizationUrl.href)) opts.say('(no browser could be opened: visit the URL above)');
    opts.say(`Waiting for the browser to come back to ${redirectUrl} …`);
    const { code, iss } = await callback;
    await auth(provider, { serverUrl: server.url, authorizationCode: code, ...(iss && { iss }) });
  } catch (e) {
    throw failed(server.name, e);
  } finally {
    listener.close();
    listener.closeAllConnections();
  }
  // Written under the refresh lock: a serve refreshing right now does not overwrite the new sign-in.
  const grantId = randomUUID();
  await withFileLock(recordLock(opts.stateDir, server.name), LOCK_WAIT_MS, async () => {
    writeRecord(opts.stateDir, { ...record, grantId, lostReason: undefined });
  });
  return {
    server: server.name,
    grant: 'authorization_code',
    issuer: discovery.authorizationServerMetadata?.issuer ?? discovery.authorizationServerUrl,
    scopes: record.tokens?.scope?.split(' ').filter(Boolean),
    expiresAt: record.expiresAt === undefined ? undefined : new Date(record.expiresAt).toISOString(),
    callbackPort,
    registered: settings?.clientId ? 'configured' : registeredBefore ? 'kept' : record.client?.client_id === settings?.clientMetadataUrl ? 'metadata-document' : 'dynamic',
  };
}

async function clientCredentialsLogin(server: ServerConfig, stateDir: string): Promise<LoginResult> {
  const session = new OAuthSession(server, stateDir);
  try {
    await session.token();
  } catch (e) {
    throw failed(server.name, e);
  }
  const record = readRecord(stateDir, server.name);
  return {
    server: server.name,
    grant: 'client_credentials',
    issuer: record?.discovery?.authorizationServerMetadata?.issuer,
    scopes: record?.tokens?.scope?.split(' ').filter(Boolean),
    expiresAt: record?.expiresAt === undefined ? undefined : new Date(record.expiresAt).toISOString(),
    registered: 'configured',
  };
}

/** The 401 challenge's `resource_metadata` when it gives one, then discovery.ts. */
async function discover(server: ServerConfig): Promise<OAuthDiscoveryState> {
  let resourceMetadataUrl: URL | undefined;
  try {
    const probe = await fetch(server.url!, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...withoutAuthorization(server.headers) },
      body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'ping' }),
    });
    resourceMetadataUrl = extractWWWAuthenticateParams(probe).resourceMetadataUrl;
    await probe.body?.cancel().catch(() => undefined);
  } catch (e) {
    throw new McpxError(`${server.name}: cannot reach ${server.url}: ${errorMessage(e)}`, { code: 'LOGIN_FAILED', server: server.name });
  }
  try {
    return await discoverServer(server, resourceMetadataUrl);
  } catch (e) {
    throw new McpxError(`${server.name}: OAuth discovery failed: ${errorMessage(e)}`, { code: 'LOGIN_FAILED', server: server.name });
  }
}

function withoutAuthorization(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
}

/** PKCE with S256 only: an authorization server that does not say it supports S256 is refused. */
function requireS256(server: string, metadata: AuthorizationServerMetadata | undefined): void {
  if (!metadata) throw new McpxError(`${server}: the server publishes no authorization server metadata (RFC 8414 or OpenID discovery)`, {
      code: 'LOGIN_FAILED', server, suggestion: 'set oauth.authServerMetadataUrl to the URL of its authorization server metadata',
    });
  if (!metadata.code_challenge_methods_supported?.includes('S256')) {
    throw new McpxError(`${server}: the authorization server ${metadata.issuer} does not advertise PKCE S256 (code_challenge_methods_supported); mcpx does not sign in without it`, {
      code: 'LOGIN_FAILED', server,
    });
  }
}

/** The loopback listener for the redirect, on the kept port (or a free one the first time). */
function listen(server: string, port: number | undefined): Promise<Server> {
  const listener = createServer();
  return new Promise((resolve, reject) => {
    listener.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new McpxError(
          e.code === 'EADDRINUSE'
            ? `${server}: the callback port ${port} is in use (another \`mcpx login\` running?)`
            : `${server}: cannot listen on 127.0.0.1:${port ?? 0}: ${e.message}`,
          { code: 'LOGIN_FAILED', server, suggestion: 'end the other login, or set oauth.callbackPort to a free port' },
        ),
      ),
    );
    listener.listen(port ?? 0, '127.0.0.1', () => resolve(listener));
  });
}

/** The browser's return: the code, once `state` matches; an error the server sent is the login's failure. */
function waitForCallback(listener: Server, state: string, waitMs: number, signal?: AbortSignal): Promise<{ code: string; iss?: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer from the browser within ${Math.round(waitMs / 1000)} s`)), waitMs);
    timer.unref();
    signal?.addEventListener('abort', () => reject(new Error('cancelled')), { once: true });
    listener.on('request', (req, res) => {
      const u = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (u.pathname !== '/callback') return void res.writeHead(404).end();
      const q = u.searchParams;
      const page = (status: number, text: string) =>
        res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(`<!doctype html><title>mcpx</title><p>${escapeHtml(text)}</p>`);
      if (q.get('state') !== state) return void page(400, 'This sign-in link is not the one mcpx is waiting for (state does not match).');
      clearTimeout(timer);
      const error = q.get('error');
      if (error) {
        page(400, `Sign-in failed: ${error}. You can close this tab.`);
        return reject(new Error(`the authorization server answered ${error}${q.get('error_description') ? `: ${q.get('error_description')}` : ''}`));
      }
      const code = q.get('code');
      if (!code) return void page(400, 'No authorization code in the answer.');
      page(200, 'Signed in. You can close this tab and go back to the terminal.');
      resolve({ code, iss: q.get('iss') ?? undefined });
    });
  });
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Opens the URL with the platform's opener; false when there is none (then the printed URL is the way). */
function openBrowser(url: string): boolean {
  const [cmd, args] =
    process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '""', url]] : ['xdg-open', [url]];
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return false;
  try {
    const p = spawn(cmd as string, args as string[], { stdio: 'ignore', detached: true });
    p.on('error', () => undefined);
    p.unref();
    return true;
  } catch {
    return false;
  }
}

function failed(server: string, e: unknown): McpxError {
  if (e instanceof McpxError) return e;
  return new McpxError(`${server}: sign-in failed: ${errorMessage(e)}`, { code: 'LOGIN_FAILED', server });
}
