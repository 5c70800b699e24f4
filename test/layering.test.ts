// The import rule (.dependency-cruiser.cjs) and the pure core's ESLint rules, held to what they
// promise: each case below is a small source tree, written to a temporary directory, with one
// import that the rule must refuse (or must allow), and dependency-cruiser runs on it with the
// project's own configuration. The real tree must pass, as `npm run lint` checks in CI.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { ESLint } from "eslint";
import tseslint from "typescript-eslint";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/paths.js";

const CONFIG = join(REPO_ROOT, ".dependency-cruiser.cjs");
const DEPCRUISE = join(REPO_ROOT, "node_modules", "dependency-cruiser", "bin", "dependency-cruise.mjs");

interface Case {
  name: string;
  /** Path (relative to the tree) -> source. */
  files: Record<string, string>;
  /** The rules that the case's files break; empty when the tree is allowed. */
  rules: string[];
}

// Files every case may import; they break no rule themselves.
const BASE: Record<string, string> = {
  "src/core/ok-core.ts": "export const core = 1;\nexport type CoreType = number;\n",
  "src/host/ok-host.ts":
    'import { readFileSync } from "node:fs";\nimport { core } from "../core/ok-core.js";\nexport const host = [readFileSync, core];\nexport type HostType = string;\n',
  "src/hook/ok-hook.ts": 'import { core } from "../core/ok-core.js";\nimport { host } from "../host/ok-host.js";\nexport const hook = [core, host];\n',
  "src/cli/ok-cli.ts": 'import { host } from "../host/ok-host.js";\nexport const cli = host;\n',
  "src/watch/ok-watch.ts": 'import { host } from "../host/ok-host.js";\nexport const watch = host;\n',
  "src/util/stray.ts": "export const stray = 1;\n",
  "test/support/helper.ts": "export const helper = 1;\n",
};

const CASES: Case[] = [
  { name: "the shared files alone", files: {}, rules: [] },
  // src/core
  {
    name: "core imports a node: module",
    files: { "src/core/c-node.ts": 'import { readFileSync } from "node:fs";\nexport const x = readFileSync;\n' },
    rules: ["core-is-pure"],
  },
  {
    name: "core imports a built-in without node:",
    files: { "src/core/c-builtin.ts": 'import { join } from "path";\nexport const x = join;\n' },
    rules: ["core-is-pure"],
  },
  {
    name: "core imports host",
    files: { "src/core/c-host.ts": 'import { host } from "../host/ok-host.js";\nexport const x = host;\n' },
    rules: ["core-is-pure"],
  },
  {
    name: "core imports only a type from host",
    files: { "src/core/c-host-type.ts": 'import type { HostType } from "../host/ok-host.js";\nexport const x: HostType = "";\n' },
    rules: ["core-is-pure"],
  },
  {
    name: "core imports the hook's shell",
    files: { "src/core/c-hook.ts": 'import { hook } from "../hook/ok-hook.js";\nexport const x = hook;\n' },
    rules: ["core-is-pure"],
  },
  {
    name: "core imports an npm package that is not on its list",
    files: { "src/core/c-npm.ts": 'import { createTwoFilesPatch } from "diff";\nexport const x = createTwoFilesPatch;\n' },
    rules: ["core-is-pure"],
  },
  {
    name: "core imports core, ini and picomatch (also through require)",
    files: {
      "src/core/c-pure.ts":
        'import { decode } from "ini";\nimport type picomatchType from "picomatch";\nimport { core } from "./ok-core.js";\n' +
        'const picomatch = require("picomatch") as typeof picomatchType;\nexport const x = [decode, picomatch, core];\n',
    },
    rules: [],
  },
  {
    name: "a cycle inside core",
    files: {
      "src/core/cycle-a.ts": 'import { b } from "./cycle-b.js";\nexport const a = () => b;\n',
      "src/core/cycle-b.ts": 'import { a } from "./cycle-a.js";\nexport const b = () => a;\n',
    },
    rules: ["no-circular"],
  },
  // src/host
  {
    name: "host imports the CLI",
    files: { "src/host/h-cli.ts": 'import { cli } from "../cli/ok-cli.js";\nexport const x = cli;\n' },
    rules: ["host-imports-core-and-host"],
  },
  {
    name: "host imports the hook's shell",
    files: { "src/host/h-hook.ts": 'import { hook } from "../hook/ok-hook.js";\nexport const x = hook;\n' },
    rules: ["host-imports-core-and-host"],
  },
  {
    name: "host imports the watcher",
    files: { "src/host/h-watch.ts": 'import { watch } from "../watch/ok-watch.js";\nexport const x = watch;\n' },
    rules: ["host-imports-core-and-host"],
  },
  {
    name: "host imports an npm package",
    files: { "src/host/h-npm.ts": 'import { createTwoFilesPatch } from "diff";\nexport const x = createTwoFilesPatch;\n' },
    rules: ["host-imports-core-and-host"],
  },
  {
    name: "host imports core, host and Node's built-ins",
    files: {
      "src/host/h-ok.ts":
        'import { spawnSync } from "node:child_process";\nimport { join } from "path";\nimport { core } from "../core/ok-core.js";\nimport { host } from "./ok-host.js";\nexport const x = [spawnSync, join, core, host];\n',
    },
    rules: [],
  },
  // src/hook, src/cli, src/watch
  {
    name: "the hook's shell imports the CLI",
    files: { "src/hook/k-cli.ts": 'import { cli } from "../cli/ok-cli.js";\nexport const x = cli;\n' },
    rules: ["hook-not-to-cli-or-watch"],
  },
  {
    name: "the hook's shell imports the watcher",
    files: { "src/hook/k-watch.ts": 'import { watch } from "../watch/ok-watch.js";\nexport const x = watch;\n' },
    rules: ["hook-not-to-cli-or-watch"],
  },
  {
    name: "the CLI imports the hook's shell",
    files: { "src/cli/l-hook.ts": 'import { hook } from "../hook/ok-hook.js";\nexport const x = hook;\n' },
    rules: ["cli-not-to-hook"],
  },
  {
    name: "a CLI command other than watch imports the watcher",
    files: { "src/cli/commands/audit.ts": 'import { watch } from "../../watch/ok-watch.js";\nexport const x = watch;\n' },
    rules: ["cli-to-watch-only-from-watch-command"],
  },
  {
    name: "the watch command imports the watcher",
    files: {
      "src/cli/commands/watch.ts": 'import { watch } from "../../watch/ok-watch.js";\nimport { cli } from "../ok-cli.js";\nexport const x = [watch, cli];\n',
    },
    rules: [],
  },
  {
    name: "the watcher imports the CLI",
    files: { "src/watch/w-cli.ts": 'import { cli } from "../cli/ok-cli.js";\nexport const x = cli;\n' },
    rules: ["watch-not-to-hook-or-cli"],
  },
  {
    name: "the watcher imports the hook's shell",
    files: { "src/watch/w-hook.ts": 'import { hook } from "../hook/ok-hook.js";\nexport const x = hook;\n' },
    rules: ["watch-not-to-hook-or-cli"],
  },
  // Host I/O (files, processes, sockets) only in src/host and the programs' entries
  {
    name: "the CLI imports node:fs",
    files: { "src/cli/l-fs.ts": 'import { readFileSync } from "node:fs";\nexport const x = readFileSync;\n' },
    rules: ["host-io-only-in-host"],
  },
  {
    name: "a CLI command imports node:fs/promises",
    files: { "src/cli/commands/l-fsp.ts": 'import { readFile } from "node:fs/promises";\nexport const x = readFile;\n' },
    rules: ["host-io-only-in-host"],
  },
  {
    name: "the watcher imports node:child_process",
    files: { "src/watch/w-spawn.ts": 'import { spawn } from "node:child_process";\nexport const x = spawn;\n' },
    rules: ["host-io-only-in-host"],
  },
  {
    name: "the hook's shell imports node:net and node:dgram",
    files: {
      "src/hook/k-net.ts": 'import { connect } from "node:net";\nimport { createSocket } from "node:dgram";\nexport const x = [connect, createSocket];\n',
    },
    rules: ["host-io-only-in-host"],
  },
  {
    name: "the hook's shell requires fs without node:",
    files: { "src/hook/k-require.ts": 'const fs = require("fs") as typeof import("fs");\nexport const x = fs;\n' },
    rules: ["host-io-only-in-host"],
  },
  {
    name: "the shells import node:path, node:os and node:vm",
    files: {
      "src/cli/l-path.ts":
        'import { join } from "node:path";\nimport { tmpdir } from "node:os";\nimport { Script } from "node:vm";\nexport const x = [join, tmpdir, Script];\n',
    },
    rules: [],
  },
  {
    name: "the programs' entries import node:fs and node:child_process",
    files: {
      "src/cli/main.ts":
        'import { spawnSync } from "node:child_process";\nimport { realpathSync } from "node:fs";\nexport const x = [spawnSync, realpathSync];\n',
      "src/hook/startup-recorder.ts": 'import { readFileSync } from "node:fs";\nexport const x = readFileSync;\n',
      "src/hook/loader.ts": 'const fs = require("node:fs") as typeof import("node:fs");\nexport const x = fs;\n',
    },
    rules: [],
  },
  // hooks/, the hook's entry
  {
    name: "the hook entry imports host",
    files: { "hooks/e-host.ts": 'import { host } from "../src/host/ok-host.js";\nexport const x = host;\n' },
    rules: ["hook-entry-to-hook-and-core"],
  },
  {
    name: "the hook entry imports core, and the hook's shell on demand",
    files: {
      "hooks/e-ok.ts": 'import { core } from "../src/core/ok-core.js";\nexport const x = core;\nexport const load = () => import("../src/hook/ok-hook.js");\n',
    },
    rules: [],
  },
  // Anywhere in the product
  {
    name: "a module outside the role folders",
    files: { "src/cli/l-stray.ts": 'import { stray } from "../util/stray.js";\nexport const x = stray;\n' },
    rules: ["src-only-in-its-roles"],
  },
  {
    name: "the product imports test code",
    files: { "src/cli/l-test.ts": 'import { helper } from "../../test/support/helper.js";\nexport const x = helper;\n' },
    rules: ["src-only-in-its-roles"],
  },
  {
    name: "the product imports a devDependency",
    files: { "src/cli/l-dev.ts": 'import { XMLParser } from "fast-xml-parser";\nexport const x = XMLParser;\n' },
    rules: ["not-to-dev-dep"],
  },
  {
    name: "an npm package that package.json does not declare",
    files: { "test/t-undeclared.ts": 'import { parse } from "acorn";\nexport const x = parse;\n' },
    rules: ["no-non-package-json"],
  },
  {
    name: "an import that does not resolve",
    files: { "src/cli/l-missing.ts": 'import { gone } from "./missing.js";\nexport const x = gone;\n' },
    rules: ["not-to-unresolvable"],
  },
];

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
}

let tree: string;
let violations: Violation[];

/** Runs dependency-cruiser on the tree with the project's rules, as `npm run lint` does. */
function depcruise(cwd: string, ...args: string[]) {
  // Plain text whatever the environment: dependency-cruiser colours its report when it thinks
  // the output can take it, which CI=true alone makes it think.
  const r = spawnSync(process.execPath, [DEPCRUISE, "--config", ".dependency-cruiser.cjs", ...args, "src", "hooks", "test"], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
  });
  return { ...r, stdout: stripVTControlCharacters(r.stdout) };
}

beforeAll(() => {
  tree = mkdtempSync(join(tmpdir(), "nwfh-layering-"));
  const files = { ...BASE, ...Object.assign({}, ...CASES.map((c) => c.files)) } as Record<string, string>;
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(tree, path)), { recursive: true });
    writeFileSync(join(tree, path), text);
  }
  // The project's own package.json (which packages are dependencies, which devDependencies),
  // its node_modules, and the project's rules. The rules match paths relative to the tree, so
  // the link to node_modules must stay a link in them.
  cpSync(join(REPO_ROOT, "package.json"), join(tree, "package.json"));
  symlinkSync(join(REPO_ROOT, "node_modules"), join(tree, "node_modules"));
  writeFileSync(
    join(tree, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", strict: true, verbatimModuleSyntax: true, types: ["node"] } }),
  );
  writeFileSync(join(tree, ".dependency-cruiser.cjs"), `module.exports = { extends: ${JSON.stringify(CONFIG)}, options: { preserveSymlinks: true } };\n`);

  const r = depcruise(tree, "--output-type", "json");
  if (r.status !== 0) throw new Error(`dependency-cruiser failed on the test tree (exit ${r.status}): ${r.stderr}`);
  violations = (JSON.parse(r.stdout) as { summary: { violations: Violation[] } }).summary.violations;
});
afterAll(() => rmSync(tree, { recursive: true, force: true }));

describe("the import rule (dependency-cruiser)", () => {
  it.each(CASES)("$name: $rules", (c) => {
    const own = new Set(Object.keys(c.files));
    const broken = violations.filter((v) => own.has(v.from)).map((v) => v.rule.name);
    expect([...new Set(broken)].sort()).toEqual([...c.rules].sort());
  });

  it("the shared files and the allowed cases break nothing, and every violation belongs to a case", () => {
    const expected = new Set(CASES.filter((c) => c.rules.length > 0).flatMap((c) => Object.keys(c.files)));
    expect(violations.filter((v) => !expected.has(v.from))).toEqual([]);
  });

  it("every rule of the configuration has a case that breaks it", () => {
    const config = createRequire(import.meta.url)(CONFIG) as { forbidden: { name: string }[] };
    const tested = new Set(CASES.flatMap((c) => c.rules));
    expect(config.forbidden.map((r) => r.name).filter((name) => !tested.has(name))).toEqual([]);
  });

  it("a violation fails the run, naming the rule and the import", () => {
    const r = depcruise(tree);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toContain("core-is-pure: src/core/c-node.ts → fs");
    expect(r.stdout).toContain("host-io-only-in-host: src/cli/l-fs.ts → fs");
    expect(r.stdout).toContain("host-io-only-in-host: src/watch/w-spawn.ts → child_process");
  });

  it("the project's own tree keeps the rule", () => {
    const r = spawnSync("npm", ["run", "--silent", "lint:imports"], { cwd: REPO_ROOT, encoding: "utf8" });
    expect(r.stdout + r.stderr).toContain("no dependency violations found");
    expect(r.status).toBe(0);
  });
});

describe("the pure core's globals (ESLint)", () => {
  // Syntax only: the globals rules need no type information, and the probe file does not exist.
  const eslint = new ESLint({ cwd: REPO_ROOT, overrideConfig: tseslint.configs.disableTypeChecked });
  const probe = [
    "export const env = process.env;",
    "export const now = Date.now();",
    "export const later = setTimeout(() => undefined, 1);",
    "export const chance = Math.random();",
    "export const log = console.log;",
    "export const bytes = Buffer.from('x');",
    "export const global = globalThis.process;",
  ].join("\n");
  const problems = async (path: string) => {
    const [result] = await eslint.lintText(`${probe}\n`, { filePath: join(REPO_ROOT, path) });
    return (result?.messages ?? []).map((m) => `${m.line} ${m.ruleId ?? m.message}`);
  };

  it("src/core may not reach the process, the clock, timers or chance", async () => {
    expect(await problems("src/core/probe.ts")).toEqual([
      "1 no-restricted-globals",
      "2 no-restricted-globals",
      "3 no-restricted-globals",
      "4 no-restricted-properties",
      "5 no-restricted-globals",
      "6 no-restricted-globals",
      "7 no-restricted-properties",
    ]);
  });

  it("src/host may", async () => {
    expect(await problems("src/host/probe.ts")).toEqual([]);
  });
});
