// Fakes of the watcher's host collaborators (src/host/processes.ts, file-watch.ts): processes
// whose output the test writes and whose end the test decides, and file changes the test announces.
import type { FileWatcher } from "../../../../src/host/file-watch.js";
import type { ChildEvents, ChildHandle, ProcessSpawner } from "../../../../src/host/processes.js";

export interface FakeChild extends ChildHandle {
  command: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  events: ChildEvents;
  /** Signals it was sent. */
  signals: string[];
  /** It exits (as if by itself, or after a signal). */
  exit(code: number | null, signal?: string | null): void;
}

export function fakeSpawner(options: { onSpawn?: (child: FakeChild) => void } = {}) {
  const children: FakeChild[] = [];
  const spawner: ProcessSpawner = {
    spawn(command, args, env, events) {
      let running = true;
      const child: FakeChild = {
        command,
        args,
        env,
        events,
        signals: [],
        get running() {
          return running;
        },
        kill(signal = "SIGTERM") {
          child.signals.push(signal);
        },
        exit(code, signal = null) {
          if (!running) return;
          running = false;
          events.exit?.(code, signal);
        },
      };
      children.push(child);
      options.onSpawn?.(child);
      return child;
    },
  };
  return { spawner, children };
}

export function fakeFiles(options: { failFor?: string[] } = {}) {
  const watched = new Map<string, (name: string) => void>();
  const files: FileWatcher = {
    watch(dir, onFile) {
      if (options.failFor?.includes(dir)) throw Object.assign(new Error(`ENOENT: ${dir}`), { code: "ENOENT" });
      watched.set(dir, onFile);
      return { close: () => watched.delete(dir) };
    },
  };
  /** A file in `dir` changed. */
  const change = (dir: string, name: string) => watched.get(dir)?.(name);
  return { files, watched, change };
}
