// OAuth for remote children: `mcpx login` against a strict fake authorization server (PKCE checked,
// exact redirect URI, resource = the MCP URL, short-lived access tokens, single-use refresh tokens
// whose reuse revokes the grant), then serve, doctor, tools and call using the stored tokens. The
// test plays the user: it reads the printed URL and follows it; the fake consents at once.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { CHILD, MCPX, ROOT, startMcpx, tempDir, text, waitFor, writeConfig, type Mcpx } from '../helpers/mcpx.js';

const fakes: ResultPromise[] = [];
const open: Mcpx[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.close()));
  for (const f of fakes.splice(0)) f.kill('SIGTERM');
});

interface Fake {
  base: string;
  url: string;
  stats: () => Promise<Record<string, number>>;
  issued: () => Promise<string[]>;
  admin: (what: 'revoke' | 'expire') => Promise<void>;
}

async function fake(env: Record<string, string> = {}): Promise<Fake> {
  const proc = execa(process.execPath, [join(ROOT, 'test/fixtures/oauth-server.mjs')], { env, buffer: false, reject: false });
  fakes.push(proc);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d));
  const port = await waitFor(() => /PORT=(\d+)/.exec(out)?.[1], 20_000, 'the fake authorization server');
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    url: `${base}/mcp`,
    stats: async () => (await fetch(`${base}/admin/stats`)).json() as Promise<Record<string, number>>,
    issued: async () => (await fetch(`${base}/admin/issued`)).json() as Promise<string[]>,
    admin: async (what) => void (await fetch(`${base}/admin/${what}`, { method: 'POST' })),
  };
}

/** A sandbox: config, state and cache dirs, and the CLI run in it. */
function sandbox(servers: Record<string, unknown>) {
  const dir = tempDir();
  const configFile = writeConfig({ mcpServers: servers }, dir);
  const env = { MCPX_CONFIG: '', NO_COLOR: '1', MCPX_STATE_DIR: join(dir, 'state'), MCPX_CACHE_DIR: join(dir, 'cache') };
  const outputs: string[] = [];
  const cli = async (args: string[], extra: Record<string, string> = {}) => {
    const r = await execa(process.execPath, [MCPX, ...args, '--config', configFile], { cwd: dir, reject: false, env: { ...env, ...extra } });
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  /** `mcpx login NAME --no-browser`, following the printed URL as the user's browser would. */
  const login = async (name: string) => {
    const p = execa(process.execPath, [MCPX, 'login', name, '--no-browser', '--config', configFile], { cwd: dir, reject: false, env });
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err += d));
    const url = await Promise.race([
      waitFor(() => /^(http:\/\/\S+\/authorize\?\S+)$/m.exec(err)?.[1], 20_000, 'the authorization URL'),
      p.then((r) => { throw new Error(`login ended early (${r.exitCode}): ${r.stderr}`); }),
    ]);
    const page = await fetch(url); // the fake consents at once and redirects to mcpx's loopback callback
    if (!page.ok) p.kill('SIGTERM'); // the authorization server refused: the login would wait for the browser
    const r = await p;
    outputs.push(r.stdout, r.stderr);
    return { ...r, page: await page.text(), status: page.status, url };
  };
  const serve = async () => {
    const m = await startMcpx(undefined, { dir });
    open.push(m);
    return m;
  };
  const record = () => JSON.parse(readFileSync(join(dir, 'state', 'oauth', 'remote.json'), 'utf8')) as { tokens?: { access_token: string; refresh_token?: string }; expiresAt?: number; callbackPort?: number; client?: { client_id: string } };
  return { dir, configFile, env, cli, login, serve, record, outputs };
}

/** A port nothing listens on now (taken and given back). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

const whoami = (m: Mcpx) => m.client.callTool({ name: 'remote__whoami', arguments: {} });

describe('mcpx login and serve with OAuth', () => {
  it('signs in (PKCE, state, resource, loopback redirect), stores the tokens 0600, and serve calls with them', async () => {
    const f = await fake({ ACCESS_TTL: '60' });
    const sb = sandbox({ remote: { type: 'http', url: f.url } });
    const r = await sb.login('remote');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.page).toContain('Signed in');
    const url = new URL(r.url);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('resource')).toBe(f.url);
    expect(url.searchParams.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(r.stdout).toContain('signed in to remote');
    expect(statSync(join(sb.dir, 'state', 'oauth', 'remote.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(sb.dir, 'state', 'oauth')).mode & 0o777).toBe(0o700);
    expect((await f.stats()).exchanges).toBe(1);

    const list = await sb.cli(['login', '--list', '--json']);
    expect(JSON.parse(list.stdout).servers).toEqual([expect.objectContaining({ server: 'remote', signedIn: true, scopes: ['read'], grant: 'authorization_code' })]);

    const m = await sb.serve();
    expect(text(await whoami(m))).toMatch(/^signed in/);
    const call = await sb.cli(['call', 'remote__whoami']);
    expect(call.exitCode, call.stderr).toBe(0);

    // A second login keeps the registration and the callback port (the redirect URI stays the registered one).
    const before = sb.record();
    const again = await sb.login('remote');
    expect(again.exitCode, again.stderr).toBe(0);
    expect(sb.record().callbackPort).toBe(before.callbackPort);
    expect(sb.record().client!.client_id).toBe(before.client!.client_id);
    expect((await f.stats()).registrations).toBe(1);
  });

  it('refreshes an expired access token before the call (no 401), and never shows a token anywhere', async () => {
    const f = await fake({ ACCESS_TTL: '2' });
    const sb = sandbox({ remote: { type: 'http', url: f.url } });
    expect((await sb.login('remote')).exitCode).toBe(0);
    const m = await sb.serve();
    expect(text(await whoami(m))).toMatch(/^signed in/);
    const expiresAt = sb.record().expiresAt!;
    await waitFor(() => Date.now() > expiresAt + 100, 10_000, 'the access token to expire');
    const refused = (await f.stats()).unauthorized;
    const r = await m.client.callTool({ name: 'remote__whoami', arguments: { again: 1 } });
    expect(text(r)).toMatch(/^signed in/);
    const s = await f.stats();
    expect(s.refreshes).toBeGreaterThanOrEqual(1);
    expect(s.unauthorized).toBe(refused); // refreshed ahead, not after a refusal
    expect(s.reuses).toBe(0);

    // No token in any output, the status, or any file of the cache directory.
    const status = String(((await m.client.readResource({ uri: 'mcpx://status' })).contents[0] as { text: string }).text);
    await sb.cli(['doctor']);
    await sb.cli(['login', '--list', '--json']);
    await m.close();
    const cacheFiles = readdirSync(join(sb.dir, 'cache')).map((n) => readFileSync(join(sb.dir, 'cache', n)).toString('latin1'));
    const logs = readdirSync(join(sb.dir, 'state')).filter((n) => n.endsWith('.log')).map((n) => readFileSync(join(sb.dir, 'state', n), 'utf8'));
    const everything = [...sb.outputs, m.stderr(), status, ...cacheFiles, ...logs].join('\n');
    const tokens = await f.issued();
    expect(tokens.length).toBeGreaterThanOrEqual(4);
    for (const t of tokens) expect(everything).not.toContain(t);
  });

  it('a process started after the access token ran out (a laptop that slept) refreshes before its first request', async () => {
    const f = await fake({ ACCESS_TTL: '2' });
    const sb = sandbox({ remote: { type: 'http', url: f.url, cache: { enabled: false } } });
    expect((await sb.login('remote')).exitCode).toBe(0);
    const expiresAt = sb.record().expiresAt!;
    await waitFor(() => Date.now() > expiresAt + 100, 10_000, 'the access token to expire');
    const refused = (await f.stats()).unauthorized;
    const call = await sb.cli(['call', 'remote__whoami']);
    expect(call.exitCode, call.stdout + call.stderr).toBe(0);
    const s = await f.stats();
    expect(s.refreshes).toBe(1);
    expect(s.unauthorized).toBe(refused); // the stale token was never sent
  });

  it('eight calls in flight when the token is refused share one refresh', async () => {
    const f = await fake({ ACCESS_TTL: '600', REFRESH_DELAY_MS: '300' });
    const sb = sandbox({ remote: { type: 'http', url: f.url, cache: { enabled: false } } });
    expect((await sb.login('remote')).exitCode).toBe(0);
    const m = await sb.serve();
    expect(text(await whoami(m))).toMatch(/^signed in/);
    await f.admin('expire');
    const all = await Promise.all(Array.from({ length: 8 }, (_, i) => m.client.callTool({ name: 'remote__whoami', arguments: { i } })));
    expect(all.map(text).every((t) => t.startsWith('signed in')), all.map(text).join(' | ')).toBe(true);
    const s = await f.stats();
    expect(s.refreshes).toBe(1);
    expect(s.reuses).toBe(0);
  });

  it('two serve processes refreshing at the same moment use the refresh token once', async () => {
    // Reuse revokes the grant: if both processes refreshed, one call (and the grant) would be lost.
    const f = await fake({ ACCESS_TTL: '600', REFRESH_DELAY_MS: '300' });
    const sb = sandbox({ remote: { type: 'http', url: f.url, cache: { enabled: false } } });
    expect((await sb.login('remote')).exitCode).toBe(0);
    const [a, b] = await Promise.all([sb.serve(), sb.serve()]);
    expect(text(await whoami(a))).toMatch(/^signed in/);
    expect(text(await whoami(b))).toMatch(/^signed in/);
    await f.admin('expire'); // both now hold a refused access token
    const [ra, rb] = await Promise.all([whoami(a), whoami(b)]);
    expect([text(ra), text(rb)].every((t) => t.startsWith('signed in')), `${text(ra)} | ${text(rb)}`).toBe(true);
    const s = await f.stats();
    expect(s.reuses).toBe(0);
    expect(s.refreshes).toBe(1);
    // And after it, both keep working on the one new grant.
    expect(text(await whoami(a))).toMatch(/^signed in/);
    expect(text(await whoami(b))).toMatch(/^signed in/);
  });

  it('a login left unfinished does not put back the tokens a running serve refreshed meanwhile', async () => {
    // The refresh token the login read at its start is spent by serve's refresh: written back, its next use would revoke the grant.
    const f = await fake({ ACCESS_TTL: '600', DISCOVERY_DELAY_MS: '1500' });
    const sb = sandbox({ remote: { type: 'http', url: f.url, cache: { enabled: false } } });
    expect((await sb.login('remote')).exitCode).toBe(0);
    const m = await sb.serve();
    expect(text(await whoami(m))).toMatch(/^signed in/);
    const seen = (await f.stats()).resourceMetadata ?? 0;
    const abandoned = execa(process.execPath, [MCPX, 'login', 'remote', '--no-browser', '--config', sb.configFile], { cwd: sb.dir, reject: false, env: sb.env });
    fakes.push(abandoned);
    let err = '';
    abandoned.stderr!.on('data', (d: Buffer) => (err += d));
    await waitFor(async () => ((await f.stats()).resourceMetadata ?? 0) > seen, 20_000, 'the second login to be in discovery');
    await f.admin('expire');
    expect(text(await whoami(m))).toMatch(/^signed in/); // refreshed while that login waits
    expect((await f.stats()).refreshes).toBe(1);
    await waitFor(() => /\/authorize\?/.test(err), 20_000, 'the authorization URL'); // the login has written its record
    abandoned.kill('SIGTERM'); // the user never opens the URL
    await abandoned;
    await f.admin('expire');
    expect(text(await whoami(m))).toMatch(/^signed in/);
    expect((await f.stats()).reuses).toBe(0);
  });

  it('revocation: the child is "login needed" (calls fail at once naming `mcpx login`, doctor exits 1, status shows it); the others keep working; a new login brings it back', async () => {
    const f = await fake({ ACCESS_TTL: '600' });
    const sb = sandbox({
      remote: { type: 'http', url: f.url, cache: { enabled: false } },
      local: { command: process.execPath, args: [CHILD], env: { NAME: 'local' } },
    });
    expect((await sb.login('remote')).exitCode).toBe(0);
    const m = await sb.serve();
    expect(text(await whoami(m))).toMatch(/^signed in/);
    await f.admin('revoke');
    await f.admin('expire');
    const failed = await whoami(m);
    expect(failed.isError).toBe(true);
    expect(text(failed)).toContain('run `mcpx login remote`');
    const t0 = performance.now();
    const again = await whoami(m);
    expect(text(again)).toContain('run `mcpx login remote`');
    expect(performance.now() - t0).toBeLessThan(2000); // at once: no token to try
    expect(text(await m.client.callTool({ name: 'local__echo', arguments: { text: 'still here' } }))).toContain('still here');
    const status = JSON.parse(String(((await m.client.readResource({ uri: 'mcpx://status' })).contents[0] as { text: string }).text));
    expect(status.servers.remote).toMatchObject({ state: 'down', login: { needed: true, run: 'mcpx login remote' } });
    expect(status.servers.remote.reason).toContain('run `mcpx login remote`');

    const doctor = await sb.cli(['doctor']);
    expect(doctor.exitCode).toBe(1);
    expect(doctor.stdout + doctor.stderr).toContain('run `mcpx login remote`');

    expect((await sb.login('remote')).exitCode).toBe(0);
    expect(text(await whoami(m))).toMatch(/^signed in/); // picked up by the running serve
  });

  it('logout forgets the tokens and revokes them at the server; --list then shows it signed out', async () => {
    const f = await fake({ ACCESS_TTL: '600' });
    const sb = sandbox({ remote: { type: 'http', url: f.url } });
    expect((await sb.login('remote')).exitCode).toBe(0);
    const out = await sb.cli(['logout', 'remote']);
    expect(out.exitCode, out.stderr).toBe(0);
    expect(out.stdout).toContain('signed out of remote (revoked at the server)');
    expect(sb.record().tokens).toBeUndefined();
    expect((await f.stats()).revocations).toBe(1);
    const list = await sb.cli(['login', '--list']);
    expect(list.stdout).toContain('remote  not signed in: run `mcpx login remote`');
    const call = await sb.cli(['call', 'remote__whoami']);
    expect(call.exitCode).not.toBe(0);
    expect(call.stdout + call.stderr).toContain('run `mcpx login remote`');
  });

  it('client credentials: a token at start with no login, again when it runs out; the secret never shown', async () => {
    const secret = `cc-secret-${Math.random().toString(36).slice(2)}`;
    const f = await fake({ ACCESS_TTL: '2', CC_CLIENT: `machine:${secret}` });
    const sb = sandbox({ remote: { type: 'http', url: f.url, cache: { enabled: false }, oauth: { grant: 'client_credentials', clientId: 'machine', clientSecret: '${CC_SECRET}' } } });
    const m = await startMcpx(undefined, { dir: sb.dir, env: { CC_SECRET: secret } });
    open.push(m);
    expect(text(await whoami(m))).toMatch(/^signed in/);
    expect((await f.stats()).clientCredentials).toBe(1);
    const expiresAt = sb.record().expiresAt!;
    await waitFor(() => Date.now() > expiresAt + 100, 10_000, 'the access token to expire');
    expect(text(await whoami(m))).toMatch(/^signed in/);
    expect((await f.stats()).clientCredentials).toBe(2);
    expect(m.stderr()).not.toContain(secret);
    const list = await sb.cli(['login', '--list', '--json'], { CC_SECRET: secret });
    expect(JSON.parse(list.stdout).servers[0]).toMatchObject({ server: 'remote', grant: 'client_credentials', signedIn: true });
    expect(list.stdout).not.toContain(secret);
  });

  it('a server on the older HTTP+SSE transport gets the token on its event stream and its messages', async () => {
    const f = await fake({ ACCESS_TTL: '60', SSE: '1' });
    const sb = sandbox({ remote: { type: 'sse', url: f.url } });
    expect((await sb.login('remote')).exitCode).toBe(0);
    const call = await sb.cli(['call', 'remote__whoami']);
    expect(call.exitCode, call.stdout + call.stderr).toBe(0);
    expect(call.stdout).toContain('signed in');
    expect((await f.stats()).unauthorized).toBe(1); // the login's probe only
  });

  it("a Claude Code entry's oauth block works unchanged: authServerMetadataUrl where discovery finds no metadata, scopes as one string", async () => {
    const f = await fake({ ACCESS_TTL: '60', AS_METADATA_PATH: '/custom/as-metadata' });
    const sb = sandbox({ remote: { type: 'http', url: f.url, oauth: { scopes: 'read', authServerMetadataUrl: `${f.base}/custom/as-metadata` } } });
    const r = await sb.login('remote');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(new URL(r.url).searchParams.get('scope')).toBe('read');
    const call = await sb.cli(['call', 'remote__whoami']);
    expect(call.exitCode, call.stdout + call.stderr).toBe(0);
  });

  it('sends the resource identifier exactly as the server publishes it (a bare origin gets no slash added), in every flow', async () => {
    const f = await fake({ ACCESS_TTL: '2', RESOURCE_ID: 'origin' });
    const sb = sandbox({ remote: { type: 'http', url: f.url, cache: { enabled: false } } });
    const r = await sb.login('remote');
    expect(r.exitCode, r.page).toBe(0);
    expect(new URL(r.url).searchParams.get('resource')).toBe(f.base);
    const m = await sb.serve();
    expect(text(await whoami(m))).toMatch(/^signed in/);
    const expiresAt = sb.record().expiresAt!;
    await waitFor(() => Date.now() > expiresAt + 100, 10_000, 'the access token to expire');
    expect(text(await whoami(m))).toMatch(/^signed in/); // refreshed with the same resource
    expect((await f.stats()).refreshes).toBeGreaterThanOrEqual(1);

    const cc = await fake({ ACCESS_TTL: '60', RESOURCE_ID: 'origin', CC_CLIENT: 'machine:s3cret' });
    const sbc = sandbox({ remote: { type: 'http', url: cc.url, oauth: { grant: 'client_credentials', clientId: 'machine', clientSecret: 's3cret' } } });
    const call = await sbc.cli(['call', 'remote__whoami']);
    expect(call.exitCode, call.stdout + call.stderr).toBe(0);
  });

  it('oauth.resource: false signs in, calls and refreshes with no resource parameter, for servers that refuse it', async () => {
    const f = await fake({ ACCESS_TTL: '2', RESOURCE_REJECTED: '1' });
    const sb = sandbox({ remote: { type: 'http', url: f.url, cache: { enabled: false }, oauth: { resource: false } } });
    const r = await sb.login('remote');
    expect(r.exitCode, r.page).toBe(0);
    expect(new URL(r.url).searchParams.has('resource')).toBe(false);
    const m = await sb.serve();
    expect(text(await whoami(m))).toMatch(/^signed in/);
    const expiresAt = sb.record().expiresAt!;
    await waitFor(() => Date.now() > expiresAt + 100, 10_000, 'the access token to expire');
    expect(text(await whoami(m))).toMatch(/^signed in/);
    expect((await f.stats()).refreshes).toBeGreaterThanOrEqual(1);
  });

  it('a client registered beforehand (oauth.clientId) signs in on its oauth.callbackPort, with no registration', async () => {
    const port = await freePort();
    const f = await fake({ ACCESS_TTL: '60', PRE_CLIENT: `mcpx-pre http://127.0.0.1:${port}/callback` });
    const sb = sandbox({ remote: { type: 'http', url: f.url, oauth: { clientId: 'mcpx-pre', callbackPort: port } } });
    const r = await sb.login('remote');
    expect(r.exitCode, r.page).toBe(0);
    expect(new URL(r.url).searchParams.get('client_id')).toBe('mcpx-pre');
    expect(new URL(r.url).searchParams.get('redirect_uri')).toBe(`http://127.0.0.1:${port}/callback`);
    expect((await f.stats()).registrations).toBe(0);
    const call = await sb.cli(['call', 'remote__whoami']);
    expect(call.exitCode, call.stdout + call.stderr).toBe(0);
  });

  it('refuses an authorization server that does not advertise PKCE S256', async () => {
    const f = await fake({ NO_S256: '1' });
    const sb = sandbox({ remote: { type: 'http', url: f.url } });
    const r = await sb.cli(['login', 'remote', '--no-browser']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('does not advertise PKCE S256');
    expect((await f.stats()).registrations).toBe(0);
  });

  it('a child that answers 401 with a Bearer challenge and was never signed in is "login needed", not a credentials error', async () => {
    for (const env of [{}, { CHALLENGE_ERROR: 'always' }] as Record<string, string>[]) {
      const f = await fake(env);
      const sb = sandbox({ remote: { type: 'http', url: f.url } });
      const doctor = await sb.cli(['doctor']);
      expect(doctor.exitCode).toBe(1);
      expect(doctor.stdout).toContain('remote: sign-in needed: run `mcpx login remote`');
      expect(doctor.stdout).not.toContain('refused the token'); // none was sent
    }
  });
});
