// Resource reads and subscriptions for URIs no child lists: routed by template,
// by scheme or to the only child offering resources, through a real mcpx and real children.
import { afterEach, describe, expect, it } from 'vitest';
import { McpError, ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { EVERYTHING, fixture, mcpxSessions, waitFor, type Mcpx } from '../helpers/mcpx.js';

const { start } = mcpxSessions(afterEach);

function updates(m: Mcpx): string[] {
  const seen: string[] = [];
  m.client.setNotificationHandler(ResourceUpdatedNotificationSchema, async (n) => void seen.push(n.params.uri));
  return seen;
}

describe('resources no child lists', () => {
  it('reads and subscribes by template or scheme; refuses a URI two children could own, naming both', async () => {
    const m = await start({ mcpServers: { docs: fixture('docs'), everything: { command: process.execPath, args: [EVERYTHING, 'stdio'] } } });
    const seen = updates(m);
    await m.client.listResources(); // both children have listed

    // fixture://docs/items/{id} is docs' template; fixture:// is docs' scheme alone.
    const item = await m.client.readResource({ uri: 'fixture://docs/items/42' });
    expect(item.contents[0]).toMatchObject({ text: 'docs says: fixture://docs/items/42' });
    const other = await m.client.readResource({ uri: 'fixture://docs/unlisted' });
    expect(other.contents[0]).toMatchObject({ text: 'docs says: fixture://docs/unlisted' });
    expect(await m.client.subscribeResource({ uri: 'fixture://docs/items/5' })).toEqual({});
    await waitFor(() => seen.includes('fixture://docs/items/5'), 5000, 'resources/updated from docs'); // it reached docs
    expect(await m.client.unsubscribeResource({ uri: 'fixture://docs/items/5' })).toEqual({});

    // demo://resource/dynamic/text/{resourceId} is everything's template.
    const dynamic = await m.client.readResource({ uri: 'demo://resource/dynamic/text/3' });
    expect(dynamic.contents[0]!.uri).toBe('demo://resource/dynamic/text/3');

    const err = await m.client.subscribeResource({ uri: 'test://watched-resource' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).code).toBe(-32602);
    expect((err as McpError).message).toMatch(/Unknown resource: test:\/\/watched-resource: no server lists it, and more than one offers resources: docs, everything/);
    await expect(m.client.readResource({ uri: 'test://watched-resource' })).rejects.toThrow(/more than one offers resources: docs, everything/);
  });

  it('sends a URI of any scheme to the only child offering resources, even before it has listed', async () => {
    const m = await start({ mcpServers: { docs: fixture('docs') } });
    const seen = updates(m);
    // No list first: the subscription waits for the child to start, then goes to it.
    expect(await m.client.subscribeResource({ uri: 'test://watched-resource' })).toEqual({});
    await waitFor(() => seen.includes('test://watched-resource'), 5000, 'resources/updated from docs');
    expect(await m.client.unsubscribeResource({ uri: 'test://watched-resource' })).toEqual({});
    const read = await m.client.readResource({ uri: 'test://watched-resource' });
    expect(read.contents[0]).toMatchObject({ text: 'docs says: test://watched-resource' });
  });
});
