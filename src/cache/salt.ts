import { randomBytes } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '../errors.js';
import { log as defaultLog, type Logger } from '../util/log.js';

/**
 * The cache's secret salt: every credential fingerprint in a cache key is an HMAC with it
 * (children/credentials.ts), so a key read from the database, a Redis dump or a monitor reveals nothing
 * that a guessed token could be checked against. One per cache, made once: on one machine a file
 * beside the database (0600), for a team the value kept in the shared Redis (cache/redis.ts), so that
 * identical credentials give identical keys for every member.
 */
export const SALT_FILE = 'key-salt';
const SALT_BYTES = 32;

/**
 * The salt of the cache in `dir`: read, or made once. Several processes may start at once: the file is
 * written aside and linked into place, which fails for all but the first; the others read the winner's.
 * When it can be neither read nor made (a directory of another user), this process gets a salt of its
 * own: its entries are then its own too, which is safe, and said once.
 */
export function localSalt(dir: string, log: Logger = defaultLog): Buffer {
  const file = join(dir, SALT_FILE);
  try {
    return read(file) ?? create(dir, file);
  } catch (e) {
    log.warn(`cache: cannot read or create the key salt ${file} (${errorMessage(e)}); this process shares no cached result with others`);
    return randomBytes(SALT_BYTES);
  }
}

/** A well-formed salt file, tightened to 0600 if it was not; undefined when there is none. */
function read(file: string): Buffer | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  if (!/^[0-9a-f]{64}$/.test(text)) throw new Error('it is not 64 hex digits; delete it to make a new one');
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  return Buffer.from(text, 'hex');
}

function create(dir: string, file: string): Buffer {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const salt = randomBytes(SALT_BYTES);
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(aside, salt.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  try {
    linkSync(aside, file);
    return salt;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    return read(file)!; // another process made it first
  } finally {
    unlinkSync(aside);
  }
}
