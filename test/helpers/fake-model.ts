// A scripted fake model API on 127.0.0.1, for driving real MCP clients (Codex, Gemini CLI) offline.
// It speaks two wire formats: the OpenAI Responses API as Codex streams it (POST …/responses, SSE
// events) and Gemini's generateContent / streamGenerateContent. Each request is one turn: the script
// sees the tools the client offered and the tool output the client sent back, and decides the next
// move (call a tool, or answer and end). Every request body is kept for the test to inspect.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ModelApi = 'openai-responses' | 'gemini';

/** A tool as the client offered it to the model. */
export interface Offered {
  name: string;
  /** Codex: the `namespace` tool it sits in (`mcp__<server>`). */
  namespace?: string;
  description?: string;
  parameters?: unknown;
}

export interface Turn {
  n: number;
  offered: Offered[];
  /**
   * The tool output the client sent back for the model's last call, split into its parts as the model
   * reads them, without the client's own framing (Codex's "Wall time … Output:" header, Gemini's
   * <untrusted_context> wrapper); undefined on a turn that carries none.
   */
  output?: string[];
  /** That output exactly as it came in the request (Codex's `output`, Gemini's `functionResponse.response`). */
  rawOutput?: unknown;
}

export type Move = { call: Offered; args: Record<string, unknown> } | { say: string };
export type Script = (turn: Turn) => Move;

export interface FakeModel {
  /** Base URL to give the client (Codex: its provider's base_url; Gemini: GOOGLE_GEMINI_BASE_URL). */
  url: string;
  turns: Turn[];
  requests: { path: string; body: any }[];
  /** What the script threw: the client got a plain answer instead, so that it ends at once. */
  errors: string[];
  close(): Promise<void>;
}

const CODEX_HEADER = /^Wall time: [\d.]+ seconds\nOutput:\n?/;
const GEMINI_WRAP = /^<untrusted_context>\n([\s\S]*)\n<\/untrusted_context>$/;

export async function fakeModel(api: ModelApi, script: Script): Promise<FakeModel> {
  const turns: Turn[] = [];
  const requests: FakeModel['requests'] = [];
  const errors: string[] = [];
  const server = createServer((req, res) => {
    readBody(req).then((raw) => {
      const body = raw ? JSON.parse(raw) : {};
      requests.push({ path: req.url ?? '', body });
      const routed = api === 'openai-responses' ? /\/responses$/.test(req.url ?? '') : /:(stream)?[gG]enerateContent/.test(req.url ?? '');
      if (!routed) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not served by the fake model"}');
      const turn = api === 'openai-responses' ? responsesTurn(body, turns.length) : geminiTurn(body, turns.length);
      turns.push(turn);
      let move: Move;
      try {
        move = script(turn);
      } catch (e) {
        errors.push(String((e as Error).message ?? e));
        move = { say: `fake model: ${(e as Error).message}` };
      }
      if (api === 'openai-responses') answerResponses(res, move, turn.n);
      else answerGemini(req, res, move, turn.n);
    }, (e) => res.writeHead(500).end(String(e)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: api === 'openai-responses' ? `http://127.0.0.1:${port}/v1` : `http://127.0.0.1:${port}`,
    turns,
    requests,
    errors,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((res, rej) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (s += d));
    req.on('end', () => res(s));
    req.on('error', rej);
  });
}

// --- OpenAI Responses API (Codex) ---

function responsesTurn(body: any, n: number): Turn {
  const offered: Offered[] = [];
  for (const t of body.tools ?? []) {
    if (t.type === 'function') offered.push({ name: t.name, description: t.description, parameters: t.parameters });
    if (t.type === 'namespace') for (const f of t.tools ?? []) offered.push({ name: f.name, namespace: t.name, description: f.description, parameters: f.parameters });
  }
  const last = (body.input ?? []).at(-1);
  if (last?.type !== 'function_call_output') return { n, offered };
  return { n, offered, output: codexParts(last.output), rawOutput: last.output };
}

/** Codex sends a tool's output as one string (structured content) or as items after a header item. */
function codexParts(output: unknown): string[] {
  if (typeof output === 'string') return [output.replace(CODEX_HEADER, '')];
  const items = output as { type: string; text?: string }[];
  const rest = CODEX_HEADER.test(items[0]?.text ?? '') ? items.slice(1) : items;
  return rest.map((i) => (i.type === 'input_text' ? i.text! : `[${i.type}]`));
}

function answerResponses(res: ServerResponse, move: Move, n: number): void {
  const id = `resp_${n}`;
  const item =
    'say' in move
      ? { type: 'message', role: 'assistant', id: `msg_${n}`, content: [{ type: 'output_text', text: move.say }] }
      : { type: 'function_call', id: `fc_${n}`, call_id: `call_${n}`, name: move.call.name, ...(move.call.namespace ? { namespace: move.call.namespace } : {}), arguments: JSON.stringify(move.args) };
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const event = (e: Record<string, unknown>) => res.write(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
  event({ type: 'response.created', response: { id } });
  event({ type: 'response.output_item.done', output_index: 0, item });
  event({ type: 'response.completed', response: { id, usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2 } } });
  res.end();
}

// --- Gemini API (Gemini CLI) ---

function geminiTurn(body: any, n: number): Turn {
  const offered: Offered[] = [];
  for (const t of body.tools ?? []) for (const f of t.functionDeclarations ?? []) offered.push({ name: f.name, description: f.description, parameters: f.parametersJsonSchema ?? f.parameters });
  const last = (body.contents ?? []).at(-1);
  const fr = (last?.parts ?? []).find((p: any) => p.functionResponse)?.functionResponse;
  if (!fr) return { n, offered };
  const out = fr.response?.output;
  const text = typeof out === 'string' ? out.replace(GEMINI_WRAP, '$1') : JSON.stringify(fr.response);
  return { n, offered, output: [text], rawOutput: fr.response };
}

function answerGemini(req: IncomingMessage, res: ServerResponse, move: Move, n: number): void {
  const parts = 'say' in move ? [{ text: move.say }] : [{ functionCall: { name: move.call.name, args: move.args } }];
  const chunk = {
    candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP', index: 0 }],
    usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 1, totalTokenCount: 2 },
    responseId: `resp_${n}`,
  };
  if (/streamGenerateContent/.test(req.url ?? '')) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(`data: ${JSON.stringify(chunk)}\n\n`);
  } else {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(chunk));
  }
}
