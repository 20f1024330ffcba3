import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { errorMessage } from '../errors.js';
import { log } from '../util/log.js';

/**
 * Watches the config file and the `.env` files its variables come from (beside the config, and in the
 * working directory), and calls onChange once per burst of events: an editor's save is several events,
 * and a file written in two steps usually lands within one burst (when it does not, the half file
 * fails validation and the last good config stays). Folders are watched rather than files: `.env` may
 * not exist yet, and many editors save by writing a new file and renaming it over the old one.
 */
export const DEBOUNCE_MS = 250;

export function watchConfigFiles(configFile: string, onChange: () => void, debounceMs = DEBOUNCE_MS): () => void {
  const names = new Map<string, Set<string>>();
  const want = (dir: string, name: string) => names.set(dir, (names.get(dir) ?? new Set()).add(name));
  want(dirname(configFile), basename(configFile));
  want(dirname(configFile), '.env');
  want(resolve('.'), '.env');

  let timer: NodeJS.Timeout | undefined;
  const watchers: FSWatcher[] = [];
  for (const [dir, files] of names) {
    try {
      const w = watch(dir, (_event, file) => {
        if (!file || !files.has(file.toString())) return;
        clearTimeout(timer);
        timer = setTimeout(onChange, debounceMs);
        timer.unref();
      });
      w.on('error', (e) => log.debug(`stopped watching ${dir}: ${errorMessage(e)}`));
      w.unref();
      watchers.push(w);
    } catch (e) {
      log.warn(`cannot watch ${dir} for config changes (${errorMessage(e)}); \`mcpx reload\` applies them`);
    }
  }
  return () => {
    clearTimeout(timer);
    for (const w of watchers) w.close();
  };
}
