// Gemini CLI (headless `-p`) through mcpx, offline: the fake model speaks the Gemini API
// (streamGenerateContent). Gemini CLI offers an MCP tool as `mcp_<server>_<tool>`.
import { describe } from 'vitest';
import { clientEntry, runGemini } from '../helpers/clients.js';
import { clientTests, teamServerTest, type ClientSpec } from './suite.js';

describe('Gemini CLI through mcpx', () => {
  const spec: ClientSpec = {
    name: 'Gemini CLI',
    api: 'gemini',
    clientName: 'gemini-cli-mcp-client',
    entry: clientEntry('@google/gemini-cli'),
    run: runGemini,
    mcpxName: (t) => (t.name.startsWith('mcp_mcpx_') ? t.name.slice('mcp_mcpx_'.length) : undefined),
  };
  clientTests(spec);
  teamServerTest(spec);
});
