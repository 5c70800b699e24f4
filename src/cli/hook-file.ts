// The installed hook file: the built dist/qemu with "node" replaced by the absolute path of the
// Node that ran `install` (libvirt runs hooks with a minimal PATH), a marker line that says the
// file is ours, and, when the policy is not at its default path, the path it must read (libvirt
// scrubs the hook's environment, so NWFILTER_HOOK_POLICY cannot reach it).
//
// dist/qemu starts either with `#!/usr/bin/env node`, or with `#!/bin/sh` and a line that is
// shell and JavaScript at once and runs `node "$0" "$@"` for the calls that have work to do. Both
// are handled: the node is set where it is named, and our lines go after that header (and after
// a "use strict" directive, which must stay in the directive prologue).
import { chmodSync, closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { DEFAULT_POLICY_PATH, ENV_POLICY } from "../core/constants.js";
import { HostError } from "../core/errors.js";
import { fsError } from "./errors.js";
import { hookLocations } from "./paths.js";

export const HOOK_MARKER = "// nwfilter-hook: installed by 'nwfilter-hook install'";

/** How many lines from the top our marker and policy line may stand on. */
const HEADER_LINES = 6;

export interface HookFileOptions {
  /** The built hook, as read from dist/qemu. */
  bundle: string;
  nodePath: string;
  /** Baked into the hook when it is not the default path. */
  policyPath: string;
  version: string;
}

/**
 * The shell line's `node [--option ...] "$0" "$@"`, with whatever node it names (the line may run
 * it twice); among the options, the `${s:+...}` words that pass a startup snapshot.
 */
const EXEC_NODE = /(?<=[\s=])([^\s"=$-][^\s"=]*)(?=(?: --[\w-]+| \$\{s:\+[^}\s]*\})* "\$0" "\$@")/;
const EXEC_NODE_ALL = new RegExp(EXEC_NODE.source, "g");

function lineAt(text: string, pos: number): { line: string; next: number } {
  const nl = text.indexOf("\n", pos);
  return nl === -1 ? { line: text.slice(pos), next: text.length } : { line: text.slice(pos, nl), next: nl + 1 };
}

export function hookContent(options: HookFileOptions): string {
  const { bundle, nodePath, policyPath, version } = options;
  if (!/^\/[A-Za-z0-9_./+@-]+$/.test(nodePath)) {
    throw new HostError(`the path of node cannot stand on a '#!' or shell line as it is (absolute, no spaces or quotes): ${JSON.stringify(nodePath)}`);
  }
  if (nodePath.length > 120) throw new HostError(`the path of node is too long for a '#!' line (${nodePath.length} > 120 characters): ${nodePath}`);
  const head: string[] = [];
  let pos = 0;
  const first = lineAt(bundle, 0);
  if (first.line.startsWith("#!")) {
    pos = first.next;
    const shell = /^#!\s*\/bin\/(da|ba)?sh\b/.test(first.line);
    if (shell) {
      const trampoline = lineAt(bundle, pos);
      if (!EXEC_NODE.test(trampoline.line)) throw new HostError('the built hook starts with #!/bin/sh but has no \'node ... "$0" "$@"\' line: rebuild it');
      head.push(first.line, trampoline.line.replace(EXEC_NODE_ALL, nodePath));
      pos = trampoline.next;
    } else {
      head.push(`#!${nodePath}`);
    }
  } else {
    head.push(`#!${nodePath}`);
  }
  // A "use strict" directive (alone on its line, or followed by minified code) stays first.
  const strict = /^(["'])use strict\1;?[ \t]*\n?/.exec(bundle.slice(pos, pos + 32));
  if (strict) {
    head.push('"use strict";');
    pos += strict[0].length;
  }
  head.push(`${HOOK_MARKER} (version ${version}); do not edit: install again to change it`);
  if (policyPath !== DEFAULT_POLICY_PATH) head.push(`process.env.${ENV_POLICY}=${JSON.stringify(policyPath)};`);
  return `${head.join("\n")}\n${bundle.slice(pos)}`;
}

function headLines(text: string): string[] {
  return text.slice(0, 16 * 1024).split("\n", HEADER_LINES);
}

export function isOurs(text: string): boolean {
  return headLines(text).some((l) => l.startsWith(HOOK_MARKER));
}

/** The policy path an installed hook of ours reads. */
export function bakedPolicyPath(text: string): string {
  const re = new RegExp(`^process\\.env\\.${ENV_POLICY}=("(?:[^"\\\\]|\\\\.)*");$`);
  for (const line of headLines(text)) {
    const m = re.exec(line);
    if (m?.[1]) return JSON.parse(m[1]) as string;
  }
  return DEFAULT_POLICY_PATH;
}

/** The Node an installed hook runs: on its '#!' line, or in its shell line's exec. */
export function interpreterOf(text: string): string | undefined {
  const [first = "", second = ""] = headLines(text);
  if (!first.startsWith("#!")) return undefined;
  const shebang = first.slice(2).trim().split(/\s+/)[0];
  if (shebang !== undefined && /^\/bin\/(da|ba)?sh$/.test(shebang)) return EXEC_NODE.exec(second)?.[1];
  return shebang;
}

export interface InstalledHook {
  path: string;
  text: string;
  mode: number;
}

/** Reads a file, or undefined when it does not exist. */
export function readIfExists(path: string): { text: string; mode: number } | undefined {
  try {
    const st = statSync(path);
    if (!st.isFile()) return { text: "", mode: st.mode };
    return { text: readFileSync(path, "utf8"), mode: st.mode };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw fsError(error, "read", path);
  }
}

/** Our installed hooks in a hooks directory: qemu.d/50-nwfilter-hook and/or hooks/qemu. */
export function findInstalledHooks(hooksDir: string): InstalledHook[] {
  const found: InstalledHook[] = [];
  const where = hookLocations(hooksDir);
  for (const path of [where.qemuD, where.main]) {
    const file = readIfExists(path);
    if (file && isOurs(file.text)) found.push({ path, ...file });
  }
  return found;
}

/**
 * Writes a file so that no reader ever sees it half-written: a temporary file, its mode set,
 * then renamed over the target. The temporary file is made in `tempDir`, which must be on the
 * same file system; for qemu.d that is the hooks directory itself, where libvirt runs only files
 * with fixed names (in qemu.d it would run any executable file, the temporary one included).
 */
export function writeAtomically(path: string, data: string | Uint8Array, mode: number, tempDir: string = dirname(path)): void {
  const temp = join(tempDir, `.${basename(path)}.tmp-${process.pid}`);
  try {
    const fd = openSync(temp, "w", 0o600);
    try {
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(temp, mode);
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw fsError(error, "write", path);
  }
}
