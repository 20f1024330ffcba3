/** One standard as the server serves it: a Markdown document, or one rule of a YAML rule set. */
export interface StandardDoc {
  /** Stable id: the relative path without extension (`typescript/style`) or a YAML rule's own `id`. */
  id: string;
  title: string;
  category: string;
  tags: string[];
  severity?: string;
  /** Globs (picomatch) of the files this standard applies to; empty = not tied to particular files. */
  appliesTo: string[];
  /** Markdown text, front matter removed. */
  text: string;
  /** Absolute path of the file it came from. */
  file: string;
  /** Changes whenever anything a client can see changes: drives `resources/updated`. */
  hash: string;
}
