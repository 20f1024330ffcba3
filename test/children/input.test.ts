// input_required rounds of a modern child (children/input.ts): answers asked through the bridge, requestState echoed.
import { describe, expect, it } from 'vitest';
import { MAX_INPUT_ROUNDS, runInputRounds } from '../../src/children/input.js';

describe('runInputRounds', () => {
  it('asks each embedded request, then retries with inputResponses and the requestState as it came', async () => {
    const sent: unknown[] = [];
    const state = 'opaque state \u00e9 {"x":1}';
    const send = async (params: Record<string, unknown> | undefined, allow: boolean) => {
      sent.push({ params, allow });
      return sent.length === 1
        ? { resultType: 'input_required', inputRequests: { who: { method: 'elicitation/create', params: { mode: 'url', message: 'Sign in', url: 'https://x' } }, r: { method: 'roots/list' } }, requestState: state }
        : { content: [] };
    };
    const asked: [string, unknown][] = [];
    const r = await runInputRounds(send, async (m, p) => (asked.push([m, p]), m === 'roots/list' ? { roots: [] } : { action: 'accept' }), { name: 't', arguments: { a: 1 } });
    expect(r).toEqual({ content: [] });
    expect(asked[0]![0]).toBe('elicitation/create');
    expect(asked[0]![1]).toMatchObject({ mode: 'url', elicitationId: expect.any(String) }); // a 2025 client needs one
    expect(asked[1]).toEqual(['roots/list', undefined]);
    expect(sent[1]).toEqual({ params: { name: 't', arguments: { a: 1 }, inputResponses: { who: { action: 'accept' }, r: { roots: [] } }, requestState: state }, allow: true });
  });

  it(`gives up after ${MAX_INPUT_ROUNDS} rounds with an error naming the limit`, async () => {
    let rounds = 0;
    const send = async () => (rounds++, { resultType: 'input_required', inputRequests: {} });
    await expect(runInputRounds(send, async () => ({}), {})).rejects.toThrow(`more than ${MAX_INPUT_ROUNDS} times`);
    expect(rounds).toBe(MAX_INPUT_ROUNDS);
  });
});
