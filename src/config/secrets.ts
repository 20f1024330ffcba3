import { log as defaultLog, type Logger } from '../util/log.js';
import type { CacheConfig, Config, HttpConfig } from './types.js';

/**
 * Which configured values are secrets, registered with the logger as soon as a config is loaded (by
 * loadConfig, so every command and serve get it), so that every log line, reported error and status
 * message shows `****` instead. A secret is:
 * - the value of a variable a server uses (`${VAR}` in env, args, url, headers, cwd) whose NAME looks secret;
 * - the value of a server `env` entry whose NAME looks secret (`API_TOKEN: "literal"`);
 * - every `headers` value (and the credential after `Bearer `/`Basic `/`Token `);
 * - the value of a secret-looking command-line flag: `--token=VALUE`, or `--api-key VALUE`;
 * - the password in `cache.url` (redis://user:PASSWORD@host), as written and decoded;
 * - every `http.tokens` value (the bearer tokens of `serve --http`);
 * - a server's `oauth.clientSecret`.
 * The normalized config holds expanded values, so the values are taken from it and from the variables.
 */
const SECRET_NAME = /TOKEN|KEY|SECRET|PASSWORD|PASS|CREDENTIAL|AUTH/i;

/** True for a name (variable, env key, argument key, header, flag) that looks like it holds a secret. */
export function looksSecret(name: string): boolean {
  return SECRET_NAME.test(name);
}

type SecretSources = Pick<Config, 'servers'> & { cache?: Pick<CacheConfig, 'url'>; http?: Pick<HttpConfig, 'tokens'> };

/** The secret values in a loaded config; `vars` are the variables it was expanded with. */
export function secretValues(config: SecretSources, vars: Record<string, string>): string[] {
  const out = new Set<string>();
  for (const v of urlPassword(config.cache?.url)) out.add(v);
  for (const t of config.http?.tokens ?? []) out.add(t.token);
  for (const s of config.servers) {
    for (const v of s.variables) {
      const value = vars[v.name];
      if (value && looksSecret(v.name)) out.add(value);
    }
    for (const [k, v] of Object.entries(s.env)) if (looksSecret(k)) out.add(v);
    if (s.oauth?.clientSecret) out.add(s.oauth.clientSecret);
    for (const v of Object.values(s.headers)) {
      out.add(v);
      const cred = /^(?:Bearer|Basic|Token)\s+(\S.*)$/i.exec(v.trim());
      if (cred) out.add(cred[1]!);
    }
    s.args.forEach((a, i) => {
      const eq = /^--?([A-Za-z0-9_-]+)=(.+)$/.exec(a);
      if (eq && looksSecret(eq[1]!)) out.add(eq[2]!);
      const next = s.args[i + 1];
      if (!eq && /^--?[A-Za-z0-9_-]+$/.test(a) && looksSecret(a) && next !== undefined && !next.startsWith('-')) out.add(next);
    });
  }
  return [...out].filter((v) => v.trim().length > 0);
}

/** The password of a URL, as written (percent-encoded) and decoded; none when there is none. */
export function urlPassword(url: string | undefined): string[] {
  if (!url) return [];
  try {
    const raw = new URL(url).password;
    return raw ? [raw, decodeURIComponent(raw)] : [];
  } catch {
    return [];
  }
}

/** Registers the config's secret values with the logger (its redactor ignores values under 4 characters). */
export function registerSecrets(config: SecretSources, vars: Record<string, string>, logger: Logger = defaultLog): void {
  for (const v of secretValues(config, vars)) logger.addSecret(v);
}
