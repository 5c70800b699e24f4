// What makes the installed hook start fast on this host's Node, recorded by `install` for the
// Node the hook names, checked by `check`, removed by `uninstall`.
//
// - On a Node without a startup snapshot of its own (Debian's nodejs) and on Node 18, a user-land
//   startup snapshot of the hook (`node --snapshot-blob FILE --build-snapshot ENTRY`, see
//   src/hook/snapshot.ts). A snapshot fits only the Node binary that built it: another one
//   aborts on it (Node 18 does not check). So the hook's shell line uses it only after one
//   `stat` of the snapshot, its directory, the Node binary and its libnode shows exactly what
//   install saw: owner, mode, device, inode, size and mtime (owned by root, not writable by
//   group or others, the same Node). Anything else and Node starts the hook file as usual.
// - On other Nodes (20 and later, with their own snapshot), a V8 code cache of the hook's code
//   recorded by that Node, which the hook's loader reads after checking the file as the policy
//   is checked and its first line against the running Node (scripts/build.mjs); V8 checks the
//   rest and compiles from source when it rejects it.
// Either way the hook file works on its own: a missing, stale or foreign artefact means the
// plain start of today, with the code cache the build carries.
import {
  closeSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  rmdirSync,
  statSync,
  writeSync,
  chownSync,
  chmodSync,
  existsSync,
  type Stats,
} from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { ENV_NWFILTER_DIR, ENV_POLICY } from "../core/constants.js";
import type { Context } from "./context.js";
import { writeAtomically } from "./hook-file.js";
import { NODE_IDENTITY, SNAPSHOT_V8_FLAGS } from "./startup-shared.js";
import { HOOK_ENV, SAMPLE_DOMAIN, SELF_TEST_DOMAIN } from "./self-test.js";

export const DEFAULT_CACHE_DIR = "/var/cache/nwfilter-hook";
/** Where `install` records the artefacts; for tests and unusual installs. */
export const ENV_CACHE_DIR = "NWFILTER_HOOK_CACHE_DIR";
/** `snapshot`, `code-cache` or `none`: what `install` records instead of what suits the Node best. */
export const ENV_STARTUP = "NWFILTER_HOOK_STARTUP";

export type StartupKind = "snapshot" | "code-cache";

/** What of the CLI's context this needs: the benchmark and tests give just that. */
export type StartupContext = Pick<Context, "env" | "euid" | "runFile">;

export interface StartupCache {
  kind: StartupKind;
  /** The snapshot or code cache file. */
  file: string;
  /** For a snapshot: the shell test that must hold before Node is given it. */
  shellCheck?: string;
  /** For a code cache: the file's device, inode, size and ctime, as the loader compares them. */
  identity?: string;
}

export interface Recorded {
  cache: StartupCache | undefined;
  /** One line for install's report. */
  message: string;
  changed: boolean;
}

/** Our file names in the cache directory: the hook code's id, then what the file holds. */
const OWN_FILE = /^[0-9a-f]{16}\.(blob|cache|json)$/;
const SAFE_PATH = /^\/[A-Za-z0-9_./+@-]+$/;
// Every write changes the ctime (%Z), which nobody can set; to the nanosecond where stat can say.
const STAT_FORMAT = "%u:%g:%a:%d:%i:%s:%.9Y:%.9Z ";
const STARTUP_ID = /^const startupId = "([0-9a-f]{16})";$/m;
const CODE_CACHE_LINE = /^const startupCache = (\["[^"\n]*", "[^"\n]*"\]);$/m;
const SNAPSHOT_CHECK = /; s=; (\[ .*? \] && s='([^']+)';) \[ "\$2" = prepare \]/;

export function cacheDir(ctx: StartupContext): string {
  return ctx.env[ENV_CACHE_DIR] || DEFAULT_CACHE_DIR;
}

/** What the Node at `nodePath` is, as far as a snapshot or code cache depends on it. */
interface NodeFacts {
  version: string;
  execPath: string;
  ownSnapshot: boolean;
  /** The binary and the shared libnode it runs V8 from (Debian), if any. */
  binaries: string[];
}

const PROBE = `const fs = require("node:fs");
const maps = (() => { try { return fs.readFileSync("/proc/self/maps", "utf8"); } catch { return ""; } })();
const libs = [...new Set(maps.split("\\n").map((l) => l.split(/\\s+/)[5] ?? "").filter((p) => /\\/libnode\\.so[.\\d]*$/.test(p)))];
process.stdout.write(JSON.stringify({ version: process.version, execPath: process.execPath,
  ownSnapshot: process.config.variables.node_use_node_snapshot !== false, binaries: [fs.realpathSync(process.execPath), ...libs] }));`;

function probeNode(ctx: StartupContext, nodePath: string, cwd: string): NodeFacts | string {
  const r = ctx.runFile(nodePath, ["-e", PROBE], { env: HOOK_ENV, cwd, timeoutMs: 30_000 });
  if (r.status !== 0) return `cannot run ${nodePath}: ${(r.error?.message ?? r.stderr.trim().split("\n")[0]) || `exit ${r.status ?? r.signal}`}`;
  try {
    return JSON.parse(r.stdout) as NodeFacts;
  } catch {
    return `${nodePath} -e gave no facts`;
  }
}

/** Snapshots pay on Nodes without their own, and on Node 18 (measured: bench/RESULTS.md). */
export function preferredKind(facts: NodeFacts): StartupKind {
  const [major = 0, minor = 0] = facts.version.replace(/^v/, "").split(".").map(Number);
  const snapshots = major > 18 || (major === 18 && minor >= 8);
  if (snapshots && (!facts.ownSnapshot || major < 20)) return "snapshot";
  return "code-cache";
}

function trusted(st: Stats, euid: number | undefined): string | undefined {
  if (st.mode & 0o022) return `writable by group or others (mode ${(st.mode & 0o7777).toString(8).padStart(4, "0")})`;
  if (euid === 0 && st.uid !== 0) return `owned by uid ${st.uid}, not root`;
  return undefined;
}

/** The cache directory, made if need be; a reason when it cannot be trusted with code run as root. */
function ensureDir(ctx: StartupContext, dir: string): string | undefined {
  if (!SAFE_PATH.test(dir)) return `its path cannot stand on the hook's shell line as it is: ${JSON.stringify(dir)}`;
  try {
    if (!existsSync(dir)) {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      chmodSync(dir, 0o755);
      if (ctx.euid === 0) chownSync(dir, 0, 0);
    }
    const st = lstatSync(dir);
    if (!st.isDirectory()) return "not a directory";
    return trusted(st, ctx.euid);
  } catch (error) {
    return (error as Error).message;
  }
}

/** The hook's code (the function the loader compiles) and its id, from the built hook. */
export function hookCode(bundle: string): { id: string; code: string } | undefined {
  const id = STARTUP_ID.exec(bundle)?.[1];
  const start = bundle.indexOf("/*CODE\n");
  const end = bundle.indexOf("\nCODE*/");
  if (id === undefined || start < 0 || end < start) return undefined;
  const code = bundle.slice(start + 7, end).replaceAll("*\x01/", "*/");
  return createHash("sha256").update(code).digest("hex").slice(0, 16) === id ? { id, code } : undefined;
}

const SNAPSHOT_ENTRY = (code: string) => `"use strict";
const m = { exports: {} };
${code}(m.exports, require, m, "nwfilter-hook", "/");
m.exports.prepareSnapshot();
`;

// Run by the target Node: compiles the hook's code as the loader does, warms it up on a sample
// host and writes V8's cache for it behind the line the loader compares with its own Node.
const CODE_CACHE_RECORDER = `"use strict";
const fs = require("node:fs");
const [out, codeFile, id] = process.argv.slice(2);
const script = new (require("node:vm").Script)(fs.readFileSync(codeFile, "utf8"), { filename: "nwfilter-hook-core.js" });
const m = { exports: {} };
const argv = process.argv;
process.argv = [argv[0], "qemu"];
script.runInThisContext()(m.exports, require, m, "qemu", "/");
process.argv = argv;
Promise.resolve(m.exports.warmUp()).then(() => {
  const head = \`\${nodeIdentity(id)}\\n\`;
  fs.writeFileSync(out, Buffer.concat([Buffer.from(head, "latin1"), script.createCachedData()]), { mode: 0o600 });
});
${NODE_IDENTITY}
`;

interface Meta {
  kind: StartupKind;
  node: string;
  version: string;
  identity: string;
}

/** The `stat` line the hook's shell compares: the same command, so the same formatting. */
function statLine(ctx: StartupContext, statBin: string, files: string[]): string | undefined {
  const r = ctx.runFile(statBin, ["-L", "--printf", STAT_FORMAT, "--", ...files], { env: HOOK_ENV, cwd: "/", timeoutMs: 10_000 });
  return r.status === 0 ? r.stdout : undefined;
}

function findStat(): string | undefined {
  return ["/usr/bin/stat", "/bin/stat"].find((p) => existsSync(p));
}

export interface RecordOptions {
  /** The built hook (dist/qemu) and where it is. */
  bundle: string;
  bundlePath: string;
  /** The Node the installed hook will run. */
  nodePath: string;
  /** Default: what `preferredKind` says for that Node. */
  kind?: StartupKind;
  dir?: string;
  /**
   * The hook installed now, if any: the files it uses stay until a later run, since a call that
   * has just checked its snapshot may be about to open it.
   */
  installed?: string;
}

/**
 * Records the snapshot or code cache for the hook's code and its Node, unless the one recorded
 * earlier still fits. Never throws: a host where it cannot be recorded gets the plain hook.
 */
export function recordStartupCache(ctx: StartupContext, options: RecordOptions): Recorded {
  const dir = options.dir ?? cacheDir(ctx);
  const none = (why: string): Recorded => ({
    cache: undefined,
    message: `startup cache ${dir}: not recorded (${why}): the hook starts the plain way`,
    changed: false,
  });
  const hook = hookCode(options.bundle);
  if (!hook) return none("the built hook carries no code to record");
  const scratch = mkdtempSync(join(tmpdir(), "nwfilter-hook-startup-"));
  try {
    const facts = probeNode(ctx, options.nodePath, scratch);
    if (typeof facts === "string") return none(facts);
    const forced = ctx.env[ENV_STARTUP] || undefined;
    if (forced === "none") return none(`${ENV_STARTUP}=none`);
    if (forced !== undefined && forced !== "snapshot" && forced !== "code-cache")
      return none(`${ENV_STARTUP} must be snapshot, code-cache or none, not '${forced}'`);
    const kind = options.kind ?? forced ?? preferredKind(facts);
    const statBin = findStat();
    if (kind === "snapshot" && !statBin) return none("no stat(1) to check a snapshot with");
    if (![...facts.binaries, options.nodePath].every((p) => SAFE_PATH.test(p)))
      return none("the path of node or libnode cannot stand on the hook's shell line");
    const refused = ensureDir(ctx, dir);
    if (refused) return none(`the directory is ${refused}`);

    const file = join(dir, `${hook.id}.${kind === "snapshot" ? "blob" : "cache"}`);
    const metaFile = join(dir, `${hook.id}.json`);
    const identity =
      statLine(ctx, statBin ?? "stat", facts.binaries) ?? JSON.stringify(facts.binaries.map((b) => statSync(b)).map((s) => [s.dev, s.ino, s.size, s.mtimeMs]));
    const meta: Meta = { kind, node: options.nodePath, version: facts.version, identity };
    const what = `${kind === "snapshot" ? "startup snapshot" : "code cache"} for ${options.nodePath} ${facts.version}`;
    let changed = false;
    if (!fits(ctx, file, metaFile, meta)) {
      const built = kind === "snapshot" ? buildSnapshot(ctx, options, hook.code, scratch) : buildCodeCache(ctx, options.nodePath, hook, scratch);
      if ("failed" in built) return none(built.failed);
      writeAtomically(file, readFileSync(built.path), 0o644);
      writeAtomically(metaFile, `${JSON.stringify(meta)}\n`, 0o644);
      changed = true;
    }
    const inUse = options.installed === undefined ? undefined : startupCacheOf(options.installed)?.file;
    removeOthers(dir, [file, metaFile, ...(inUse ? [inUse, metaOf(inUse)] : [])]);
    const cache: StartupCache = { kind, file };
    if (kind === "snapshot") {
      const files = [dir, file, ...facts.binaries];
      const expected = statLine(ctx, statBin as string, files);
      if (expected === undefined || expected.includes("'")) return none(`stat ${files.join(" ")} failed`);
      cache.shellCheck = `[ "$(${statBin} -L --printf '${STAT_FORMAT}' -- ${files.map((f) => `'${f}'`).join(" ")} 2>/dev/null)" = '${expected}' ] && s='${file}';`;
    } else {
      const identity = fileIdentity(ctx, options.nodePath, file);
      if (identity === undefined) return none(`${options.nodePath} cannot stat ${file}`);
      cache.identity = identity;
    }
    return { cache, message: `startup cache ${file}: ${changed ? "recorded" : "unchanged"} (${what})`, changed };
  } catch (error) {
    return none((error as Error).message);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** A file's identity as the hook's loader computes it, computed by the Node that will run it. */
function fileIdentity(ctx: StartupContext, nodePath: string, file: string): string | undefined {
  const script = 'const s = require("node:fs").statSync(process.argv[1]); process.stdout.write(`${s.dev}:${s.ino}:${s.size}:${s.ctimeMs}`);';
  const r = ctx.runFile(nodePath, ["-e", script, file], { env: HOOK_ENV, cwd: "/", timeoutMs: 30_000 });
  return r.status === 0 && r.stdout !== "" ? r.stdout : undefined;
}

/** Whether the recorded file is there, trusted, and made by this very Node for this code. */
function fits(ctx: StartupContext, file: string, metaFile: string, meta: Meta): boolean {
  try {
    if (trusted(lstatSync(file), ctx.euid) || trusted(lstatSync(metaFile), ctx.euid)) return false;
    return readFileSync(metaFile, "utf8") === `${JSON.stringify(meta)}\n`;
  } catch {
    return false;
  }
}

/** Our files for other versions of the hook's code, or for another kind: stale. */
function removeOthers(dir: string, keep: string[]): void {
  for (const name of readdirSync(dir)) {
    if (OWN_FILE.test(name) && !keep.includes(join(dir, name))) rmSync(join(dir, name), { force: true });
  }
}

type Built = { path: string } | { failed: string };

function buildSnapshot(ctx: StartupContext, options: RecordOptions, code: string, scratch: string): Built {
  const entry = join(scratch, "entry.js");
  const blob = join(scratch, "hook.blob");
  writeFileSync0600(entry, SNAPSHOT_ENTRY(code));
  const built = ctx.runFile(options.nodePath, [...SNAPSHOT_V8_FLAGS, "--snapshot-blob", blob, "--build-snapshot", entry], {
    env: HOOK_ENV,
    cwd: scratch,
    timeoutMs: 120_000,
  });
  if (built.status !== 0 || !existsSync(blob))
    return { failed: `${options.nodePath} --build-snapshot failed: ${firstLine(built.stderr) || `exit ${built.status ?? built.signal}`}` };
  // The snapshot must do what the hook file does: both on a sample restore on a sample host.
  const host = join(scratch, "host");
  mkdirSync(join(host, "nwfilter"), { recursive: true });
  writeFileSync0600(join(host, "nwfilter", "vdsm-no-mac-spoofing.xml"), "<filter name='vdsm-no-mac-spoofing' chain='root'/>\n");
  const env = { ...HOOK_ENV, [ENV_POLICY]: join(host, "absent.ini"), [ENV_NWFILTER_DIR]: join(host, "nwfilter") };
  const args = [SELF_TEST_DOMAIN, "restore", "begin", "-"];
  const run = (pre: string[]) =>
    ctx.runFile(options.nodePath, [...pre, resolve(options.bundlePath), ...args], { input: SAMPLE_DOMAIN, env, cwd: "/", timeoutMs: 30_000 });
  const plain = run([]);
  const fast = run([...SNAPSHOT_V8_FLAGS, "--snapshot-blob", blob]);
  if (plain.status !== 0 || fast.status !== plain.status || fast.stdout !== plain.stdout || fast.stderr !== plain.stderr) {
    return { failed: `the snapshot did not do what the hook does on a sample restore (${firstLine(fast.stderr) || `exit ${fast.status ?? fast.signal}`})` };
  }
  return { path: blob };
}

function buildCodeCache(ctx: StartupContext, nodePath: string, hook: { id: string; code: string }, scratch: string): Built {
  const recorder = join(scratch, "record.js");
  const codeFile = join(scratch, "code.js");
  const out = join(scratch, "hook.cache");
  writeFileSync0600(recorder, CODE_CACHE_RECORDER);
  writeFileSync0600(codeFile, hook.code);
  const r = ctx.runFile(nodePath, [recorder, out, codeFile, hook.id], { env: HOOK_ENV, cwd: scratch, timeoutMs: 120_000 });
  if (r.status !== 0 || !existsSync(out)) return { failed: `recording the code cache failed: ${firstLine(r.stderr) || `exit ${r.status ?? r.signal}`}` };
  return { path: out };
}

function writeFileSync0600(path: string, text: string): void {
  const fd = openSync(path, "wx", 0o600);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

function firstLine(s: string): string {
  return s.trim().split("\n")[0] ?? "";
}

/** The installed hook's text with the recorded artefact wired in. */
export function withStartupCache(content: string, cache: StartupCache | undefined): string {
  if (!cache) return content;
  if (cache.kind === "snapshot") {
    const nl = content.indexOf("\n");
    const end = content.indexOf("\n", nl + 1);
    const line = content.slice(nl + 1, end);
    if (!line.includes("; s=; ")) return content;
    return `${content.slice(0, nl + 1)}${line.replace("; s=; ", `; s=; ${cache.shellCheck} `)}${content.slice(end)}`;
  }
  // After our marker line (which stands after any "use strict") and the policy line, if any.
  const marker = /^\/\/ nwfilter-hook: installed by .*(?:\nprocess\.env\.NWFILTER_HOOK_POLICY=.*)?$/m.exec(content);
  if (!marker) return content;
  const at = marker.index + marker[0].length + 1;
  return `${content.slice(0, at)}const startupCache = ${JSON.stringify([cache.file, cache.identity ?? ""]).replace(",", ", ")};\n${content.slice(at)}`;
}

/** The artefact an installed hook uses, from its text. */
export function startupCacheOf(text: string): StartupCache | undefined {
  const head = text.slice(0, 16 * 1024);
  const snap = SNAPSHOT_CHECK.exec(head);
  if (snap?.[1] && snap[2]) return { kind: "snapshot", file: snap[2], shellCheck: snap[1] };
  const cc = CODE_CACHE_LINE.exec(head);
  if (cc?.[1]) {
    const [file = "", identity = ""] = JSON.parse(cc[1]) as string[];
    return { kind: "code-cache", file, identity };
  }
  return undefined;
}

/** For `check`: whether the installed hook will use its artefact. A warning at worst, never a failure. */
export function describeStartupCache(ctx: StartupContext, text: string, nodePath: string | undefined): string {
  const cache = startupCacheOf(text);
  if (!cache) return "startup cache: none recorded (the hook starts the plain way; install records one)";
  const label = `startup cache ${cache.file}`;
  const stale = (why: string) => `${label}: not used (${why}): run nwfilter-hook install again`;
  try {
    const bad = trusted(lstatSync(cache.file), ctx.euid) ?? trusted(lstatSync(dirname(cache.file)), ctx.euid);
    if (bad) return stale(`it or its directory is ${bad}`);
  } catch {
    return stale("missing");
  }
  if (cache.kind === "snapshot") {
    const r = ctx.runFile("/bin/sh", ["-c", `s=; ${cache.shellCheck} [ -n "$s" ]`], { env: HOOK_ENV, cwd: "/", timeoutMs: 10_000 });
    return r.status === 0
      ? `${label}: ok (startup snapshot for ${nodePath ?? "its Node"})`
      : stale("Node, the snapshot or its directory changed since install");
  }
  if (nodePath && fileIdentity(ctx, nodePath, cache.file) !== cache.identity) return stale("the file changed since install");
  const head = readFileSync(cache.file).subarray(0, 512).toString("latin1").split("\n")[0] ?? "";
  // The line the hook's loader will compare the file's first line with, for the hook's code.
  const script = `${NODE_IDENTITY}\nprocess.stdout.write(\`\${process.version}\\n\${nodeIdentity(process.argv[1])}\`);`;
  const r = nodePath ? ctx.runFile(nodePath, ["-e", script, STARTUP_ID.exec(text)?.[1] ?? ""], { env: HOOK_ENV, cwd: "/", timeoutMs: 30_000 }) : undefined;
  const [version = "", want] = r?.status === 0 ? r.stdout.split("\n") : [];
  if (head !== want) return stale(`recorded for other code or by another Node than ${nodePath ?? "the hook's"}`);
  return `${label}: ok (code cache for ${nodePath} ${version})`;
}

function metaOf(file: string): string {
  return file.replace(/\.(blob|cache)$/, ".json");
}

/** For `uninstall`: removes what `install` recorded in the hook's cache directory; a line for the report, if any. */
export function removeStartupCache(text: string): string | undefined {
  const cache = startupCacheOf(text);
  if (!cache) return undefined;
  const dir = dirname(cache.file);
  try {
    removeOthers(dir, []);
  } catch {
    // Gone already.
  }
  try {
    if (readdirSync(dir).length === 0) rmdirSync(dir);
  } catch {
    // Gone already, or not ours to remove.
  }
  return `startup cache ${cache.file}: removed`;
}
