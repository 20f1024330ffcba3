// Unit tests (no process): the URI template matcher and resource routing by listing, template,
// scheme and sole owner.
import { describe, expect, it } from 'vitest';
import type { Child } from '../../src/children/child.js';
import { Routing, schemeOf } from '../../src/runtime/routing.js';
import { compileTemplate } from '../../src/runtime/uri-template.js';

describe('compileTemplate', () => {
  it.each([
    ['fixture://a/items/{id}', 'fixture://a/items/7', { id: '7' }],
    ['demo://resource/dynamic/text/{resourceId}', 'demo://resource/dynamic/text/42', { resourceId: '42' }],
    ['db://{schema}/{table}', 'db://public/users', { schema: 'public', table: 'users' }],
    ['file:///{+path}', 'file:///src/a b/c.ts', { path: 'src/a b/c.ts' }],
    ['doc://x{#frag}', 'doc://x#intro', { frag: 'intro' }],
    ['a.b://{x}?q=1', 'a.b://v?q=1', { x: 'v' }], // literal regex characters are literal
    ['static://no/vars', 'static://no/vars', {}],
    ['x://{v%20a}', 'x://1', { 'v%20a': '1' }],
  ])('%s matches %s', (template, uri, vars) => {
    expect(compileTemplate(template)!(uri)).toEqual(vars);
  });

  it.each([
    ['fixture://a/items/{id}', 'fixture://a/items/7/extra'], // {var} stops at '/'
    ['fixture://a/items/{id}', 'fixture://a/items/'], // a variable is not empty
    ['fixture://a/items/{id}', 'fixture://b/items/7'],
    ['fixture://a/items/{id}', 'xfixture://a/items/7'], // anchored at both ends
    ['a.b://{x}', 'aXb://v'],
    ['q://{x}', 'q://a?b'],
  ])('%s does not match %s', (template, uri) => {
    expect(compileTemplate(template)!(uri)).toBeUndefined();
  });

  it.each(['x://{?q}', 'x://{/p}', 'x://{a,b}', 'x://{a*}', 'x://{a:3}', 'x://{}', 'x://{a', 'x://a}', 'x://{;p}'])(
    'refuses %s (beyond {var} and {+var})',
    (template) => expect(compileTemplate(template)).toBeUndefined(),
  );
});

describe('schemeOf', () => {
  it('reads the scheme, lower-cased, or nothing', () => {
    expect(schemeOf('Fixture://a')).toBe('fixture');
    expect(schemeOf('urn:isbn:1')).toBe('urn');
    expect(schemeOf('{base}/x')).toBeUndefined();
    expect(schemeOf('no-scheme')).toBeUndefined();
  });
});

/** A child as routing sees it: a name, a catalog, a state and (once connected) its capabilities. */
function child(name: string, opts: { resources?: string[]; templates?: string[]; caps?: object | null; state?: string } = {}): Child {
  return {
    name,
    config: { prefix: name, tools: { include: [], exclude: [] } },
    catalog: {
      tools: [],
      prompts: [],
      resources: (opts.resources ?? []).map((uri) => ({ uri, name: uri })),
      resourceTemplates: (opts.templates ?? []).map((uriTemplate) => ({ uriTemplate, name: uriTemplate })),
    },
    state: { kind: opts.state ?? 'ready' },
    serverCapabilities: opts.caps === null ? undefined : (opts.caps ?? { resources: {} }),
  } as unknown as Child;
}

function routing(...children: Child[]): Routing {
  const r = new Routing();
  r.rebuild(children);
  return r;
}

const owner = (r: Routing, uri: string) => {
  const route = r.resolveResource(uri);
  if (!route) return undefined;
  return 'child' in route ? `${route.child.name} by ${route.by}` : `${route.candidates.map((c) => c.name).join('|')} by ${route.by}`;
};

describe('Routing.resolveResource', () => {
  const a = child('a', { resources: ['fix://a/readme', 'fix://shared'], templates: ['fix://a/items/{id}'] });
  const b = child('b', { resources: ['fix://b/readme', 'fix://shared'], templates: ['fix://b/items/{id}', 'fix://any/{x}'] });
  const c = child('c', { resources: ['c://readme'], templates: ['fix://any/{x}'] });
  const tools = child('tools', { caps: { tools: {} } });

  it('a listed URI goes to its lister, the first configured on a tie', () => {
    const r = routing(a, b, c, tools);
    expect(owner(r, 'fix://b/readme')).toBe('b by listed');
    expect(owner(r, 'fix://shared')).toBe('a by listed');
  });

  it('an unlisted URI goes to the one child whose template matches it; several matching are candidates', () => {
    const r = routing(a, b, c, tools);
    expect(owner(r, 'fix://b/items/9')).toBe('b by template');
    expect(owner(r, 'fix://any/1')).toBe('b|c by template');
  });

  it('else to the one child using its scheme; several using it are candidates', () => {
    const r = routing(a, b, c, tools);
    expect(owner(r, 'c://other')).toBe('c by scheme');
    expect(owner(r, 'fix://nowhere/else')).toBe('a|b|c by scheme'); // c's template uses fix: too
  });

  it('else to the only child offering resources at all; several are candidates; none is unknown', () => {
    expect(owner(routing(a, tools), 'test://watched-resource')).toBe('a by only-owner');
    expect(owner(routing(a, b, c, tools), 'test://watched-resource')).toBe('a|b|c by only-owner');
    expect(owner(routing(tools), 'test://watched-resource')).toBeUndefined();
  });

  it('a child that declared resources but lists none can still own a URI', () => {
    const empty = child('empty');
    expect(owner(routing(empty, tools), 'test://watched-resource')).toBe('empty by only-owner');
  });

  it('before connecting, a child counts as an owner by its stored catalog; disabled ones never', () => {
    const stored = child('stored', { resources: ['s://x'], caps: null, state: 'idle' });
    const unknown = child('unknown', { caps: null, state: 'idle' });
    const off = child('off', { resources: ['o://x'], caps: null, state: 'disabled' });
    expect(owner(routing(stored, unknown, off), 'test://y')).toBe('stored by only-owner');
  });

  it('follows the catalog: a rebuild with a new template routes by it', () => {
    const r = routing(a, b);
    expect(owner(r, 'fix://new/1')).toBe('a|b by scheme');
    r.rebuild([a, child('b', { templates: ['fix://new/{n}'] })]);
    expect(owner(r, 'fix://new/1')).toBe('b by template');
  });
});
