import { stem } from './tokens.js';

/**
 * Developer vocabulary that names the same thing in different words: a query word brings in the other
 * words of its groups, at a lower weight than the word itself. Small and hand-written on purpose: each
 * group is a sense a developer means when asking for a tool (bench/tool-search.mjs measures the gain).
 */
const GROUPS: readonly string[] = [
  'find search query lookup locate grep seek discover match',
  'get read fetch retrieve show view open display load see look obtain contents content dump',
  'list enumerate browse all overview entire everything whole',
  'create add new make insert post start register',
  'update edit modify change patch set alter amend replace',
  'delete remove erase drop destroy trash discard archive',
  'write save store put record persist',
  'move rename relocate transfer',
  'copy duplicate clone',
  'child children below under sub nested descendant',
  'watch watcher watching follow subscribe',
  'assign assignee owner give hand',
  'permission permitted allowed access restriction restrictions can',
  'publish create',
  'batch bulk many multiple several',
  'file path',
  'folder directory dir tree',
  'doc docs documentation reference guide manual example snippet',
  'library package framework module dependency sdk',
  'page wiki article',
  'confluence wiki',
  'jira ticket tracker',
  'memory remember knowledge graph forget',
  'image picture photo screenshot png media',
  'file disk',
  'issue ticket bug task story epic',
  'comment reply remark discussion note',
  'user person people member account assignee who me',
  'project space workspace',
  'transition status state workflow move progress',
  'label tag',
  'link relation relate connect attach connection',
  'worklog time log spent hour',
  'attachment upload download',
  'database table row',
  'entity node object',
  'observation fact',
  'block paragraph body child',
  'info metadata detail details stat stats size',
  'version release fix',
  'sprint iteration',
  'board kanban agile',
  'field custom property properties attribute',
  'sum add plus calculate total',
  'echo repeat back',
  'env environment variable variables config',
  'id identifier key resolve',
  'history changelog changes',
];

export type Synonyms = ReadonlyMap<string, readonly string[]>;

/** word → the other words of its groups, built for plain words or for stems. */
export function synonymTable(stemmed: boolean): Synonyms {
  const out = new Map<string, Set<string>>();
  for (const g of GROUPS) {
    const ws = [...new Set(g.split(' ').map((w) => (stemmed ? stem(w) : w)))];
    for (const w of ws) {
      const set = out.get(w) ?? new Set<string>();
      for (const o of ws) if (o !== w) set.add(o);
      out.set(w, set);
    }
  }
  return new Map([...out].map(([w, s]) => [w, [...s]]));
}
