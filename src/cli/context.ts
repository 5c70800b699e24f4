// Everything a command touches outside its arguments, in one place, so that tests can run the
// commands in-process with their own virsh, daemon and output.
import type { DaemonControl } from "../host/daemon.js";
import type { HostFiles } from "../host/host-files.js";
import type { RunOptions, RunResult } from "../host/run-file.js";
import type { Virsh } from "../host/virsh.js";

export type { RunOptions, RunResult } from "../host/run-file.js";

export interface Context {
  env: Readonly<Record<string, string | undefined>>;
  /** Text (written as UTF-8) or bytes, written as they are. */
  stdout: (text: string | Uint8Array) => void;
  stderr: (text: string) => void;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  stdinIsTTY: boolean;
  /** Terminal width, when stdout is a terminal. */
  columns: number | undefined;
  readStdin(): Uint8Array;
  /** The effective uid (0 for root). */
  euid: number | undefined;
  /** The absolute path of the Node binary running the CLI: the installed hook's interpreter. */
  execPath: string;
  /** The directory of the CLI bundle (dist/): the built hook is dist/qemu beside it. */
  bundleDir: string;
  /** The package root: nwfilter/ is there. */
  packageRoot: string;
  /** A virsh for a connection URI. */
  virsh(uri: string): Virsh;
  daemon: DaemonControl;
  /** The host's files (src/host/host-files.ts). */
  files: HostFiles;
  /** Runs a program (the installed hook, for its self-test). */
  runFile(path: string, args: readonly string[], options: RunOptions): RunResult;
  /** The environment the self-test runs the installed hook in; default: what libvirt gives a hook. */
  hookEnv?: Record<string, string>;
  sleep(ms: number): void;
}
