import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { ProtocolError, ProtocolErrorCode, Server } from '@modelcontextprotocol/server';
import { serveStdio, StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { McpxError, errorMessage } from '../errors.js';
import { log } from '../util/log.js';
import type { CatalogChange, StandardsCatalog } from './catalog.js';
import { REVIEW_PROMPT, getReviewPrompt } from './prompts.js';
import { STANDARDS_TOOLS, callStandardsTool } from './tools.js';
import { idFromUri, standardUri } from './uri.js';
import { watchFolders } from './watch.js';

/**
 * `mcpx standards`: a stdio MCP server over folders of Markdown/YAML standards.
 *
 * Start-up order matters for latency: folders are checked (a missing one is a usage error, exit 2),
 * the transport is connected, and only then are the files loaded and indexed (in time slices), so
 * `initialize` and `tools/list` are answered at once while handlers that need the documents await the
 * first load.
 * Changes on disk reload the catalog (debounced); clients get `resources/list_changed` when documents
 * appear or disappear, and `resources/updated` for the URIs they subscribed to when those change or go.
 */
export interface StandardsServerOptions {
  dirs: string[];
  stdin?: Readable;
  stdout?: Writable;
  /** Quiet period after the last file event before reloading. */
  debounceMs?: number;
}

export async function runStandardsServer(opts: StandardsServerOptions): Promise<void> {
  const dirs = checkFolders(opts.dirs);
  const reportChange = (change: CatalogChange) => {
    for (const w of change.warnings) log.warn(w);
    return change;
  };
  // Loaded after connecting (see below); the parsing and SQLite modules are imported only then.
  let startLoading = () => {};
  const catalogReady = new Promise<void>((r) => (startLoading = r)).then(async () => {
    const { StandardsCatalog } = await import('./catalog.js');
    const catalog = new StandardsCatalog(dirs);
    reportChange(await catalog.reload());
    log.debug(`standards: ${catalog.list().length} documents from ${dirs.join(', ')}`);
    return catalog;
  });
  catalogReady.catch((e) => log.error(`standards: loading failed: ${errorMessage(e)}`));

  // serveStdio serves both protocol eras: it calls the factory once per opening (a 2026 `server/discover`
  // probe, then possibly a 2025 `initialize`), so the catalog lives out here and `current` is the
  // instance that notifications go to.
  const subscribed = new Set<string>();
  let current: { server: Server; era: 'legacy' | 'modern' } | undefined;
  const factory = ({ era }: { era: 'legacy' | 'modern' }): Server => {
    const server = new Server(
      { name: 'mcpx-standards', version: packageVersion() },
      {
        capabilities: { tools: {}, resources: { subscribe: true, listChanged: true }, prompts: {} },
        instructions:
          'Team coding standards. Before writing or reviewing a file, call standards_for_file with its path; ' +
          'use search_standards for a topic, get_standard to read one in full.',
      },
    );
    server.setRequestHandler('tools/list', () => ({ tools: STANDARDS_TOOLS }));
    server.setRequestHandler('tools/call', async (req) => callStandardsTool(await catalogReady, req.params.name, req.params.arguments));
    server.setRequestHandler('resources/list', async () => {
      const catalog = await catalogReady;
      return {
        resources: catalog.list().map((doc) => ({
          uri: standardUri(doc.id),
          name: doc.id,
          title: doc.title,
          description: `${doc.category} standard${doc.tags.length ? ` · ${doc.tags.join(', ')}` : ''}`,
          mimeType: 'text/markdown',
        })),
      };
    });
    server.setRequestHandler('resources/read', async (req) => {
      const catalog = await catalogReady;
      const id = idFromUri(req.params.uri);
      const doc = id === undefined ? undefined : catalog.get(id);
      if (!doc) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `No standard at ${req.params.uri}; resources/list shows them all.`);
      return { contents: [{ uri: req.params.uri, mimeType: 'text/markdown', text: doc.text }] };
    });
    // A 2026 client subscribes through its subscriptions/listen filter instead (see notify).
    if (era === 'legacy') {
      server.setRequestHandler('resources/subscribe', (req) => (subscribed.add(req.params.uri), {}));
      server.setRequestHandler('resources/unsubscribe', (req) => (subscribed.delete(req.params.uri), {}));
    }
    server.setRequestHandler('prompts/list', () => ({ prompts: [REVIEW_PROMPT] }));
    server.setRequestHandler('prompts/get', async (req) => {
      if (req.params.name !== REVIEW_PROMPT.name) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown prompt "${req.params.name}".`);
      return getReviewPrompt(await catalogReady, req.params.arguments);
    });
    current = { server, era };
    return server;
  };

  const notify = async (change: CatalogChange) => {
    const to = current;
    if (!to) return; // nobody connected yet: the first list will be current
    if (change.added.length > 0 || change.removed.length > 0) await to.server.sendResourceListChanged();
    for (const doc of [...change.changed, ...change.removed]) {
      const uri = standardUri(doc.id);
      // serveStdio sends a 2026 update only on the listen streams that subscribed the URI.
      if (to.era === 'modern' || subscribed.has(uri)) await to.server.sendResourceUpdated({ uri });
    }
  };
  const watcher = watchFolders(
    dirs,
    () => {
      catalogReady
        .then((catalog: StandardsCatalog) => catalog.reload())
        .then(reportChange)
        .then(notify)
        .catch((e) => log.warn(`standards: reload failed: ${errorMessage(e)}`));
    },
    { debounceMs: opts.debounceMs, onError: (dir, e) => log.warn(`standards: not watching ${dir} for changes: ${e.message}`) },
  );

  const stdin = opts.stdin ?? process.stdin;
  // The client closing stdin is how a stdio child is told to go.
  let stop = () => {};
  const closed = new Promise<void>((done) => (stop = done));
  stdin.once('end', stop).once('close', stop);
  process.once('SIGTERM', stop).once('SIGINT', stop);
  const transport = new StdioServerTransport(stdin as never, (opts.stdout ?? process.stdout) as never);
  const connection = serveStdio(factory, { transport, onerror: (e) => log.debug(`standards: ${errorMessage(e)}`) });
  startLoading();
  await closed;

  watcher.close();
  process.off('SIGTERM', stop).off('SIGINT', stop);
  await connection.close().catch(() => undefined);
  (await catalogReady.catch(() => undefined))?.close();
}

/** Absolute folders (each once), or a usage error naming the first one that is missing. */
function checkFolders(dirs: string[]): string[] {
  if (dirs.length === 0) {
    throw new McpxError('standards needs at least one --dir <folder> holding the standards', { code: 'USAGE' });
  }
  return [...new Set(dirs.map((dir) => resolve(dir)))].map((abs) => {
    let isDir: boolean;
    try {
      isDir = statSync(abs).isDirectory();
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(e as NodeJS.ErrnoException).code})`;
      throw new McpxError(`standards folder ${abs} ${why}`, { code: 'USAGE', file: abs, cause: e });
    }
    if (!isDir) throw new McpxError(`standards folder ${abs} is not a folder`, { code: 'USAGE', file: abs });
    return abs;
  });
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}
