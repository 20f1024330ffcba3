import { Readable } from 'node:stream';
import { log } from '../util/log.js';
import { loadConfig, type Selection } from '../config/index.js';
import { initialInstructions } from './instructions.js';
import { discoverResult, initializeResult } from './compat.js';
import { FirstList } from './stored-list.js';
import { withToolSearch, type ToolSearchMode } from './tool-search/exposure.js';

/**
 * Start-up of `mcpx serve`: a 2025 client's `initialize`, or a 2026-07-28 client's first
 * `server/discover` (Claude Code 2.x probes discover first), is answered from mcpx's own state (the
 * config and the stored instructions) while the SDK and the rest of serve are still loading, which
 * is most of the time to the first answer. Whatever arrived on stdin meanwhile, that first request
 * included, is handed back to the stream for the SDK, which handles it as before (the client's
 * capabilities, the era, `initialized` starting the children; a discover loads no backend); only its
 * own answer to that request, the same bytes (test/serve/first-answer.test.ts), is not sent again.
 *
 * Anything else as the first message (an initialize carrying a 2026 envelope, a discover whose
 * envelope the SDK might judge otherwise, a malformed one) is left to the SDK.
 */
export interface Early {
  loaded: ReturnType<typeof loadConfig>;
  instructions: string;
  /** Stops reading: the stream to give the SDK transport, holding all that was read. */
  handOver(): NodeJS.ReadableStream;
  /** True for the SDK Server's own answer to the request answered here (once). */
  drop(m: object): boolean;
}

export async function answerEarly(opts: { configFlag?: string; select?: Selection; toolSearch?: ToolSearchMode }, stdin: NodeJS.ReadableStream = process.stdin, stdout: NodeJS.WritableStream = process.stdout): Promise<Early> {
  const loaded = loadConfig(opts.configFlag, { select: opts.select }); // a config error exits 2 before anything starts
  withToolSearch(loaded.config, opts.toolSearch);
  const instructions = await initialInstructions(loaded.config);
  const chunks: Buffer[] = [];
  let answered: { id: unknown; method: string } | undefined;
  let looked = false;
  let ended = false;
  let list: FirstList | undefined; // the first tools/list after an initialize answered here (stored-list.ts)
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
    if (looked && !list?.looking) return;
    const all = chunks.length === 1 ? chunk : Buffer.concat(chunks);
    if (!looked) {
      const nl = all.indexOf(0x0a);
      if (nl === -1) return;
      looked = true; // only the first message is ever answered here
      const line = all.subarray(0, nl).toString('utf8');
      const answer = firstAnswer(line, instructions);
      if (answer) {
        answered = { id: answer.id, method: answer.method };
        stdout.write(answer.line);
        if (answer.method === 'initialize') list = new FirstList(loaded.config, nl + 1, (l) => stdout.write(l), answer.client);
      }
    }
    list?.see(all);
  };
  const onEnd = () => (ended = true);
  stdin.on('data', onData);
  stdin.on('end', onEnd);
  return {
    loaded,
    instructions,
    handOver() {
      if (answered) log.debug(`serve: ${answered.method} (id ${JSON.stringify(answered.id)}) answered before the SDK was loaded`);
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.pause();
      const read = list ? list.handOver(Buffer.concat(chunks)) : Buffer.concat(chunks);
      if (ended) return Readable.from(read.length ? [read] : []); // a stream that has ended takes nothing back
      if (read.length) (stdin as Readable).unshift(read);
      // A paused stream stays paused when a listener is added: it flows again once the SDK listens.
      const flow = (event: string | symbol) => {
        if (event !== 'data') return;
        stdin.off('newListener', flow);
        process.nextTick(() => stdin.resume());
      };
      stdin.on('newListener', flow);
      return stdin;
    },
    drop(m) {
      if (!answered || !('id' in m) || (m as { id: unknown }).id !== answered.id || !('result' in m)) return false;
      answered = undefined;
      return true;
    },
  };
}

type Request = { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: Record<string, unknown> };

/** The SDK's answer to a first initialize or server/discover, as it writes it; undefined for anything else. */
function firstAnswer(line: string, instructions: string): { id: unknown; method: string; line: string; client?: string } | undefined {
  let m: Request;
  try {
    m = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!m || m.jsonrpc !== '2.0' || (typeof m.id !== 'string' && typeof m.id !== 'number')) return undefined;
  const result = m.method === 'initialize' ? initializeResult(m, instructions) : m.method === 'server/discover' ? discoverResult(m, instructions) : undefined;
  const client = (m.params?.clientInfo as { name?: unknown } | undefined)?.name; // tool search decides on it (stored-list.ts)
  return result && { id: m.id, method: m.method as string, line: JSON.stringify({ result, jsonrpc: '2.0', id: m.id }) + '\n', ...(typeof client === 'string' && { client }) };
}
