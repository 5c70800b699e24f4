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
//   recorded by that Node, which the hook's loader (src/hook/loader.ts) reads after checking the
//   file as the policy is checked and its first line against the running Node; V8 checks the
//   rest and compiles from source when it rejects it.
// Either way the hook file works on its own: a missing, stale or foreign artefact means the
// plain start of today, with the code cache the build carries. What depends on the hook's Node
// is found out and recorded by that Node, running the startup recorder (src/hook/startup-recorder.ts,
// dist/startup-recorder.js beside dist/qemu); how the hook names the artefact is
// src/core/hook-header.ts's.
import {
  closeSync,
  chmodSync,
  chownSync,
  existsSync,
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
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { ENV_NWFILTER_DIR, ENV_POLICY } from "../core/constants.js";
import { SNAPSHOT_V8_FLAGS, STAT_FORMAT, snapshotCheck, startupCacheOf, type StartupCache, type StartupKind } from "../core/hook-header.js";
import { payloadPart, snapshotEntry, startupIdOf } from "../core/hook-payload.js";
import { preferredKind, type NodeFacts } from "../core/startup-choice.js";
import { HOOK_ENV, SAMPLE_DOMAIN, SELF_TEST_DOMAIN } from "../core/self-test-sample.js";
import { codeId } from "./code-id.js";
import { writeAtomically } from "./host-files.js";
import type { RunOptions, RunResult } from "./run-file.js";
import { distrust } from "./trust.js";

export { startupCacheOf, withStartupCache, type StartupCache, type StartupKind } from "../core/hook-header.js";
export { preferredKind } from "../core/startup-choice.js";

export const DEFAULT_CACHE_DIR = "/var/cache/nwfilter-hook";
/** Where `install` records the artefacts; for tests and unusual installs. */
export const ENV_CACHE_DIR = "NWFILTER_HOOK_CACHE_DIR";
/** `snapshot`, `code-cache` or `none`: what `install` records instead of what suits the Node best. */
export const ENV_STARTUP = "NWFILTER_HOOK_STARTUP";
/** The startup recorder's bundle, beside the built hook. */
export const STARTUP_RECORDER = "startup-recorder.js";

/** What of the CLI's context this needs: the benchmark and tests give just that. */
export interface StartupContext {
  env: Readonly<Record<string, string | undefined>>;
  euid: number | undefined;
  bundleDir: string;
  runFile(path: string, args: readonly string[], options: RunOptions): RunResult;
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

export function cacheDir(ctx: StartupContext): string {
  return ctx.env[ENV_CACHE_DIR] || DEFAULT_CACHE_DIR;
}

/** Runs the startup recorder with the Node at `nodePath`: its answer, or why it gave none. */
export function recorder(ctx: StartupContext, nodePath: string, args: string[], cwd = "/"): { answer: string } | { failed: string } {
  const r = ctx.runFile(nodePath, [join(ctx.bundleDir, STARTUP_RECORDER), ...args], { env: HOOK_ENV, cwd, timeoutMs: 120_000 });
  return r.status === 0 ? { answer: r.stdout } : { failed: `${nodePath} ${STARTUP_RECORDER} ${args[0] ?? ""}: ${whyFailed(r)}` };
}

function whyFailed(r: RunResult): string {
  return (r.error?.message ?? firstLine(r.stderr)) || `exit ${r.status ?? r.signal}`;
}

function probeNode(ctx: StartupContext, nodePath: string, cwd: string): NodeFacts | string {
  const r = recorder(ctx, nodePath, ["facts"], cwd);
  if ("failed" in r) return `cannot run ${r.failed}`;
  try {
    return JSON.parse(r.answer) as NodeFacts;
  } catch {
    return `${nodePath} ${STARTUP_RECORDER} facts gave no facts`;
  }
}

/** A file's identity as the hook's loader computes it, computed by the Node that will run it. */
export function fileIdentityFor(ctx: StartupContext, nodePath: string, file: string): string | undefined {
  const r = recorder(ctx, nodePath, ["file-identity", file]);
  return "answer" in r && r.answer !== "" ? r.answer : undefined;
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
    return distrust(st, ctx.euid)?.reason;
  } catch (error) {
    return (error as Error).message;
  }
}

/** The hook's code (the function the loader compiles) and its id, from the built hook. */
export function hookCode(bundle: string): { id: string; code: string } | undefined {
  const id = startupIdOf(bundle);
  const code = payloadPart(bundle, "CODE");
  if (id === undefined || code === undefined) return undefined;
  return codeId(code) === id ? { id, code } : undefined;
}

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
      cache.shellCheck = snapshotCheck(statBin as string, files, expected, file);
    } else {
      const identity = fileIdentityFor(ctx, options.nodePath, file);
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

/** Whether the recorded file is there, trusted, and made by this very Node for this code. */
function fits(ctx: StartupContext, file: string, metaFile: string, meta: Meta): boolean {
  try {
    if (distrust(lstatSync(file), ctx.euid) || distrust(lstatSync(metaFile), ctx.euid)) return false;
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
  writeFileSync0600(entry, snapshotEntry(code));
  const built = ctx.runFile(options.nodePath, [...SNAPSHOT_V8_FLAGS, "--snapshot-blob", blob, "--build-snapshot", entry], {
    env: HOOK_ENV,
    cwd: scratch,
    timeoutMs: 120_000,
  });
  if (built.status !== 0 || !existsSync(blob)) return { failed: `${options.nodePath} --build-snapshot failed: ${whyFailed(built)}` };
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
    return { failed: `the snapshot did not do what the hook does on a sample restore (${whyFailed(fast)})` };
  }
  return { path: blob };
}

function buildCodeCache(ctx: StartupContext, nodePath: string, hook: { id: string; code: string }, scratch: string): Built {
  const codeFile = join(scratch, "code.js");
  const out = join(scratch, "hook.cache");
  writeFileSync0600(codeFile, hook.code);
  const r = recorder(ctx, nodePath, ["code-cache", out, codeFile, hook.id], scratch);
  if ("failed" in r || !existsSync(out)) return { failed: `recording the code cache failed: ${"failed" in r ? r.failed : `no ${out}`}` };
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
