/**
 * What mcpx says it is and offers, in its initialize answer: one place for the SDK Server (upstream.ts)
 * and for the answers written before the SDK is loaded (first-answer.ts, stored-list.ts). Imports nothing.
 */
export const SERVER_INFO = { name: 'mcpx', version: '0.1.0' };

export const SERVER_CAPABILITIES = {
  tools: { listChanged: true },
  prompts: { listChanged: true },
  resources: { subscribe: true, listChanged: true },
  logging: {},
  completions: {},
};

/**
 * The 2025-era protocol versions the SDK Server negotiates in initialize, preferred first (its
 * SUPPORTED_PROTOCOL_VERSIONS; test/serve/first-answer.test.ts checks that they still agree).
 */
export const LEGACY_PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05', '2024-10-07'];

/** mcpx's own tool, listed after the children's: the status snapshot as JSON (upstream.ts answers it). */
export const STATUS_TOOL = {
  name: 'mcpx__status',
  title: 'mcpx status',
  description: 'Health of the MCP servers behind mcpx: state, circuit breaker, restarts, last error, latency and cache counts per server.',
  inputSchema: { type: 'object' as const, properties: {} },
  annotations: { readOnlyHint: true, openWorldHint: false },
};

/**
 * The 2026-07-28 side: the revisions the SDK's serveStdio serves (its
 * SUPPORTED_MODERN_PROTOCOL_VERSIONS, which the discover answer lists) and the `_meta` keys of the
 * per-request envelope and of the server's identity on every modern result. Spelled here so that
 * first-answer.ts can answer a first server/discover without loading the SDK (test/serve/first-answer.test.ts
 * checks the bytes against the SDK's).
 */
export const MODERN_PROTOCOL_VERSIONS = ['2026-07-28'];
export const PROTOCOL_VERSION_KEY = 'io.modelcontextprotocol/protocolVersion';
export const CLIENT_INFO_KEY = 'io.modelcontextprotocol/clientInfo';
export const CLIENT_CAPABILITIES_KEY = 'io.modelcontextprotocol/clientCapabilities';
export const LOG_LEVEL_KEY = 'io.modelcontextprotocol/logLevel';
export const SERVER_INFO_KEY = 'io.modelcontextprotocol/serverInfo';
