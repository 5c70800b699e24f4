// Watching a directory for changed files (inotify through fs.watch), behind an interface, so
// that the watcher is tested with file changes a test announces.
import { watch } from "node:fs";

export interface FileWatcher {
  /** Calls onFile with the name of each file that changes in `dir`; throws when `dir` cannot be watched. */
  watch(dir: string, onFile: (name: string) => void): { close(): void };
}

export const nodeFileWatcher: FileWatcher = {
  watch(dir, onFile) {
    const w = watch(dir, { persistent: false }, (_type, file) => {
      if (typeof file === "string") onFile(file);
    });
    w.on("error", () => {});
    return { close: () => w.close() };
  },
};
