// What tells the watcher where to look between resyncs: libvirt's events (`LC_ALL=C virsh event
// --all --loop --timestamp`, one line per event, src/watch/events.ts) and changes to the files of
// the persistent definitions (libvirt rewrites /etc/libvirt/qemu/NAME.xml on every persistent
// change, `attach-device --config` included, which fires no event), of libvirt's filters and of
// the admin's custom filters.
// Both only name things: the watcher looks them up and decides.
import type { Clock } from "../host/clock.js";
import type { FileWatcher } from "../host/file-watch.js";
import type { ChildHandle, ProcessSpawner } from "../host/processes.js";
import { LineSplitter, hintOf, parseEventLine } from "./events.js";

export interface EventStreamOptions {
  spawner: ProcessSpawner;
  binary: string;
  uri: string;
  env: NodeJS.ProcessEnv;
  /** An event names a domain worth a look. */
  domain(name: string): void;
  /** A line virsh printed on stderr. */
  warning(line: string): void;
  /** The stream ended by itself (virsh exited or could not start). */
  ended(why: string): void;
}

/** `virsh event --all --loop`, started once connected and stopped when the connection goes. */
export class EventStream {
  private child: ChildHandle | undefined;

  constructor(private readonly options: EventStreamOptions) {}

  get running(): boolean {
    return this.child?.running ?? false;
  }

  start(): void {
    this.stop();
    const lines = new LineSplitter();
    const errors = new LineSplitter();
    const { options } = this;
    const child: ChildHandle = options.spawner.spawn(
      options.binary,
      ["-c", options.uri, "event", "--all", "--loop", "--timestamp"],
      { ...options.env, LC_ALL: "C" },
      {
        stdout: (chunk) => {
          if (this.child !== child) return;
          for (const line of lines.push(chunk)) {
            const event = parseEventLine(line);
            if (!event) continue;
            const hint = hintOf(event);
            if (hint !== "none" && hint !== "gone") options.domain(event.domain);
          }
        },
        stderr: (chunk) => {
          for (const line of errors.push(chunk)) if (line.trim() !== "") options.warning(line.trim());
        },
        exit: (code, signal) => {
          if (this.child !== child) return;
          this.child = undefined;
          options.ended(`the event stream ended (virsh event exited ${signal ?? code})`);
        },
        error: (error) => {
          if (this.child !== child) return;
          this.child = undefined;
          options.ended(`cannot run virsh event: ${error.message}`);
        },
      },
    );
    this.child = child;
  }

  stop(): void {
    const child = this.child;
    this.child = undefined;
    child?.kill("SIGTERM");
  }
}

export interface DefinitionFilesOptions {
  files: FileWatcher;
  clock: Clock;
  /** Where libvirt keeps persistent domain definitions (NAME.xml). */
  configDir: string;
  /** Where libvirt keeps nwfilter definitions (NAME.xml). */
  nwfilterDir: string;
  /** A definition's file changed. */
  domain(name: string): void;
  /** A filter's file changed and has settled (libvirt writes it before it is done with the definition). */
  filter(name: string): void;
  /** The admin's custom filters (NAME.xml); watched when the directory exists. */
  customDir: string;
  /** A custom filter's file changed and has settled. */
  custom(name: string): void;
  warning(message: string): void;
  settleMs?: number;
}

/** The definitions' files, watched for as long as the watcher runs (whether connected or not). */
export class DefinitionFiles {
  private readonly watchers: Array<{ close(): void }> = [];
  private readonly settling = new Map<string, unknown>();

  constructor(private readonly options: DefinitionFilesOptions) {}

  start(): void {
    const { options } = this;
    this.watch(options.configDir, (name) => options.domain(name));
    this.watch(options.nwfilterDir, (name) => this.settle(`nwfilter\0${name}`, () => options.filter(name)));
    // A host without custom filters may have no such directory: nothing to watch, nothing to say.
    this.watch(options.customDir, (name) => this.settle(`custom\0${name}`, () => options.custom(name)), true);
  }

  /** Calls `fn` once the file has been quiet for a while, once per burst of writes. */
  private settle(key: string, fn: () => void): void {
    if (this.settling.has(key)) return;
    this.settling.set(
      key,
      this.options.clock.setTimeout(() => {
        this.settling.delete(key);
        fn();
      }, this.options.settleMs ?? 200),
    );
  }

  private watch(dir: string, onName: (name: string) => void, optional = false): void {
    try {
      this.watchers.push(this.options.files.watch(dir, (file) => file.endsWith(".xml") && !file.startsWith(".") && onName(file.slice(0, -4))));
    } catch (error) {
      if (optional && (error as NodeJS.ErrnoException).code === "ENOENT") return;
      this.options.warning(`cannot watch ${dir}: ${(error as NodeJS.ErrnoException).code ?? String(error)} (events and resyncs still apply)`);
    }
  }

  stop(): void {
    for (const w of this.watchers.splice(0)) w.close();
    for (const t of this.settling.values()) this.options.clock.clearTimeout(t);
    this.settling.clear();
  }
}
