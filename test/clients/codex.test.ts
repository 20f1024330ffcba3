// Codex (`codex exec`, its own Rust MCP client) through mcpx, offline: the fake model speaks the
// OpenAI Responses API. Codex offers each MCP server as one `namespace` tool named `mcp__<server>`
// holding the bare tool names; a function_call names both.
import { describe } from 'vitest';
import { clientEntry, runCodex } from '../helpers/clients.js';
import { clientTests, teamServerTest, type ClientSpec } from './suite.js';

describe('Codex through mcpx', () => {
  const spec: ClientSpec = {
    name: 'Codex',
    api: 'openai-responses',
    clientName: 'codex-mcp-client',
    entry: clientEntry('@openai/codex'),
    run: runCodex,
    mcpxName: (t) => (t.namespace === 'mcp__mcpx' ? t.name : undefined),
  };
  clientTests(spec);
  teamServerTest(spec);
});
