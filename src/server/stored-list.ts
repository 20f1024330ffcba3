import type { Catalog, Child } from '../children/child.js';
import type { Config } from '../config/types.js';
import { errorMessage } from '../errors.js';
import { log } from '../util/log.js';
import { describedServers } from './instructions.js';

/**
 * A 2025 client's first `tools/list` (after an initialize answered by first-answer.ts, and its
 * `notifications/initialized`; no cursor) answered from the stored catalogs while the SDK and the runtime
 * are still loading. The list is built by the runtime's own routing code (Routing, mcpx__status last),
 * so it is the bytes the forwarded route (forward.ts) writes for the same state
 * (test/serve/stored-list.test.ts); the request is then not handed to the SDK. The children still start on `initialized`; a child whose
 * live tools differ from its stored ones makes the hub send list_changed, as before.
 *
 * Taken only when nothing is uncertain: every enabled child has a stored catalog under its current
 * fingerprint, no tool waits for `mcpx approve`, the database needs no migration, the config is
 * trusted, and the list arrives before the SDK
 * takes stdin over. Anything else (another request first, a read failure) is left to the normal path.
 */
export class FirstList {
  /** Still looking at lines (until the first request, or the hand-over). */
  looking = true;
  private initialized = false;
  private taken?: { start: number; end: number; written: boolean };
  private readonly answer: Promise<StoredList | undefined>;
  /** What to log at the hand-over (the log file is opened by serve, after this has run). */
  private note?: string;

  /** `from`: where the lines after the initialize start in the bytes read; `client`: its clientInfo.name (tool search). */
  constructor(config: Config, private from: number, private readonly write: (line: string) => void, client?: string) {
    // Built at once (off the critical path of the initialize answer, already written): ready when the list comes.
    this.answer = storedList(config, client).then(
      (list) => {
        if (typeof list !== 'string') return list;
        this.tell(`serve: the first tools/list is left to the runtime: ${list}`);
        return undefined;
      },
      (e: unknown) => void this.tell(`serve: the first tools/list is left to the runtime: ${errorMessage(e)}`),
    );
  }

  /** A note for the log: kept for the hand-over, or logged at once when the SDK has taken stdin over already. */
  private tell(note: string): void {
    if (this.handedOver) log.debug(note);
    else this.note = note;
  }

  private handedOver = false;

  /** All bytes read so far (the same buffer grown): looks at the complete lines not seen yet. */
  see(all: Buffer): void {
    for (let nl = all.indexOf(0x0a, this.from); this.looking && nl !== -1; nl = all.indexOf(0x0a, this.from)) {
      const start = this.from;
      this.from = nl + 1;
      this.line(all.subarray(start, nl).toString('utf8'), start, nl + 1);
    }
  }

  /** The SDK takes stdin over: the bytes to give it, without the request answered here (a pending answer is given up). */
  handOver(all: Buffer): Buffer {
    this.looking = false;
    this.handedOver = true;
    if (this.note) log.debug(this.note);
    const t = this.taken;
    this.taken = undefined; // a build still under way writes nothing now
    if (!t?.written) return all;
    return Buffer.concat([all.subarray(0, t.start), all.subarray(t.end)]);
  }

  private line(text: string, start: number, end: number): void {
    let m: { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown };
    try {
      m = JSON.parse(text);
    } catch {
      return void (this.looking = false);
    }
    if (!m || typeof m !== 'object' || m.jsonrpc !== '2.0') return void (this.looking = false);
    if (!('id' in m)) {
      if (m.method === 'notifications/initialized') this.initialized = true;
      return; // a notification: the SDK has it later, in order
    }
    this.looking = false; // only the first request is ever answered here
    const id = m.id;
    if (!this.initialized || m.method !== 'tools/list' || (typeof id !== 'string' && typeof id !== 'number')) return;
    const params = (m.params ?? {}) as Record<string, unknown>;
    const taken: { start: number; end: number; written: boolean } = { start, end, written: false };
    this.taken = taken;
    void this.answer.then((list) => {
      if (this.taken !== taken || !list || !list.plain(params) || params.cursor !== undefined) return;
      this.write(`{"result":${list.json},"jsonrpc":"2.0","id":${JSON.stringify(id)}}\n`);
      taken.written = true;
      this.note = `serve: tools/list (id ${JSON.stringify(id)}) answered from the stored catalogs before the SDK was loaded`;
    });
  }
}

interface StoredList {
  /** The result's JSON text, as the forwarded route writes it. */
  json: string;
  /** The route's test of a request's params (no 2026 material). */
  plain(params: Record<string, unknown>): boolean;
}

/**
 * The merged tools list from the stored catalogs, or why anything about it is uncertain. With tool
 * search on for this client, the search listing (a new client has found nothing yet).
 */
export async function storedList(config: Config, client?: string): Promise<StoredList | string> {
  if (config.waitingForTrust) return 'the config waits for trust';
  const servers = describedServers(config);
  // Loaded here, after initialize was answered: better-sqlite3 (read-only), the routing and its name rules.
  const [{ withReadOnlyDb }, { SCHEMA_VERSION, userVersion }, { compareWithPins, readPins }, { Routing }, { legacyTools, plain }, { STATUS_TOOL }, { alwaysMatcher, searchListing, searchOn }, { MORE_TOOL }] = await Promise.all([
    import('../cache/catalog.js'),
    import('../cache/migrations.js'),
    import('../cache/pins.js'),
    import('../runtime/routing.js'),
    import('./compat.js'),
    import('./identity.js'),
    import('./tool-search/exposure.js'),
    import('./own-tools.js'),
  ]);
  const read = withReadOnlyDb(config.cache.dir, 'the stored catalogs', (db): Catalog[] | string => {
    if (userVersion(db) !== SCHEMA_VERSION) return 'the cache database is migrated first';
    const fingerprints = servers.map((s) => s.catalogKey);
    const rows = fingerprints.length
      ? (db.prepare(`SELECT fingerprint, data FROM catalog WHERE fingerprint IN (${fingerprints.map(() => '?').join(',')})`).all(...fingerprints) as { fingerprint: string; data: string }[])
      : [];
    const byFingerprint = new Map(rows.map((r) => [r.fingerprint, JSON.parse(r.data) as Catalog]));
    const pins = readPins(db, servers.filter((s) => s.pinTools).map((s) => s.name));
    const out: Catalog[] = [];
    for (const s of servers) {
      const cat = byFingerprint.get(s.catalogKey);
      if (!cat) return `no catalog of ${s.name} is stored for its current command`;
      const own = pins.get(s.name);
      if (own?.size && compareWithPins(s.name, own, cat.tools).length) return `tools of ${s.name} wait for \`mcpx approve\``;
      out.push(cat);
    }
    return out;
  });
  if (read === undefined) return 'no cache database could be read';
  if (typeof read === 'string') return read;
  // The runtime's Routing over stand-ins for its children: it reads only their name, config and catalog.
  const children = servers.map((config, i) => ({ name: config.name, config, catalog: read[i], state: { kind: 'idle' } }) as unknown as Child);
  const routing = new Routing([STATUS_TOOL, MORE_TOOL], true);
  routing.rebuild(children);
  const childTools = routing.tools.slice(0, routing.tools.length - routing.own.length);
  const tools = searchOn(config.toolSearch, childTools.length, client) ? searchListing(childTools, routing.own, alwaysMatcher(config.toolSearch)) : routing.tools;
  return { json: `{"tools":${JSON.stringify(legacyTools(tools))}}`, plain };
}
