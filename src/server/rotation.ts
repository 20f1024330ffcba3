import { watch, type FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Config } from '../config/types.js';
import { errorMessage } from '../errors.js';
import { log } from '../util/log.js';
import { reloadCredentials, type Runtime } from './runtime.js';

/**
 * Token rotation without a restart: when a `.env` beside the config (or in the working directory)
 * changes, every child whose resolved env or headers changed is restarted in the background with the
 * new values (and so gets a new cache fingerprint). The folders are watched, since .env may not exist yet.
 */
export function watchCredentials(config: Config, runtime: Runtime): () => void {
  const dirs = [...new Set([dirname(config.file), resolve('.')])];
  let timer: NodeJS.Timeout | undefined;
  const reload = async () => {
    for (const child of runtime.hub.children) {
      if (child.state.kind === 'disabled' || child.state.kind === 'misconfigured') continue;
      if (await reloadCredentials(config, child)) void child.restart().catch((e) => log.warn(`${child.name}: ${errorMessage(e)}`));
    }
  };
  const watchers: FSWatcher[] = [];
  for (const dir of dirs) {
    try {
      const w = watch(dir, (_event, file) => {
        if (file !== '.env') return;
        clearTimeout(timer);
        timer = setTimeout(() => void reload(), 200); // an editor's save is several events
        timer.unref();
      });
      w.on('error', () => undefined);
      w.unref();
      watchers.push(w);
    } catch (e) {
      log.debug(`cannot watch ${dir} for .env changes: ${errorMessage(e)}`);
    }
  }
  return () => {
    clearTimeout(timer);
    for (const w of watchers) w.close();
  };
}
