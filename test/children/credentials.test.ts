// The credential fingerprint of a cache key: which inherited variables count (by name, by value, by the
// config's list), that it covers the config's values, the helper's headers and the commands' outputs,
// that order never matters, and that it is keyed by the salt and holds no secret.
import { describe, expect, it } from 'vitest';
import { credentialDigest, credentialEnv, credentialFingerprint, isCredentialName } from '../../src/children/credentials.js';
import type { ServerConfig } from '../../src/config/types.js';
import { serverConfig } from '../pipeline/helpers.js';

const SALT = Buffer.alloc(32, 1);
const fp = (config: ServerConfig, inherited: Record<string, string>, helperHeaders?: Record<string, string>, salt = SALT) =>
  credentialFingerprint(credentialDigest({ config, inherited, helperHeaders }), salt);

describe('which variables count as credentials', () => {
  it.each([
    'GITHUB_TOKEN', 'GH_TOKEN', 'github_personal_access_token', 'NGROK_AUTHTOKEN', 'OPENAI_API_KEY', 'CONTEXT7_API_KEY',
    'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'PGPASSWORD', 'DB_PASSWD', 'MYSQL_PWD',
    'GOOGLE_APPLICATION_CREDENTIALS', 'SENTRY_AUTH_TOKEN', 'NPM_CONFIG__AUTH', 'BW_SESSION', 'OP_SESSION_my', 'GITHUB_PAT',
    'JIRA_COOKIE', 'LinearApiKey', 'SLACK_BOT_TOKEN', 'STRIPE_SECRET', 'Notion-Token',
    // compounds of AUTH and KEY, and a passphrase: no word of theirs is AUTH, KEY or PASS alone
    'TAILSCALE_AUTHKEY', 'MCP_AUTHORIZATION', 'Authorization', 'GPG_PASSPHRASE', 'SIGNINGKEY',
  ])('%s counts', (name) => {
    expect(isCredentialName(name)).toBe(true);
  });

  it.each([
    'HOME', 'PATH', 'PWD', 'OLDPWD', 'USER', 'SHELL', 'LANG', 'TERM', 'TMPDIR', 'EDITOR', 'NODE_OPTIONS', 'GITHUB_HOST',
    // they match a word, but name a login, a window or a socket: most change at every login
    'SSH_AUTH_SOCK', 'DBUS_SESSION_BUS_ADDRESS', 'XDG_SESSION_ID', 'XDG_SESSION_TYPE', 'DESKTOP_SESSION', 'SESSION_MANAGER',
    'TERM_SESSION_ID', 'ITERM_SESSION_ID', 'WT_SESSION', 'TOKENIZERS_PARALLELISM', 'GIT_AUTHOR_NAME', 'XAUTHORITY', 'KEYTIMEOUT',
    'GNOME_KEYRING_CONTROL', 'XKB_KEYMAP', 'MCPX_CACHE_URL',
  ])('%s does not', (name) => {
    expect(isCredentialName(name)).toBe(false);
  });

  it('a URL with a password counts whatever its name; the names the config lists count too', () => {
    const env = { DATABASE_URL: 'postgres://app:hunter2@db/app', HOMEPAGE: 'https://example.com/x', GITHUB_HOST: 'ghe.example.com', HOME: '/home/a', GH_TOKEN: 't' };
    expect(credentialEnv(env)).toEqual({ DATABASE_URL: 'postgres://app:hunter2@db/app', GH_TOKEN: 't' });
    expect(credentialEnv(env, ['GITHUB_HOST', 'NOT_SET'])).toEqual({ DATABASE_URL: 'postgres://app:hunter2@db/app', GH_TOKEN: 't', GITHUB_HOST: 'ghe.example.com' });
  });
});

describe('the credential fingerprint', () => {
  const stdio = serverConfig('github');

  it('differs with an inherited token, not with HOME, PATH or PWD: identical credentials on two machines give one fingerprint', () => {
    const a = fp(stdio, { GITHUB_TOKEN: 'token-a', HOME: '/home/alice', PATH: '/usr/bin', PWD: '/work/x' });
    expect(fp(stdio, { GITHUB_TOKEN: 'token-b', HOME: '/home/alice', PATH: '/usr/bin', PWD: '/work/x' })).not.toBe(a);
    expect(fp(stdio, { GITHUB_TOKEN: 'token-a', HOME: '/Users/bob', PATH: '/opt/bin:/usr/bin', PWD: '/src/y', SSH_AUTH_SOCK: '/tmp/ssh-1' })).toBe(a);
    expect(fp(stdio, {})).not.toBe(a);
  });

  it('does not depend on the order of variables or headers', () => {
    const env1 = { A_TOKEN: '1', B_KEY: '2', C_SECRET: '3' };
    const env2 = { C_SECRET: '3', A_TOKEN: '1', B_KEY: '2' };
    expect(fp(stdio, env1)).toBe(fp(stdio, env2));
    const remote = serverConfig('docs', { command: undefined, url: 'https://docs.example.com/mcp' });
    expect(fp(remote, {}, { a: '1', b: '2' })).toBe(fp(remote, {}, { b: '2', a: '1' }));
  });

  it('covers the config\'s env and headers, the value the child gets winning over the inherited one', () => {
    const own = serverConfig('github', { env: { GITHUB_TOKEN: 'from-config' } });
    expect(fp(own, { GITHUB_TOKEN: 'inherited-1' })).toBe(fp(own, { GITHUB_TOKEN: 'inherited-2' }));
    expect(fp(own, {})).not.toBe(fp(serverConfig('github', { env: { GITHUB_TOKEN: 'other' } }), {}));
  });

  it('covers what headersHelper printed and what a ${cmd:…} put in args', () => {
    const remote = serverConfig('docs', { command: undefined, url: 'https://docs.example.com/mcp', headersHelper: 'print-headers' });
    expect(fp(remote, {}, { Authorization: 'Bearer a' })).not.toBe(fp(remote, {}, { Authorization: 'Bearer b' }));
    const cmd = serverConfig('pg', { args: ['--password', '${cmd:op read pg}'] });
    const resolved = (out: string): ServerConfig => ({ ...cmd, args: ['--password', out] });
    expect(fp(resolved('pw-1'), {})).not.toBe(fp(resolved('pw-2'), {}));
  });

  it('a remote child never sees mcpx\'s environment: only the names its config lists count', () => {
    const remote = serverConfig('docs', { command: undefined, url: 'https://docs.example.com/mcp', cache: { credentialEnv: ['DOCS_TENANT'] } });
    expect(fp(remote, { GITHUB_TOKEN: 'a' })).toBe(fp(remote, { GITHUB_TOKEN: 'b' }));
    expect(fp(remote, { DOCS_TENANT: 'x' })).not.toBe(fp(remote, { DOCS_TENANT: 'y' }));
  });

  it('cache.credentialEnv adds names on a stdio child', () => {
    const listed = serverConfig('github', { cache: { credentialEnv: ['GITHUB_HOST'] } });
    expect(fp(listed, { GITHUB_HOST: 'a.example.com' })).not.toBe(fp(listed, { GITHUB_HOST: 'b.example.com' }));
    expect(fp(stdio, { GITHUB_HOST: 'a.example.com' })).toBe(fp(stdio, { GITHUB_HOST: 'b.example.com' }));
  });

  it('is keyed by the salt, and holds no secret: a hex HMAC in which no value appears', () => {
    const inherited = { GITHUB_TOKEN: 'ghp_secretvalue123' };
    const a = fp(stdio, inherited);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(fp(stdio, inherited, undefined, Buffer.alloc(32, 2))).not.toBe(a);
    const digest = credentialDigest({ config: stdio, inherited });
    expect(digest.toString('latin1')).not.toContain('ghp_secretvalue123');
    expect(a).not.toContain(Buffer.from('ghp_secretvalue123').toString('hex'));
  });
});
