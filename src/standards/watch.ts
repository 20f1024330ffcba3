import { watch, type FSWatcher } from 'node:fs';

/**
 * Watches folders recursively and calls onChange once per burst of file events: an editor's save, a
 * `git checkout`, or a copy of many files produce dozens of events and should cost one reload. The
 * timer restarts on each event (debounce) but fires at least every maxWaitMs during a long burst.
 */
export interface FolderWatch {
  close(): void;
}

/**
 * The debounce of a burst: `schedule` on each event; `onChange` runs debounceMs after the last one, or
 * maxWaitMs after the first when the events keep coming.
 */
export function burstTimer(onChange: () => void, { debounceMs = 150, maxWaitMs = 1000 } = {}) {
  let timer: NodeJS.Timeout | undefined;
  let burstStart = 0;
  const fire = () => {
    timer = undefined;
    burstStart = 0;
    onChange();
  };
  return {
    schedule(): void {
      const now = Date.now();
      burstStart ||= now;
      if (timer) clearTimeout(timer);
      timer = setTimeout(fire, Math.max(0, Math.min(debounceMs, burstStart + maxWaitMs - now)));
    },
    cancel(): void {
      if (timer) clearTimeout(timer);
    },
  };
}

export function watchFolders(
  dirs: readonly string[],
  onChange: () => void,
  { debounceMs = 150, maxWaitMs = 1000, onError = (_dir: string, _e: Error) => {} } = {},
): FolderWatch {
  let watchers: FSWatcher[] = [];
  let closed = false;
  const open = (first: boolean) => {
    for (const w of watchers) w.close();
    watchers = [];
    for (const dir of dirs) {
      try {
        const w = watch(dir, { recursive: true }, () => burst.schedule());
        w.on('error', (e) => onError(dir, e));
        watchers.push(w);
      } catch (e) {
        // No watch (e.g. inotify limit reached): the server still works, it just will not notice changes.
        if (first) onError(dir, e as Error);
      }
    }
  };
  // Node 20's recursive watch on Linux follows files, not names: a file an editor saved by renaming a new
  // one into place is not watched any more, and a later in-place write to it would go unseen. Watching
  // afresh after each burst follows what the folders hold now.
  const burst = burstTimer(() => {
    if (!closed) open(false);
    onChange();
  }, { debounceMs, maxWaitMs });
  open(true);
  return {
    close() {
      closed = true;
      burst.cancel();
      for (const w of watchers) w.close();
    },
  };
}
