import { watch, type FSWatcher } from 'node:fs';

/**
 * Watches folders recursively and calls onChange once per burst of file events: an editor's save, a
 * `git checkout`, or a copy of many files produce dozens of events and should cost one reload. The
 * timer restarts on each event (debounce) but fires at least every maxWaitMs during a long burst.
 */
export interface FolderWatch {
  close(): void;
}

export function watchFolders(
  dirs: readonly string[],
  onChange: () => void,
  { debounceMs = 150, maxWaitMs = 1000, onError = (_dir: string, _e: Error) => {} } = {},
): FolderWatch {
  let timer: NodeJS.Timeout | undefined;
  let burstStart = 0;
  const fire = () => {
    timer = undefined;
    burstStart = 0;
    onChange();
  };
  const schedule = () => {
    const now = Date.now();
    burstStart ||= now;
    if (timer) clearTimeout(timer);
    timer = setTimeout(fire, Math.max(0, Math.min(debounceMs, burstStart + maxWaitMs - now)));
  };

  const watchers: FSWatcher[] = [];
  for (const dir of dirs) {
    try {
      const w = watch(dir, { recursive: true }, schedule);
      w.on('error', (e) => onError(dir, e));
      watchers.push(w);
    } catch (e) {
      // No watch (e.g. inotify limit reached): the server still works, it just will not notice changes.
      onError(dir, e as Error);
    }
  }
  return {
    close() {
      if (timer) clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
