import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { errorMessage } from '../errors.js';
import { log } from '../util/log.js';

/**
 * Watches the config file and the `.env` its variables come from (beside it: the only one a config
 * reads), and calls onChange once per burst of events: an editor's save is several events,
 * and a file written in two steps usually lands within one burst (when it does not, the half file
 * fails validation and the last good config stays). Folders are watched rather than files: `.env` may
 * not exist yet, and many editors save by writing a new file and renaming it over the old one.
 */
export const DEBOUNCE_MS = 250;

export function watchConfigFiles(configFile: string, onChange: () => void, debounceMs = DEBOUNCE_MS): () => void {
  const dir = dirname(configFile);
  const files = new Set([basename(configFile), '.env']);
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, (_event, file) => {
      if (!file || !files.has(file.toString())) return;
      clearTimeout(timer);
      timer = setTimeout(onChange, debounceMs);
      timer.unref();
    });
    watcher.on('error', (e) => log.debug(`stopped watching ${dir}: ${errorMessage(e)}`));
    watcher.unref();
  } catch (e) {
    log.warn(`cannot watch ${dir} for config changes (${errorMessage(e)}); \`mcpx reload\` applies them`);
  }
  return () => {
    clearTimeout(timer);
    watcher?.close();
  };
}
