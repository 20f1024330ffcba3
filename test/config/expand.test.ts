// ${VAR} expansion and masking are literal: `$$`, `$&`, `$'` and `` $` `` in a value are its own bytes.
import { describe, expect, it } from 'vitest';
import { expandValue } from '../../src/config/env.js';
import { Logger } from '../../src/util/log.js';
import { redactor } from '../../src/app/secrets.js';

const SPECIAL = "p$$q$&r$'s$`t$1";

describe('expandValue', () => {
  it("copies a value with String.replace's patterns byte for byte, wherever it sits", () => {
    for (const text of ['${V}', 'a ${V} b', '${V}${V}', 'Bearer ${V:-x}']) {
      expect(expandValue(text, { V: SPECIAL }).value).toBe(text.replace(/\$\{V(:-x)?\}/g, () => SPECIAL));
    }
    expect(expandValue('${U:-d$&f}', {}).value).toBe('d$&f');
  });

  it('reports used and missing variables; an empty value takes the default', () => {
    expect(expandValue('${A}${B:-b}${C}', { A: 'a', B: '' })).toEqual({
      value: 'ab',
      parts: undefined,
      used: [
        { name: 'A', set: true, hasDefault: false },
        { name: 'B', set: true, hasDefault: true },
        { name: 'C', set: false, hasDefault: false },
      ],
      missing: ['C'],
    });
  });

  it('finds a command only in the text itself, never in a value', () => {
    expect(expandValue('${V}', { V: '${cmd:id}' })).toMatchObject({ value: '${cmd:id}', parts: undefined });
    expect(expandValue('k=${V};${cmd:id}', { V: SPECIAL }).parts).toEqual([`k=${SPECIAL};`, { run: 'cmd', command: 'id', text: '${cmd:id}' }]);
  });
});

describe('masking', () => {
  it('the logger and the report redactor mask a secret holding $$, $& and $\' whole', () => {
    const lines: string[] = [];
    const logger = new Logger('info', { write: (s: string) => lines.push(s) } as unknown as NodeJS.WritableStream);
    logger.addSecret(SPECIAL);
    logger.warn(`token=${SPECIAL}; again ${SPECIAL}`);
    expect(lines).toEqual(['mcpx warn: token=****; again ****\n']);
    expect(redactor([SPECIAL])(`x ${SPECIAL} y`)).toBe('x **** y');
  });
});
