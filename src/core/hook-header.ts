// The top of the hook file: what scripts/build.mjs writes, what `install` adds for this host, and
// what `check`, `install` and `uninstall` read back from an installed hook. Pure text, one
// definition for the writers and the readers:
//
//   #!/bin/sh
//   ":" //; case "$2 $3" in ... esac; s=; [ "$2" = prepare ] && exec node ... "$0" "$@"; ...
//   "use strict";
//   // nwfilter-hook: installed by 'nwfilter-hook install' (version 0.1.0); do not edit: ...
//   process.env.NWFILTER_HOOK_POLICY="/srv/policy.ini";
//   const startupCache = ["/var/cache/nwfilter-hook/0123456789abcdef.cache", "DEV:INO:SIZE:CTIME"];
//   const startupId = "0123456789abcdef";
//   ...the loader and the payload (src/core/hook-payload.ts)
//
// The build writes the shell line with `node`, the directive and the body. `install` names its
// own Node in place of `node` (libvirt runs hooks with a minimal PATH), adds the marker line that
// says the file is ours, the policy line when the policy is not at its default path (libvirt scrubs
// the hook's environment, so the variable cannot reach it), and the startup cache it recorded
// (src/host/startup-cache.ts): a snapshot's check on the shell line, or a code cache's line here.
import { DEFAULT_POLICY_PATH, ENV_LOG_FD, ENV_POLICY, PRODUCT } from "./constants.js";
import { HostError } from "./errors.js";
import { payloadText, startupIdLine } from "./hook-payload.js";

/**
 * The V8 flags a startup snapshot is built and run with: V8 refuses a snapshot built under other
 * flags. V8 10 (Node 18) checksums a snapshot at every start by default, a good part of a Node
 * start (bench/RESULTS.md); V8 11 and later (Node 20) do only in debug builds. The shell
 * line passes the snapshot only once its check has shown the file is the one install recorded and tried.
 */
export const SNAPSHOT_V8_FLAGS: readonly string[] = ["--no-verify-snapshot-checksum"];

// libvirt runs the hook five times in every start/stop cycle, and only prepare, migrate and
// restore begin have work to do. The hook therefore starts as a shell script that runs Node only
// for those calls: the others cost a /bin/sh start instead of a Node start. The second line is
// valid in both languages: for sh, ':' is a no-op command; for JavaScript, a string followed by a
// comment.
// - prepare execs Node: it is the call every start waits on, and it logs only when it refuses or
//   warns (Node then spawns `logger` itself).
// - migrate and restore usually log what they added. Node writes its syslog lines to descriptor 3
//   (ENV_LOG_FD), and the shell hands them to `logger` in the background once Node has exited, so
//   that the call never waits for logging and Node never loads child_process. Node's stdout and
//   stderr pass through untouched (descriptor 4 carries stdout around the capture) and its exit
//   status is the hook's.
// Node's options spare it work the hook never needs: resolving the real path of the hook file, and
// computing the global module folders (the hook requires only Node's own modules). They are Node
// options, not V8 flags, so the code cache and Node's own snapshot stay valid.
// `s=;` is the slot of the startup snapshot: `install` puts there, for a Node that gains from one,
// a check of the snapshot it recorded for that very Node, which sets s to the snapshot's path only
// when the check holds. Empty, the ${s:+...} words vanish and Node starts the hook file as usual.
const NODE_OPTIONS = "--preserve-symlinks-main --no-global-search-paths";
const SNAPSHOT_SLOT = "; s=; ";
const SNAPSHOT_WORDS = [...SNAPSHOT_V8_FLAGS, "--snapshot-blob"].map((w) => `\${s:+${w}}`).join(" ");
const NODE_RUN = `node ${NODE_OPTIONS} ${SNAPSHOT_WORDS} \${s:+"$s"} "$0" "$@"`;
const BUILT_HEADER = [
  "#!/bin/sh",
  `":" //; case "$2 $3" in "prepare begin"|"migrate begin"|"restore begin") ;; *) exit 0;; esac${SNAPSHOT_SLOT}[ "$2" = prepare ] && exec ${NODE_RUN}; ` +
    `{ l=$(${ENV_LOG_FD}=3 ${NODE_RUN} 3>&1 >&4 4>&-); r=$?; } 4>&1; ` +
    `[ -n "$l" ] && { { printf '%s\\n' "$l" | logger --prio-prefix -t ${PRODUCT}; } >/dev/null 2>&1 & }; exit $r`,
].join("\n");

export interface BuiltHook {
  /** The code's id (src/core/hook-payload.ts). */
  id: string;
  /** The loader, bundled (src/hook/loader.ts). */
  loader: string;
  /** The hook's code, wrapped (`wrapCode`), and V8's code cache for it, base64. */
  code: string;
  cacheBase64: string;
}

/** dist/qemu as scripts/build.mjs writes it. */
export function builtHookText(hook: BuiltHook): string {
  // One directive for the whole file: it must come first, before the lines install adds.
  const loader = hook.loader.replace(/^(["'])use strict\1;\s*/, "").trimEnd();
  return [BUILT_HEADER, '"use strict";', startupIdLine(hook.id), loader, payloadText(hook.code, hook.cacheBase64), ""].join("\n");
}

export const HOOK_MARKER = "// nwfilter-hook: installed by 'nwfilter-hook install'";

/** How many lines from the top our marker and policy line may stand on. */
const HEADER_LINES = 6;
/** How much of a file the readers look at: the header, never the payload. */
const HEAD_BYTES = 16 * 1024;
const SAFE_NODE_PATH = /^\/[A-Za-z0-9_./+@-]+$/;

/**
 * The shell line's `node [--option ...] "$0" "$@"`, with whatever node it names (the line may run
 * it twice); among the options, the `${s:+...}` words that pass a startup snapshot.
 */
const EXEC_NODE = /(?<=[\s=])([^\s"=$-][^\s"=]*)(?=(?: --[\w-]+| \$\{s:\+[^}\s]*\})* "\$0" "\$@")/;
const EXEC_NODE_ALL = new RegExp(EXEC_NODE.source, "g");
const SHELL = /^#!\s*\/bin\/(da|ba)?sh\b/;

export interface HookFileOptions {
  /** The built hook, as read from dist/qemu. */
  bundle: string;
  nodePath: string;
  /** Named in the hook when it is not the default path. */
  policyPath: string;
  version: string;
}

function lineAt(text: string, pos: number): { line: string; next: number } {
  const nl = text.indexOf("\n", pos);
  return nl === -1 ? { line: text.slice(pos), next: text.length } : { line: text.slice(pos, nl), next: nl + 1 };
}

/**
 * The hook as `install` writes it, before its startup cache: the built hook with the absolute
 * path of its Node and our lines. A built hook that starts with `#!/usr/bin/env node` gets that
 * Node on its '#!' line; one that starts with `#!/bin/sh` on every run of node on its shell line.
 */
export function hookContent(options: HookFileOptions): string {
  const { bundle, nodePath, policyPath, version } = options;
  if (!SAFE_NODE_PATH.test(nodePath)) {
    throw new HostError(`the path of node cannot stand on a '#!' or shell line as it is (absolute, no spaces or quotes): ${JSON.stringify(nodePath)}`);
  }
  if (nodePath.length > 120) throw new HostError(`the path of node is too long for a '#!' line (${nodePath.length} > 120 characters): ${nodePath}`);
  const head: string[] = [];
  let pos = 0;
  const first = lineAt(bundle, 0);
  if (first.line.startsWith("#!") && SHELL.test(first.line)) {
    const trampoline = lineAt(bundle, first.next);
    if (!EXEC_NODE.test(trampoline.line)) throw new HostError('the built hook starts with #!/bin/sh but has no \'node ... "$0" "$@"\' line: rebuild it');
    head.push(first.line, trampoline.line.replace(EXEC_NODE_ALL, nodePath));
    pos = trampoline.next;
  } else {
    head.push(`#!${nodePath}`);
    if (first.line.startsWith("#!")) pos = first.next;
  }
  // A "use strict" directive (alone on its line, or followed by minified code) stays first.
  const strict = /^(["'])use strict\1;?[ \t]*\n?/.exec(bundle.slice(pos, pos + 32));
  if (strict) {
    head.push('"use strict";');
    pos += strict[0].length;
  }
  head.push(`${HOOK_MARKER} (version ${version}); do not edit: install again to change it`);
  if (policyPath !== DEFAULT_POLICY_PATH) head.push(policyLine(policyPath));
  return `${head.join("\n")}\n${bundle.slice(pos)}`;
}

function policyLine(path: string): string {
  return `process.env.${ENV_POLICY}=${JSON.stringify(path)};`;
}
const POLICY_LINE = new RegExp(`^process\\.env\\.${ENV_POLICY}=("(?:[^"\\\\]|\\\\.)*");$`);

function headLines(text: string): string[] {
  return text.slice(0, HEAD_BYTES).split("\n", HEADER_LINES);
}

export function isOurs(text: string): boolean {
  return headLines(text).some((l) => l.startsWith(HOOK_MARKER));
}

/** The policy path an installed hook of ours reads. */
export function bakedPolicyPath(text: string): string {
  for (const line of headLines(text)) {
    const m = POLICY_LINE.exec(line);
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

export type StartupKind = "snapshot" | "code-cache";

export interface StartupCache {
  kind: StartupKind;
  /** The snapshot or code cache file. */
  file: string;
  /** For a snapshot: the shell test that must hold before Node is given it. */
  shellCheck?: string;
  /** For a code cache: the file's identity (`fileIdentity`), as the loader compares it. */
  identity?: string;
}

/**
 * How `stat -L --printf` shows each file in a snapshot's check: owner, group, mode, device, inode,
 * size, mtime and ctime (every write changes the ctime, which nobody can set), to the nanosecond.
 */
export const STAT_FORMAT = "%u:%g:%a:%d:%i:%s:%.9Y:%.9Z ";

/**
 * A snapshot's check on the shell line: `stat` shows the files (the snapshot, its directory, the
 * Node binary and its libnode) exactly as `install` saw them (`expected`), or s stays empty. The
 * paths and `expected` must hold no single quote.
 */
export function snapshotCheck(statBin: string, files: readonly string[], expected: string, snapshot: string): string {
  const quoted = [statBin, ...files, expected, snapshot].find((s) => s.includes("'"));
  if (quoted !== undefined) throw new HostError(`a snapshot's check cannot quote ${JSON.stringify(quoted)}`);
  return `[ "$(${statBin} -L --printf '${STAT_FORMAT}' -- ${files.map((f) => `'${f}'`).join(" ")} 2>/dev/null)" = '${expected}' ] && s='${snapshot}';`;
}
const SNAPSHOT_CHECK = /; s=; (\[ .*? \] && s='([^']+)';) \[ "\$2" = prepare \]/;

function codeCacheLine(file: string, identity: string): string {
  return `const startupCache = [${JSON.stringify(file)}, ${JSON.stringify(identity)}];`;
}
const CODE_CACHE_LINE = /^const startupCache = (\["[^"\n]*", "[^"\n]*"\]);$/m;

/** The installed hook's text with the recorded snapshot or code cache wired in. */
export function withStartupCache(content: string, cache: StartupCache | undefined): string {
  if (!cache) return content;
  if (cache.kind === "snapshot") {
    const start = lineAt(content, 0).next;
    const second = lineAt(content, start);
    if (!second.line.includes(SNAPSHOT_SLOT) || cache.shellCheck === undefined) return content;
    return `${content.slice(0, start)}${second.line.replace(SNAPSHOT_SLOT, `${SNAPSHOT_SLOT}${cache.shellCheck} `)}${content.slice(start + second.line.length)}`;
  }
  // After our marker line, and after the policy line when there is one.
  for (let i = 0, pos = 0; i < HEADER_LINES; i++) {
    const { line, next } = lineAt(content, pos);
    if (line.startsWith(HOOK_MARKER)) {
      const after = lineAt(content, next);
      const at = POLICY_LINE.test(after.line) ? after.next : next;
      return `${content.slice(0, at)}${codeCacheLine(cache.file, cache.identity ?? "")}\n${content.slice(at)}`;
    }
    pos = next;
  }
  return content;
}

/** The snapshot or code cache an installed hook uses, from its text. */
export function startupCacheOf(text: string): StartupCache | undefined {
  const head = text.slice(0, HEAD_BYTES);
  const snap = SNAPSHOT_CHECK.exec(head);
  if (snap?.[1] && snap[2]) return { kind: "snapshot", file: snap[2], shellCheck: snap[1] };
  const cc = CODE_CACHE_LINE.exec(head);
  if (cc?.[1]) {
    const [file = "", identity = ""] = JSON.parse(cc[1]) as string[];
    return { kind: "code-cache", file, identity };
  }
  return undefined;
}
