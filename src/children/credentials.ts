import { createHash, createHmac } from 'node:crypto';
import type { ServerConfig } from '../config/types.js';
import { canonicalJson } from '../util/canonical.js';

/**
 * Which credentials a child's answers may depend on, reduced to a digest kept in memory only. The cache
 * keys an entry by an HMAC of that digest with the cache's secret salt (cache/salt.ts), so that two
 * users with different tokens never share an answer, identical tokens still do, and nothing a stored
 * key holds can be checked against a guessed token without the salt.
 *
 * What counts:
 * - the config's own env and headers, as the child gets them (after `${cmd:…}`/`${sh:…}`);
 * - the headers `headersHelper` printed for this connection;
 * - the args a `${cmd:…}`/`${sh:…}` produced;
 * - the OAuth sign-in a remote child's connection uses (its id, not its token);
 * - for a stdio child, the variables it inherits from mcpx whose names mark them as credentials
 *   (isCredentialName), plus the names the server's `cache.credentialEnv` lists. A remote child never
 *   sees mcpx's environment, so for it only the listed names count.
 * Not HOME, PATH, PWD and the like: they differ between machines without changing an answer, and a
 * team would never share an entry if they counted.
 */

/** Words (between `_`, `-`, `.`) that mark a credential: AWS_ACCESS_KEY_ID, BW_SESSION, MYSQL_PWD, NPM_CONFIG__AUTH. */
const WORDS = new Set(['KEY', 'KEYS', 'AUTH', 'PASS', 'PWD', 'PAT', 'JWT', 'COOKIE', 'COOKIES', 'SESSION', 'CREDS', 'BEARER']);
/** A word ending in KEY: TAILSCALE_AUTHKEY, SIGNINGKEY (a word starting with it is a keymap or a keyring). */
const KEY_WORD = /KEYS?$/;
/** Inside any word: GITHUB_TOKEN, NGROK_AUTHTOKEN, PGPASSWORD, GPG_PASSPHRASE, MCP_AUTHORIZATION, OPENAIAPIKEY. */
const PARTS = /TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|AUTHORIZATION|APIKEY|ACCESSKEY|PRIVATEKEY/;
/**
 * Names that match but hold the working directory, or identify a login, a terminal or a socket: never a
 * credential an answer depends on, and most change with every login or window, so counting them would
 * share nothing, even on one machine. mcpx's own variables configure mcpx, not the child.
 */
const NOT_CREDENTIALS = /^(PWD|SSH_AUTH_SOCK|DBUS_SESSION_BUS_ADDRESS|DESKTOP_SESSION|SESSION_MANAGER|WT_SESSION|XDG_SESSION_.*|.*_SESSION_ID|TOKENIZERS_PARALLELISM|MCPX_.*)$/;
/** A URL with a password in it (postgres://user:pass@host/db), whatever the variable is called. */
const URL_WITH_PASSWORD = /^[a-z][a-z0-9+.-]*:\/\/[^/@\s:]*:[^/@\s]+@/i;

/** Does a variable of this name hold a credential? Case-insensitive; see the README, "Whose answers are shared". */
export function isCredentialName(name: string): boolean {
  const n = name.toUpperCase();
  if (NOT_CREDENTIALS.test(n)) return false;
  return PARTS.test(n) || n.split(/[_.-]+/).some((w) => WORDS.has(w) || KEY_WORD.test(w));
}

/** The inherited variables that count as credentials: by name or value, or listed in `cache.credentialEnv`. */
export function credentialEnv(env: Record<string, string | undefined>, listed: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (isCredentialName(name) || URL_WITH_PASSWORD.test(value)) out[name] = value;
  }
  return Object.assign(out, listedEnv(env, listed));
}

function listedEnv(env: Record<string, string | undefined>, listed: readonly string[]): Record<string, string> {
  return Object.fromEntries(listed.filter((n) => env[n] !== undefined).map((n) => [n, env[n]!]));
}

/** What one connection of a child runs with: the config after secret commands, the helper's headers, mcpx's environment. */
export interface CredentialSources {
  /** The entry as the child gets it (secret commands run). */
  config: ServerConfig;
  /** The environment mcpx passes on (a stdio child inherits it). */
  inherited: Record<string, string | undefined>;
  /** What `headersHelper` printed for this connection. */
  helperHeaders?: Record<string, string>;
  /** The id of the OAuth sign-in the connection uses (not a secret): another account, other answers. */
  signIn?: string;
}

/**
 * sha256 of every credential the child's answers may depend on, in a canonical form (the order of
 * variables or headers never matters). In memory only: never stored, never logged; the cache keys by
 * credentialFingerprint() of it.
 */
export function credentialDigest(s: CredentialSources): Buffer {
  const c = s.config;
  const fromCommands = Object.fromEntries(c.secretCommands.filter((v) => v.field === 'args').map((v) => [v.key, c.args[Number(v.key)]]));
  // A config value wins over the inherited one of the same name: that is what the child gets.
  const listed = c.cache.credentialEnv;
  const inherited = c.transport === 'stdio' ? credentialEnv(s.inherited, listed) : listedEnv(s.inherited, listed);
  for (const name of Object.keys(c.env)) delete inherited[name];
  const material = { env: c.env, headers: { ...c.headers, ...s.helperHeaders }, args: fromCommands, inherited, ...(s.signIn && { signIn: s.signIn }) };
  return createHash('sha256').update(canonicalJson(material)).digest();
}

/** The digest keyed by the cache's salt: what a cache key holds (hex). */
export function credentialFingerprint(digest: Buffer, salt: Buffer): string {
  return createHmac('sha256', salt).update(digest).digest('hex');
}

