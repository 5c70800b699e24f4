// The startup recorder: a program that scripts/build.mjs bundles into dist/startup-recorder.js,
// run by the Node a hook names, since what it finds and records holds for that Node only. The
// build runs it to record the code cache the hook file carries; `install` and `check` run it
// (src/host/startup-cache.ts) for the Node of the installed hook:
//
//   node startup-recorder.js facts                        the Node's facts, as JSON (NodeFacts)
//   node startup-recorder.js file-identity FILE           FILE's identity as the loader sees it
//   node startup-recorder.js head ID                      the Node's version, then the first line
//                                                         its code cache for code ID must have
//   node startup-recorder.js code-cache OUT CODE-FILE ID  records V8's code cache for the code
//
// Exit 0 with the answer on stdout; 1 with one line on stderr.
import { readFileSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { Script } from "node:vm";
import { CODE_FILENAME, codeCacheHead, fileIdentity } from "../core/hook-payload.js";
import type { NodeFacts } from "../core/startup-choice.js";
import type { hookOutcome } from "./main.js";
import { warmUp } from "./warm-up.js";

interface HookExports {
  hookOutcome: typeof hookOutcome;
}
type HookModule = (exports: object, require: NodeJS.Require, module: { exports: object }, filename: string, dirname: string) => void;

function facts(): NodeFacts {
  let maps = "";
  try {
    maps = readFileSync("/proc/self/maps", "utf8");
  } catch {
    // Not Linux: no libnode to find.
  }
  const libs = new Set(
    maps
      .split("\n")
      .flatMap((l) => l.split(/\s+/)[5] ?? [])
      .filter((p) => /\/libnode\.so[.\d]*$/.test(p)),
  );
  return {
    version: process.version,
    execPath: process.execPath,
    ownSnapshot: (process.config.variables as { node_use_node_snapshot?: boolean }).node_use_node_snapshot !== false,
    binaries: [realpathSync(process.execPath), ...libs],
  };
}

/** The line a code cache of code `id` starts with, for this very Node. */
function head(id: string): string {
  return codeCacheHead(id, process, statSync(process.execPath));
}

/**
 * Compiles the hook's code as the loader does (src/hook/loader.ts), warms it up on a sample host
 * with the code's own `hookOutcome` (src/hook/warm-up.ts) and writes V8's cache for it behind the
 * line the loader compares with its own Node.
 */
function recordCodeCache(out: string, codeFile: string, id: string): void {
  const script = new Script(readFileSync(codeFile, "utf8"), { filename: CODE_FILENAME });
  const m = { exports: {} as HookExports };
  const argv = process.argv;
  process.argv = [argv[0] ?? process.execPath, "qemu"]; // not a hook call: evaluates the module without running it
  try {
    (script.runInThisContext() as HookModule)(m.exports, require, m, "qemu", "/");
  } finally {
    process.argv = argv;
  }
  warmUp(m.exports.hookOutcome);
  writeFileSync(out, Buffer.concat([Buffer.from(`${head(id)}\n`, "latin1"), script.createCachedData()]), { mode: 0o600 });
}

function main(args: string[]): string {
  const [command, ...rest] = args;
  if (command === "facts" && rest.length === 0) return JSON.stringify(facts());
  if (command === "file-identity" && rest[0] !== undefined) return fileIdentity(statSync(rest[0]));
  if (command === "head" && rest[0] !== undefined) return `${process.version}\n${head(rest[0])}`;
  if (command === "code-cache" && rest.length === 3) {
    const [out = "", codeFile = "", id = ""] = rest;
    recordCodeCache(out, codeFile, id);
    return "";
  }
  throw new Error(`usage: startup-recorder facts | file-identity FILE | head ID | code-cache OUT CODE-FILE ID (got: ${args.join(" ")})`);
}

try {
  process.stdout.write(main(process.argv.slice(2)));
} catch (error) {
  process.stderr.write(`startup-recorder: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
