// The lock that makes one OAuth refresh at a time among mcpx processes: a crashed holder cannot keep it.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { withFileLock } from '../../src/children/oauth/lock.js';
import { RecordProvider } from '../../src/children/oauth/provider.js';
import { tempDir } from '../helpers/mcpx.js';

function lockFile(holder: unknown): string {
  const dir = join(tempDir(), 'oauth');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'remote.json.lock');
  if (holder !== undefined) writeFileSync(file, JSON.stringify(holder));
  return file;
}

/** A pid that is not running: the highest a Linux box hands out is far below this. */
const DEAD_PID = 2 ** 22 + 12345;

describe('OAuth refresh lock', () => {
  // On a fake clock: the waiter polls many times while the holder keeps the lock, with no real sleep.
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('runs one holder at a time and removes its file after', async () => {
    const file = lockFile(undefined);
    const order: string[] = [];
    let releaseA!: () => void;
    const a = withFileLock(file, 5000, async () => {
      order.push('a in');
      await new Promise<void>((r) => (releaseA = r));
      order.push('a out');
    });
    await vi.advanceTimersByTimeAsync(0);
    const b = withFileLock(file, 5000, async () => void order.push('b'));
    await vi.advanceTimersByTimeAsync(1000); // b has polled about 40 times
    expect(order).toEqual(['a in']);
    releaseA();
    await vi.advanceTimersByTimeAsync(100);
    await Promise.all([a, b]);
    expect(order).toEqual(['a in', 'a out', 'b']);
    expect(existsSync(file)).toBe(false);
  });

  it('takes over a lock whose process is gone (a crash during a refresh), without waiting', async () => {
    const file = lockFile({ pid: DEAD_PID, at: Date.now() });
    // A wait of 0: a lock it could not take over at once would fail.
    expect(await withFileLock(file, 0, async () => 'got it')).toBe('got it');
  });

  it('takes over a lock held too long, even by a live process', async () => {
    const file = lockFile({ pid: process.ppid, at: Date.now() - 120_000 });
    expect(await withFileLock(file, 0, async () => 'got it')).toBe('got it');
  });

  it('waits for a live, fresh holder, then gives up naming the file', async () => {
    const file = lockFile({ pid: process.ppid, at: Date.now() });
    const attempt = withFileLock(file, 200, async () => 'never');
    const refused = expect(attempt).rejects.toThrow(`another mcpx process holds ${file}`);
    await vi.advanceTimersByTimeAsync(250);
    await refused;
  });
});

describe('OAuth resource indicator', () => {
  const record = { server: 'remote', url: 'https://mcp.example.com/mcp' };
  it('is the protected resource named by the server (checked against the URL), or the URL itself', async () => {
    const p = new RecordProvider(record, undefined, {});
    expect(String(await p.validateResourceURL('https://mcp.example.com/mcp', 'https://mcp.example.com/mcp'))).toBe('https://mcp.example.com/mcp');
    expect(String(await p.validateResourceURL('https://mcp.example.com/mcp'))).toBe('https://mcp.example.com/mcp');
    await expect(p.validateResourceURL('https://mcp.example.com/mcp', 'https://evil.example.net/mcp')).rejects.toThrow('does not match');
    // As written: a bare origin gains no "/" (servers that bind tokens to it compare exactly).
    expect(String(await p.validateResourceURL('https://mcp.example.com/mcp', 'https://mcp.example.com'))).toBe('https://mcp.example.com');
  });

  it('is left out with oauth.resource: false', async () => {
    const p = new RecordProvider(record, { scopes: [], grant: 'authorization_code', resource: false }, {});
    expect(await p.validateResourceURL('https://mcp.example.com/mcp', 'https://mcp.example.com/mcp')).toBeUndefined();
  });
});
