// Config normalisation: Claude Code's `timeout` and `oauth`, and which values may ask for a command.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { normalizeConfig } from '../../src/config/normalize.js';
import { secretValues } from '../../src/config/secrets.js';
import { log } from '../../src/util/log.js';
import { HTTP_LIMITS } from '../../src/config/types.js';

const FILE = '/project/mcpx.json';
const normalize = (servers: Record<string, unknown>, vars: Record<string, string> = {}, defaults?: Record<string, unknown>) =>
  normalizeConfig({ raw: { mcpServers: servers, ...(defaults && { defaults }) }, file: FILE, foundBy: 'flag', vars, envFiles: [] });
const one = (entry: Record<string, unknown>, vars: Record<string, string> = {}) => normalize({ s: { command: 'node', ...entry } }, vars).config.servers[0]!;

afterEach(() => vi.restoreAllMocks());

describe('.mcp.json entries: timeout', () => {
  it('is the per-call deadline in ms (timeoutMs), over defaults.timeoutMs', () => {
    expect(one({ timeout: 5000 }).timeoutMs).toBe(5000);
    expect(normalize({ s: { command: 'node', timeout: 7000 } }, {}, { timeoutMs: '1m' }).config.servers[0]!.timeoutMs).toBe(7000);
    expect(one({}).timeoutMs).toBe(30_000);
  });

  it('loses to timeoutMs on the same entry, and says so in a debug line', () => {
    const debug = vi.spyOn(log, 'debug').mockImplementation(() => undefined);
    expect(one({ timeout: 5000, timeoutMs: '2s' }).timeoutMs).toBe(2000);
    expect(debug).toHaveBeenCalledWith(`${FILE}: server "s": both "timeout" (5000 ms) and "timeoutMs" are set; "timeoutMs" wins`);
  });

  it('a bad value is a config error naming the server and the field', () => {
    expect(() => one({ timeout: 'soon' })).toThrow(`${FILE}: server "s", field "timeout": must be a duration`);
  });
});

describe('.mcp.json entries: oauth', () => {
  const remote = (oauth: unknown, vars: Record<string, string> = {}) => normalize({ notion: { url: 'https://example.com/mcp', oauth } }, vars);

  it('is read, with defaults, and no longer warned about', () => {
    const { warnings, config } = remote({ clientId: 'x', scopes: ['read'] });
    expect(warnings).toEqual([]);
    expect(config.servers[0]!.oauth).toEqual({ clientId: 'x', clientSecret: undefined, scopes: ['read'], grant: 'authorization_code', callbackPort: undefined, resource: true, clientMetadataUrl: undefined, authServerMetadataUrl: undefined });
    expect(remote({}).config.servers[0]!.oauth).toMatchObject({ grant: 'authorization_code', scopes: [], resource: true });
  });

  it('clientSecret takes ${VAR} and ${cmd:…} like every secret, and is registered as a secret', () => {
    const s = remote({ clientId: 'id', clientSecret: '${SECRET}', grant: 'client_credentials' }, { SECRET: 's3cret-value' }).config.servers[0]!;
    expect(s.oauth!.clientSecret).toBe('s3cret-value');
    expect(secretValues({ servers: [s] }, {})).toContain('s3cret-value');
    const c = remote({ clientId: 'id', clientSecret: '${cmd:op read x}', grant: 'client_credentials' }).config.servers[0]!;
    expect(c.secretCommands).toEqual([{ field: 'oauth', key: 'clientSecret', parts: [{ run: 'cmd', command: 'op read x', text: '${cmd:op read x}' }] }]);
  });

  it("takes Claude Code's own keys as it writes them: scopes as one space-separated string, authServerMetadataUrl", () => {
    const s = remote({ clientId: 'x', callbackPort: 8080, scopes: 'read:page  write:page', authServerMetadataUrl: 'https://auth.example.com/.well-known/openid-configuration' }).config.servers[0]!;
    expect(s.oauth).toMatchObject({ scopes: ['read:page', 'write:page'], callbackPort: 8080, authServerMetadataUrl: 'https://auth.example.com/.well-known/openid-configuration' });
    expect(remote({ authServerMetadataUrl: 'http://127.0.0.1:9000/meta' }).config.servers[0]!.oauth!.authServerMetadataUrl).toBe('http://127.0.0.1:9000/meta');
    expect(() => remote({ authServerMetadataUrl: 'http://auth.example.com/meta' })).toThrow('field "oauth.authServerMetadataUrl": must be an https URL');
    expect(() => remote({ scopes: 3 })).toThrow('field "oauth.scopes": must be a list of strings or one space-separated string');
  });

  it('a bad block is a config error naming the server and the field', () => {
    expect(() => remote({ grant: 'password' })).toThrow(`${FILE}: server "notion", field "oauth.grant": must be "authorization_code" or "client_credentials"`);
    expect(() => remote({ grant: 'client_credentials', clientId: 'x' })).toThrow(`${FILE}: server "notion", field "oauth": "grant": "client_credentials" needs "clientId" and "clientSecret"`);
    expect(() => remote({ callbackPort: 70000 })).toThrow('field "oauth.callbackPort": must be a port number');
    expect(() => remote({ resource: 'no' })).toThrow('field "oauth.resource": must be true or false');
    expect(() => remote({ scope: 'read' })).toThrow('field "oauth": unknown key "scope"');
    expect(() => normalize({ s: { command: 'node', oauth: {} } })).toThrow(`${FILE}: server "s", field "oauth": is only for remote servers`);
  });
});

describe('values are data', () => {
  it('a variable holding ${sh:…}, ${cmd:…} or ${VAR} is copied in as text and asks for no command', () => {
    const value = '${sh:touch /tmp/pwned} ${cmd:curl evil} ${HOME} $$ $&';
    const s = one({ args: ['--x=${V}'], env: { A: '${V}' }, headers: { H: '${V}' } }, { V: value, HOME: '/home/u' });
    expect(s.env.A).toBe(value);
    expect(s.args).toEqual([`--x=${value}`]);
    expect(s.headers.H).toBe(value);
    expect(s.secretCommands).toEqual([]);
  });

  it('a ${cmd:…} written in the config file is a secret command, in env, headers and args; the rest of the value is kept as parts', () => {
    const s = one({ env: { T: 'x-${V}-${cmd:op read a}' }, headers: { Authorization: 'Bearer ${sh:pass show b}' }, args: ['${cmd:op read a}'] }, { V: '$&' });
    expect(s.env.T).toBe('x-$&-${cmd:op read a}');
    expect(s.secretCommands).toEqual([
      { field: 'args', key: '0', parts: [{ run: 'cmd', command: 'op read a', text: '${cmd:op read a}' }] },
      { field: 'env', key: 'T', parts: ['x-$&-', { run: 'cmd', command: 'op read a', text: '${cmd:op read a}' }] },
      { field: 'headers', key: 'Authorization', parts: ['Bearer ', { run: 'sh', command: 'pass show b', text: '${sh:pass show b}' }] },
    ]);
  });
});

describe('protocol', () => {
  it('is "auto" by default, takes "legacy" and "2026-07-28", and names the field for anything else', () => {
    expect(one({}).protocol).toBe('auto');
    expect(one({ protocol: 'legacy' }).protocol).toBe('legacy');
    expect(one({ protocol: '2026-07-28' }).protocol).toBe('2026-07-28');
    expect(() => one({ protocol: '2025-06-18' })).toThrow(`${FILE}: server "s", field "protocol": must be one of "auto", "legacy", "2026-07-28", got "2025-06-18"`);
  });
});

describe('cache.ttlExplicit: whether a child\'s ttlMs advice may set the TTL', () => {
  it('is true only when the entry or the defaults set cache.ttl', () => {
    expect(one({}).cache.ttlExplicit).toBe(false);
    expect(one({ cache: { ttl: '5m' } }).cache.ttlExplicit).toBe(true);
    expect(one({ cache: { staleTtl: '5m' } }).cache.ttlExplicit).toBe(false);
    expect(normalize({ s: { command: 'node' } }, {}, { cache: { ttl: '1m' } }).config.servers[0]!.cache.ttlExplicit).toBe(true);
  });
});

describe('http (serve --http)', () => {
  const http = (block: unknown, vars: Record<string, string> = {}) =>
    normalizeConfig({ raw: { mcpServers: {}, http: block }, file: FILE, foundBy: 'flag', vars, envFiles: [] }).config.http;

  it('takes tokens as a list (named token1, token2, …) or a map of caller name to token, ${VAR} expanded', () => {
    expect(http({ tokens: ['${T}', 'literal-token'] }, { T: 'from-env' }).tokens).toEqual([{ name: 'token1', token: 'from-env' }, { name: 'token2', token: 'literal-token' }]);
    expect(http({ host: '0.0.0.0', port: 9000, tokens: { alice: '${A}' } }, { A: 'a-token' })).toEqual({ host: '0.0.0.0', port: 9000, tokens: [{ name: 'alice', token: 'a-token' }], limits: HTTP_LIMITS });
    expect(http(undefined)).toEqual({ tokens: [], limits: HTTP_LIMITS });
  });

  it('limits per caller: the defaults, each one settable, a size with its unit; a wrong one names the field', () => {
    expect(HTTP_LIMITS).toEqual({ sessions: 32, listenUris: 256, requestBytes: 4 * 1024 * 1024 });
    expect(http({ limits: { sessions: 4, requestBytes: '64KB' } }).limits).toEqual({ sessions: 4, listenUris: 256, requestBytes: 65_536 });
    expect(() => http({ limits: { sessions: 0 } })).toThrow(`${FILE}: field "http.limits.sessions"`);
    expect(() => http({ limits: { streams: 1 } })).toThrow('unknown key "streams"');
  });

  it('every token is a secret (masked in logs, errors, status and audit)', () => {
    const tokens = http({ tokens: { alice: 'alice-literal-token', bob: '${B}' } }, { B: 'bob-env-token' }).tokens;
    expect(secretValues({ servers: [], http: { tokens } }, {})).toEqual(['alice-literal-token', 'bob-env-token']);
  });

  it('a token variable not set is a problem for serve --http only; a wrong shape is an error naming the field, never the value', () => {
    const h = http({ tokens: { alice: '${NOPE}' } });
    expect(h.tokens).toEqual([]);
    expect(h.problem?.message).toBe(`${FILE}: field "http.tokens.alice": variable NOPE is not set`);
    expect(() => http({ tokens: ['${E}'] }, { E: ' ' })).toThrow(`${FILE}: field "http.tokens[0]": is empty`);
    expect(() => http({ tokens: 'abc' })).toThrow(`${FILE}: field "http.tokens": must be a list of tokens`);
    expect(() => http({ port: 70000 })).toThrow(`${FILE}: field "http.port": must be a port from 0 to 65535`);
    expect(() => http({ tokenz: [] })).toThrow(`${FILE}: field "http": unknown key "tokenz"`);
  });
});

describe('cache.scope and cache.credentialEnv', () => {
  it('entries are per credential unless a server (or defaults) says "public"', () => {
    expect(one({}).cache.scope).toBe('credential');
    expect(one({ cache: { scope: 'public' } }).cache.scope).toBe('public');
    const { servers } = normalize({ a: { command: 'node' }, b: { command: 'node', cache: { scope: 'credential' } } }, {}, { cache: { scope: 'public' } }).config;
    expect(servers.map((s) => s.cache.scope)).toEqual(['public', 'credential']);
  });

  it('credentialEnv: the defaults\' names and the server\'s add up', () => {
    expect(one({}).cache.credentialEnv).toEqual([]);
    const { servers } = normalize({ a: { command: 'node', cache: { credentialEnv: ['GITHUB_HOST'] } }, b: { command: 'node' } }, {}, { cache: { credentialEnv: ['TENANT'] } }).config;
    expect(servers.map((s) => s.cache.credentialEnv)).toEqual([['TENANT', 'GITHUB_HOST'], ['TENANT']]);
  });

  it('a bad value is a config error naming the file, the server and the field, never echoing what may be a secret', () => {
    expect(() => one({ cache: { scope: 'team' } })).toThrow(`${FILE}: server "s", field "cache.scope": must be "credential" (entries per credential, the default) or "public"`);
    expect(() => normalize({ s: { command: 'node' } }, {}, { cache: { scope: 1 } })).toThrow(`${FILE}: field "defaults.cache.scope": must be "credential"`);
    expect(() => one({ cache: { credentialEnv: 'GITHUB_HOST' } })).toThrow(`${FILE}: server "s", field "cache.credentialEnv": must be a list of strings`);
    let message = '';
    try {
      one({ cache: { credentialEnv: ['ghp-not-a-name/123'] } });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toBe(`${FILE}: server "s", field "cache.credentialEnv[0]": must be the name of a variable (letters, digits and "_"), never its value (what was written is not shown: it may be a secret)`);
  });
});

describe('the output budget and tool search settings', () => {
  it('maxOutputTokens: 20,000 by default, from defaults, per server over defaults, 0 for none; a bad value names the field', () => {
    expect(one({}).maxOutputTokens).toBe(20_000);
    const { servers } = normalize({ a: { command: 'node' }, b: { command: 'node', maxOutputTokens: 0 } }, {}, { maxOutputTokens: 5000 }).config;
    expect(servers.map((s) => s.maxOutputTokens)).toEqual([5000, 0]);
    expect(() => one({ maxOutputTokens: -1 })).toThrow(`${FILE}: server "s", field "maxOutputTokens"`);
  });

  it('toolSearch: "auto" with a budget of 40 and no always-listed tools by default; each settable; a bad mode names the field', () => {
    const top = (raw: Record<string, unknown>) => normalizeConfig({ raw: { mcpServers: {}, ...raw }, file: FILE, foundBy: 'flag', vars: {}, envFiles: [] }).config.toolSearch;
    expect(top({})).toEqual({ mode: 'auto', budget: 40, always: [] });
    expect(top({ toolSearch: 'on', toolBudget: 10, toolSearchAlways: ['standards__*'] })).toEqual({ mode: 'on', budget: 10, always: ['standards__*'] });
    expect(() => top({ toolSearch: 'yes' })).toThrow('toolSearch');
    expect(() => top({ toolSearchAlways: 'standards__*' })).toThrow('toolSearchAlways');
  });
});
