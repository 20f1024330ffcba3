import type { StandardDoc } from './types.js';

/** Markdown shown to a model: a one-line metadata header, then the document itself. */
export function renderStandard(doc: StandardDoc): string {
  return `${metadataLine(doc)}\n\n${doc.text}`;
}

export function metadataLine(doc: StandardDoc): string {
  const parts = [`id: ${doc.id}`, `category: ${doc.category}`];
  if (doc.tags.length > 0) parts.push(`tags: ${doc.tags.join(', ')}`);
  if (doc.severity) parts.push(`severity: ${doc.severity}`);
  if (doc.appliesTo.length > 0) parts.push(`applies to: ${doc.appliesTo.join(', ')}`);
  return `> ${parts.join(' · ')}`;
}

/** Several documents in one answer, separated so a reader sees where one ends. */
export function renderStandards(docs: readonly StandardDoc[]): string {
  return docs.map(renderStandard).join('\n\n---\n\n');
}
