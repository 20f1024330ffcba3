// The cache's key salt on one machine: made once, 0600, the same for every process (even several
// starting at once), never replaced silently; a salt that cannot be read gives a process its own.
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { localSalt, SALT_FILE } from '../../src/cache/salt.js';
import { Logger } from '../../src/util/log.js';
import { runNode, tempDir, ROOT } from '../helpers/mcpx.js';

const quiet = () => {
  const lines: string[] = [];
  return { log: new Logger('info', { write: (l: string) => lines.push(l) } as unknown as NodeJS.WritableStream), lines };
};

describe('localSalt', () => {
  it('is made once, 0600, 32 random bytes, and read back the same by later calls', () => {
    const dir = join(tempDir(), 'cache');
    const a = localSalt(dir);
    expect(a).toHaveLength(32);
    expect(statSync(join(dir, SALT_FILE)).mode & 0o777).toBe(0o600);
    expect(localSalt(dir).equals(a)).toBe(true);
    expect(localSalt(tempDir()).equals(a)).toBe(false);
  });

  it('several processes starting at once agree on one salt', async () => {
    const dir = tempDir();
    const script = `import { localSalt } from ${JSON.stringify(join(ROOT, 'dist/cache/salt.js'))}; process.stdout.write(localSalt(${JSON.stringify(dir)}).toString('hex'));`;
    const runs = await Promise.all(Array.from({ length: 6 }, () => runNode(['--input-type=module', '-e', script])));
    const salts = new Set(runs.map((r) => r.stdout));
    expect(runs.every((r) => r.code === 0 && /^[0-9a-f]{64}$/.test(r.stdout))).toBe(true);
    expect(salts.size).toBe(1);
    expect(readFileSync(join(dir, SALT_FILE), 'utf8').trim()).toBe([...salts][0]);
  });

  it('tightens a file others can read to 0600', () => {
    const dir = tempDir();
    const a = localSalt(dir);
    chmodSync(join(dir, SALT_FILE), 0o644);
    expect(localSalt(dir).equals(a)).toBe(true);
    expect(statSync(join(dir, SALT_FILE)).mode & 0o777).toBe(0o600);
  });

  it('a damaged file is not replaced behind the user\'s back: this process gets a salt of its own, and says so', () => {
    const dir = tempDir();
    writeFileSync(join(dir, SALT_FILE), 'not a salt\n', { mode: 0o600 });
    const { log, lines } = quiet();
    const a = localSalt(dir, log);
    expect(a).toHaveLength(32);
    expect(localSalt(dir, log).equals(a)).toBe(false);
    expect(lines.join('')).toMatch(/cannot read or create the key salt .*key-salt \(it is not 64 hex digits; delete it to make a new one\); this process shares no cached result/);
    expect(readFileSync(join(dir, SALT_FILE), 'utf8')).toBe('not a salt\n');
  });
});
