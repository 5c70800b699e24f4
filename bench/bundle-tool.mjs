// Bundles one of the benchmarks' small TypeScript tools for the Node it is run with, oldest
// supported first (Debian 12's 18): the benchmarks are plain .mjs and cannot import .ts.
import { createRequire } from "node:module";

/** Builds `options` (an esbuild entry or stdin, and `outfile`) as a Node 18 bundle; returns `outfile`. */
export function bundleTool(options) {
  const { buildSync } = createRequire(import.meta.url)("esbuild");
  buildSync({ bundle: true, platform: "node", format: "cjs", target: "node18", logLevel: "warning", ...options });
  return options.outfile;
}
