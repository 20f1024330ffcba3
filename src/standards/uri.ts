/** `standards://<id>`: each path segment of the id percent-encoded, so any file name makes a valid URI. */
export const URI_PREFIX = 'standards://';

export function standardUri(id: string): string {
  return URI_PREFIX + id.split('/').map(encodeURIComponent).join('/');
}

/** The id inside a standards:// URI, or undefined for anything else. */
export function idFromUri(uri: string): string | undefined {
  if (!uri.startsWith(URI_PREFIX)) return undefined;
  try {
    return uri.slice(URI_PREFIX.length).split('/').map(decodeURIComponent).join('/');
  } catch {
    return undefined;
  }
}
