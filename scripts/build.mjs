// Bundles the hook and the admin CLI into single self-contained files under dist/.
// tsc only type-checks; esbuild emits.
import { build } from "esbuild";
import { chmod, mkdir, writeFile } from "node:fs/promises";

const entries = [
  { in: "hooks/qemu.ts", out: "dist/qemu" },
  { in: "src/cli/main.ts", out: "dist/nwfilter-hook" },
];

// `node scripts/build.mjs qemu` builds only the named bundles.
const wanted = process.argv.slice(2);
const selected = wanted.length ? entries.filter((e) => wanted.includes(e.out.slice("dist/".length))) : entries;

await mkdir("dist", { recursive: true });
// The bundles are CommonJS: an extensionless file is loaded as CommonJS by every Node >= 18,
// and CommonJS loads faster than the ESM loader. This file keeps the project's "type": "module"
// from applying to dist/.
await writeFile("dist/package.json", '{ "type": "commonjs" }\n');

for (const entry of selected) {
  await build({
    entryPoints: [entry.in],
    outfile: entry.out,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node18",
    minify: true,
    legalComments: "none",
    banner: { js: "#!/usr/bin/env node" },
    logLevel: "warning",
  });
  await chmod(entry.out, 0o755);
}
