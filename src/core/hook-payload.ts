// The hook file's body, below its header (src/core/hook-header.ts), and the first line of the code
// cache files that `install` records for it. Written by scripts/build.mjs; read by the hook's
// loader (src/hook/loader.ts) at every call, by the startup recorder (src/hook/startup-recorder.ts)
// and by the CLI (src/host/startup-cache.ts). Pure text, one definition for all of them:
//
//   const startupId = "0123456789abcdef";       the code's id (its sha256): names the recorded files
//   ...the loader...
//   function payload() {/*CODE
//   (function (exports, require, module, __filename, __dirname) {...the bundled hook...
//   })
//   CODE*//*CACHE
//   ...V8's code cache for that code, base64...
//   CACHE*/}
//
// The code and its cache ride in a comment, the body of a function that is never called: V8 skips
// over a comment far faster than it scans a string literal of the same size, and the function's
// toString() hands the text back without reading the file a second time. Inside the comment, "*/"
// is written "*\x01/" (esbuild's ASCII output never has a raw \x01).

/** The name V8 knows the hook's code by: its code cache is valid only for a script of that name. */
export const CODE_FILENAME = "nwfilter-hook-core.js";

/** The hook's bundled code as a function of the module's variables, as the loader calls it. */
export function wrapCode(bundle: string): string {
  return `(function (exports, require, module, __filename, __dirname) {${bundle}\n})`;
}

const PAYLOAD_HEAD = "function payload() {/*CODE\n";
const ESCAPED_END = "*\x01/";

/** The payload function that carries the code (wrapped) and its code cache (base64). */
export function payloadText(code: string, cacheBase64: string): string {
  if (code.includes("\x01")) throw new Error("the hook's code contains a raw \\x01: it cannot ride in the payload's comment");
  return `${PAYLOAD_HEAD}${code.replaceAll("*/", ESCAPED_END)}\nCODE*//*CACHE\n${cacheBase64}\nCACHE*/}`;
}

/**
 * Where the payload function starts: 0 in the function's own text (what the loader has), else in
 * the whole hook file, where it comes last (the loader before it holds its markers as strings).
 */
export function payloadStart(text: string): number {
  if (text.startsWith(PAYLOAD_HEAD)) return 0;
  const at = text.lastIndexOf(`\n${PAYLOAD_HEAD}`);
  return at < 0 ? -1 : at + 1;
}

/** One part of the payload, as it was given to `payloadText`. */
export function payloadPart(text: string, name: "CODE" | "CACHE"): string | undefined {
  const at = payloadStart(text);
  const start = at < 0 ? -1 : text.indexOf(`/*${name}\n`, at);
  const end = start < 0 ? -1 : text.indexOf(`\n${name}*/`, start);
  if (end < 0) return undefined;
  const part = text.slice(start + name.length + 3, end);
  return name === "CODE" ? part.replaceAll(ESCAPED_END, "*/") : part;
}

const STARTUP_ID = /^const startupId = "([0-9a-f]{16})";$/m;

/** The line that names the code; the loader reads it as `startupId`. */
export function startupIdLine(id: string): string {
  if (!/^[0-9a-f]{16}$/.test(id)) throw new Error(`a startup id is 16 hex digits, not ${JSON.stringify(id)}`);
  return `const startupId = "${id}";`;
}

/** The id of the code a hook file carries, as its line says. */
export function startupIdOf(text: string): string | undefined {
  return STARTUP_ID.exec(text)?.[1];
}

/** What of the running Node a code cache depends on (`process` has it). */
export interface RunningNode {
  version: string;
  arch: string;
  versions: { v8: string };
  execPath: string;
}

/** What of a file's stat says it is still the file it was. */
export interface FileStat {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

/**
 * The first line of a code cache file: the code's id and the Node that recorded it (version,
 * arch, V8, path and the binary's identity). The recorder writes it; the loader uses a cache only
 * when its first line is exactly what the running Node computes, and `check` compares the same.
 */
export function codeCacheHead(id: string, node: RunningNode, binary: Pick<FileStat, "dev" | "ino" | "size" | "mtimeMs">): string {
  const b = binary;
  return `nwfilter-hook code cache ${id} ${node.version} ${node.arch} v8 ${node.versions.v8} ${node.execPath} ${b.dev}:${b.ino}:${b.size}:${b.mtimeMs}`;
}

/** A recorded file as the loader checks it: every write changes its ctime, which nobody can set. */
export function fileIdentity(st: Pick<FileStat, "dev" | "ino" | "size" | "ctimeMs">): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.ctimeMs}`;
}

/**
 * The entry of a startup snapshot for the hook's code (`node --build-snapshot ENTRY`): Node 18
 * allows a single file that requires built-in modules only, so the code is written into it. The
 * code's `prepareSnapshot` warms it up and sets the snapshot's main function (src/hook/snapshot.ts).
 */
export function snapshotEntry(code: string): string {
  return `"use strict";
const m = { exports: {} };
${code}(m.exports, require, m, "nwfilter-hook", "/");
m.exports.prepareSnapshot();
`;
}
