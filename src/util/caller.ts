import { userInfo } from 'node:os';

/**
 * The caller of a request that comes from this machine's user (stdio, the CLI): `local:<user name>`, or
 * `local:uid <n>` where the name cannot be looked up. Over HTTP the caller is the token's name instead.
 * A private cache entry belongs to its caller; undefined (no user known at all) means nobody's: then
 * nothing private is stored.
 */
export function localCaller(): string | undefined {
  return (cached ??= { caller: lookup() }).caller;
}

let cached: { caller: string | undefined } | undefined;

function lookup(): string | undefined {
  try {
    return `local:${userInfo().username}`;
  } catch {
    const uid = process.getuid?.();
    return uid === undefined ? undefined : `local:uid ${uid}`;
  }
}
