// cache.backend, cache.url and cache.lookupTimeoutMs: defaults, $MCPX_CACHE_URL, ${VAR} expansion, errors
// naming the field without echoing the URL, and the URL's password masked like every other secret.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { normalizeConfig } from '../../src/config/normalize.js';
import { isMcpxError, type McpxError } from '../../src/errors.js';
import { log } from '../../src/util/log.js';
import { tempDir } from './helpers.js';

const normalize = (cache: unknown, vars: Record<string, string> = {}) =>
  normalizeConfig({ raw: { mcpServers: {}, cache }, file: '/x/mcpx.json', foundBy: 'flag', vars, envFiles: [] }).config.cache;

function refusal(fn: () => unknown): McpxError {
  try {
    fn();
  } catch (e) {
    if (isMcpxError(e)) return e;
    throw e;
  }
  throw new Error('expected a config error');
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('config: the cache backend', () => {
  it('is SQLite by default; a url alone means Redis; lookups wait 50 ms unless told', () => {
    vi.stubEnv('MCPX_CACHE_URL', '');
    expect(normalize(undefined)).toMatchObject({ backend: 'sqlite', lookupTimeoutMs: 50 });
    expect(normalize(undefined).url).toBeUndefined();
    expect(normalize({ url: 'redis://cache.internal:6379/2' })).toMatchObject({ backend: 'redis', url: 'redis://cache.internal:6379/2' });
    expect(normalize({ backend: 'redis', url: 'rediss://h:6380', lookupTimeoutMs: '20ms' })).toMatchObject({ backend: 'redis', lookupTimeoutMs: 20 });
  });

  it('$MCPX_CACHE_URL gives the url (over the file’s), unless the backend is "sqlite"', () => {
    vi.stubEnv('MCPX_CACHE_URL', 'redis://from-env:6379/0');
    expect(normalize(undefined)).toMatchObject({ backend: 'redis', url: 'redis://from-env:6379/0' });
    expect(normalize({ url: 'redis://from-file:6379/0' })).toMatchObject({ url: 'redis://from-env:6379/0' });
    expect(normalize({ backend: 'sqlite' })).toMatchObject({ backend: 'sqlite' });
    expect(normalize({ backend: 'sqlite' }).url).toBeUndefined();
  });

  it('expands ${VAR} in cache.url; an unset variable is an error naming the field', () => {
    vi.stubEnv('MCPX_CACHE_URL', '');
    expect(normalize({ url: 'redis://:${REDIS_PASSWORD}@h:6379/0' }, { REDIS_PASSWORD: 'pw-from-env' }).url).toBe('redis://:pw-from-env@h:6379/0');
    const e = refusal(() => normalize({ url: 'redis://:${REDIS_PASSWORD}@h:6379/0' }));
    expect(e).toMatchObject({ code: 'CONFIG_INVALID', field: 'cache.url', exitCode: 2 });
    expect(e.message).toContain('REDIS_PASSWORD is not set');
  });

  it('refuses a wrong backend, Redis without a URL, a URL that is not redis://, and a lookup wait over 1 s', () => {
    vi.stubEnv('MCPX_CACHE_URL', '');
    expect(refusal(() => normalize({ backend: 'memcached' }))).toMatchObject({ field: 'cache.backend', exitCode: 2 });
    const none = refusal(() => normalize({ backend: 'redis' }));
    expect(none).toMatchObject({ field: 'cache.url', exitCode: 2 });
    expect(none.message).toContain('$MCPX_CACHE_URL');
    const wrong = refusal(() => normalize({ url: 'http://user:hunter2-pw@h:6379' }));
    expect(wrong).toMatchObject({ field: 'cache.url', exitCode: 2 });
    expect(wrong.message).not.toContain('hunter2-pw');
    expect(refusal(() => normalize({ url: 'redis://h', lookupTimeoutMs: '5s' }))).toMatchObject({ field: 'cache.lookupTimeoutMs' });
    expect(refusal(() => normalize({ url: 'redis://:${cmd:pass show redis}@h' }))).toMatchObject({ field: 'cache.url' });
    vi.stubEnv('MCPX_CACHE_URL', 'not a url');
    expect(refusal(() => normalize(undefined))).toMatchObject({ field: 'cache.url ($MCPX_CACHE_URL)' });
  });

  it('the URL’s password is a secret: masked in every log line, as written and decoded', () => {
    vi.stubEnv('MCPX_CACHE_URL', '');
    const dir = tempDir();
    const file = join(dir, 'mcpx.json');
    writeFileSync(file, JSON.stringify({ mcpServers: {}, cache: { url: 'redis://mcpx:${REDIS_PASSWORD}@h:6379/0' } }));
    writeFileSync(join(dir, '.env'), 'REDIS_PASSWORD=s3cret%40redis\n');
    const { config } = loadConfig(file);
    expect(config.cache.url).toBe('redis://mcpx:s3cret%40redis@h:6379/0');
    expect(log.redact(`url ${config.cache.url} and s3cret@redis`)).toBe('url redis://mcpx:****@h:6379/0 and ****');
  });
});
