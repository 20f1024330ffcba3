import type { ServerConfig } from '../config/types.js';
import { McpxError } from '../errors.js';
import { canonicalJson, sha256 } from '../util/canonical.js';
import { log } from '../util/log.js';
import { loadExeca } from './stdio.js';

/**
 * Values from a secret manager instead of a file: `${cmd:op read op://dev/notion/token}` runs the
 * command without a shell (`${sh:…}` asks for one), once at each start of the child, with a 10 s
 * timeout. The trimmed output is kept in memory only and is a secret from then on. A failing command
 * is an error naming the server and the field, never echoing what the command printed.
 */
const SECRET_CMD = /\$\{(cmd|sh):([^}]+)\}/g;
const TIMEOUT_MS = 10_000;

export function hasSecretCommands(c: ServerConfig): boolean {
  return [...Object.values(c.env), ...Object.values(c.headers), ...c.args].some((v) => v.includes('${cmd:') || v.includes('${sh:'));
}

/** The config with every `${cmd:…}` / `${sh:…}` replaced by its command's output, and its fingerprint redone. */
export async function resolveSecretCommands(c: ServerConfig): Promise<ServerConfig> {
  if (!hasSecretCommands(c)) return c;
  const results = new Map<string, Promise<string>>(); // the same command used twice runs once
  const resolve = async (value: string, field: string): Promise<string> => {
    let out = value;
    for (const m of value.matchAll(SECRET_CMD)) {
      const [whole, kind, command] = m as unknown as [string, 'cmd' | 'sh', string];
      if (!results.has(whole)) results.set(whole, run(kind, command.trim(), c.name, field, c.cwd));
      out = out.replace(whole, await results.get(whole)!);
    }
    return out;
  };
  const mapValues = async (o: Record<string, string>, field: string) =>
    Object.fromEntries(await Promise.all(Object.entries(o).map(async ([k, v]) => [k, await resolve(v, `${field}.${k}`)] as const)));
  const env = await mapValues(c.env, 'env');
  const headers = await mapValues(c.headers, 'headers');
  const args = await Promise.all(c.args.map((a, i) => resolve(a, `args[${i}]`)));
  return { ...c, env, headers, args, credentialFingerprint: sha256(canonicalJson(env), canonicalJson(headers)) };
}

async function run(kind: 'cmd' | 'sh', command: string, server: string, field: string, cwd?: string): Promise<string> {
  const { execa, parseCommandString } = await loadExeca();
  try {
    const r =
      kind === 'sh'
        ? await execa(command, { shell: true, cwd, timeout: TIMEOUT_MS, stdin: 'ignore' })
        : await execa(parseCommandString(command)[0]!, parseCommandString(command).slice(1), { cwd, timeout: TIMEOUT_MS, stdin: 'ignore' });
    const value = r.stdout.trim();
    if (!value) throw new Error('printed nothing');
    log.addSecret(value);
    return value;
  } catch (e) {
    const x = e as { timedOut?: boolean; exitCode?: number; code?: string; message?: string };
    const why = x.timedOut
      ? `timed out after ${TIMEOUT_MS / 1000} s`
      : x.code === 'ENOENT'
        ? `command not found: ${parseCommandString(command)[0]}`
        : x.exitCode !== undefined
          ? `exited with code ${x.exitCode}`
          : (x.message ?? 'failed');
    throw new McpxError(`server "${server}": the secret command for ${field} failed (${why})`, {
      code: 'CHILD_START', server, field, suggestion: 'run the command by hand to see its message (mcpx does not show its output: it may hold a secret)',
    });
  }
}
