// The hook file's loader, between its header and its payload (src/core/hook-header.ts,
// src/core/hook-payload.ts), bundled into dist/qemu by scripts/build.mjs. Most of a call's own
// cost would be V8 compiling the hook's code, so the file carries that code together with V8's code
// cache for it, and this compiles it through node:vm with a cache: the one `install` recorded for
// this host's Node (src/host/startup-cache.ts) when it can be trusted, else the build's. V8 rejects
// a cache made by another Node or under other flags and compiles from the source: slower, same result.
//
// It runs at the top of the hook file, a CommonJS module, beside the header's `startupCache` and
// `startupId` and the payload function. Node's modules are required where they are used (Node 18
// pays milliseconds for the first require of node:fs from user code): node:fs only when there is a
// recorded cache to read.
/* eslint-disable @typescript-eslint/no-require-imports -- see above */
import { CODE_FILENAME, codeCacheHead, fileIdentity, payloadPart } from "../core/hook-payload.js";
import { trusted } from "../host/trust.js";

/** The code cache `install` recorded and its identity; declared by the installed hook only. */
declare const startupCache: readonly [file: string, identity: string] | undefined;
declare const startupId: string;
declare function payload(): void;

type HookModule = (exports: unknown, require: NodeJS.Require, module: NodeJS.Module, filename: string, dirname: string) => void;

const text = payload.toString();
const code = payloadPart(text, "CODE") ?? "";
const cachedData = (typeof startupCache === "object" && hostCodeCache(...startupCache)) || Buffer.from(payloadPart(text, "CACHE") ?? "", "base64");
const vm = require("node:vm") as typeof import("node:vm");
const script = new vm.Script(code, { filename: CODE_FILENAME, cachedData });
(script.runInThisContext() as HookModule)(exports, require, module, __filename, __dirname);

/**
 * The recorded code cache, or undefined. It is code that runs as root, so it is used only when it
 * and its directory are trusted as the policy is (src/host/trust.ts); only when the file is the one
 * install wrote (V8 does not checksum a code cache, and a corrupted one can crash it); and only
 * when its first line names this code and this very Node.
 */
function hostCodeCache(file: string, identity: string): Buffer | undefined {
  const fs = require("node:fs") as typeof import("node:fs");
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch {
    return undefined;
  }
  try {
    const euid = process.geteuid?.();
    const st = fs.fstatSync(fd);
    if (!st.isFile() || !trusted(st, euid) || fileIdentity(st) !== identity) return undefined;
    if (!trusted(fs.statSync((require("node:path") as typeof import("node:path")).dirname(file)), euid)) return undefined;
    const data = fs.readFileSync(fd);
    const nl = data.indexOf(10);
    return nl > 0 && data.toString("latin1", 0, nl) === codeCacheHead(startupId, process, fs.statSync(process.execPath)) ? data.subarray(nl + 1) : undefined;
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}
