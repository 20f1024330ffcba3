// A remote child's token refresh when the authorization server never answers: given up in time,
// before another process may judge the refresh lock stale (lock.ts) and refresh with the same token.
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ServerConfig } from '../../src/config/types.js';
import { OAuthSession } from '../../src/children/oauth/session.js';
import { readRecord, recordLock, writeRecord } from '../../src/children/oauth/store.js';
import { tempDir } from '../helpers/mcpx.js';

let server: Server | undefined;
afterEach(() => {
  vi.useRealTimers();
  server?.closeAllConnections();
  server?.close();
});

describe('OAuth refresh against a silent authorization server', () => {
  it('fails the refresh after its time limit, frees the lock and keeps the grant', async () => {
    let asked!: () => void;
    const reached = new Promise<void>((r) => (asked = r));
    server = createServer(() => asked()); // takes the token request, never answers
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const stateDir = tempDir();
    const url = `${base}/mcp`;
    writeRecord(stateDir, {
      server: 'remote', url, client: { client_id: 'mcpx-client' }, resource: url,
      discovery: { authorizationServerUrl: base, authorizationServerMetadata: { issuer: base, authorization_endpoint: `${base}/authorize`, token_endpoint: `${base}/token`, response_types_supported: ['code'] } },
      tokens: { access_token: 'at-old', token_type: 'Bearer', refresh_token: 'rt-old', expires_in: 3600 }, expiresAt: Date.now() - 1000, grantId: 'g1',
    });
    const session = new OAuthSession({ name: 'remote', transport: 'http', url, headers: {} } as unknown as ServerConfig, stateDir);

    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const attempt = session.token();
    const failed = expect(attempt).rejects.toThrow('remote: could not refresh its OAuth token');
    await vi.waitFor(() => reached, { timeout: 5000 });
    await vi.advanceTimersByTimeAsync(30_000);
    await failed;
    expect(existsSync(recordLock(stateDir, 'remote'))).toBe(false);
    expect(readRecord(stateDir, 'remote')!.tokens!.refresh_token).toBe('rt-old'); // not a lost grant: tried again next time
  });
});
