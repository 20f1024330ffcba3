/**
 * mcpx's own tools besides mcpx__status (identity.ts): tool search's two meta tools and the pager of
 * results cut by the output budget. Imports nothing: the first tools/list answered before the runtime
 * loads (stored-list.ts) lists them too. Their descriptions are what makes a model use them, so they
 * say how to chain them; their size counts in every tools/list with search on (bench: ≤ 2 KB in all).
 */
export const FIND_TOOLS = {
  name: 'mcpx__find_tools',
  title: 'Find tools',
  description:
    'Search the tools of every MCP server behind mcpx; most are not listed, to save context. Describe the task in plain words; ' +
    'returns the best-matching tools, best first, with name, description and inputSchema. ' +
    'Then run one with mcpx__call_tool {name, arguments}, arguments following its inputSchema.',
  inputSchema: {
    type: 'object' as const,
    properties: {
      query: { type: 'string', description: 'What you want to do, e.g. "create a Jira issue"' },
      limit: { type: 'integer', minimum: 1, maximum: 20, description: 'How many tools (default 5)' },
    },
    required: ['query'],
  },
  annotations: { readOnlyHint: true, openWorldHint: false },
};

/** Not read-only: it runs whatever tool it is given, writes included (so clients may ask before it runs). */
export const CALL_TOOL = {
  name: 'mcpx__call_tool',
  title: 'Call a tool',
  description:
    "Run a tool that mcpx__find_tools returned, by its exact name, with arguments following its inputSchema. Returns the tool's own result.",
  inputSchema: {
    type: 'object' as const,
    properties: {
      name: { type: 'string', description: 'The tool name, as mcpx__find_tools returned it' },
      arguments: { type: 'object', description: "The tool's arguments" },
    },
    required: ['name'],
  },
};

export const MORE_TOOL = {
  name: 'mcpx__more',
  title: 'More of a long result',
  description: 'The next part of a tool result that mcpx cut to fit the output budget; the cut result names its handle and the next page.',
  inputSchema: {
    type: 'object' as const,
    properties: {
      handle: { type: 'string' },
      page: { type: 'integer', minimum: 1 },
    },
    required: ['handle', 'page'],
  },
  annotations: { readOnlyHint: true, openWorldHint: false },
};

export const SEARCH_TOOLS = [FIND_TOOLS, CALL_TOOL] as const;
