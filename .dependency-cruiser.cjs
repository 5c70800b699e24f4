// The import rule of the source tree, checked by `npm run lint` (and so by CI):
//
//   core <- host <- { hook, cli, watch }      hooks/qemu.ts (the hook's entry) -> hook, core
//
// - src/core is pure: it imports only src/core and the pure npm libraries ini, picomatch and
//   xmlbuilder2; no Node built-in (eslint.config.js keeps out the globals: process, the clock,
//   timers).
// - src/host is the only code that touches the host: src/core, src/host and Node's built-ins.
//   Outside it, only the programs' entries import node:fs, node:child_process, node:net or
//   node:dgram (host-io-only-in-host, below).
// - src/hook, src/cli and src/watch are shells over core and host and never import one another,
//   except src/cli/commands/watch.ts, the `watch` command, which runs src/watch.
// - No cycles anywhere, and nothing the bundles carry comes from a devDependency.
//
// Paths are relative to the repository root, as `depcruise` is run from there.

/** npm packages that src/core may import: pure code, no I/O. */
const PURE_PACKAGES = ["ini", "picomatch", "xmlbuilder2"];
const pureModules = `^node_modules/(@types/)?(${PURE_PACKAGES.join("|")})/`;

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "core-is-pure",
      comment:
        "src/core is the pure transformation: it may import src/core and the pure libraries " +
        `${PURE_PACKAGES.join(", ")} only. Reading or writing the host belongs in src/host, behind an ` +
        "interface that the core takes as a parameter.",
      severity: "error",
      from: { path: "^src/core/" },
      to: { pathNot: [`^src/core/`, pureModules] },
    },
    {
      name: "host-imports-core-and-host",
      comment:
        "src/host adapts the host to the core's interfaces: it may import src/core, src/host and " +
        "Node's built-in modules, nothing that builds on it (hook, cli, watch) and no npm package.",
      severity: "error",
      from: { path: "^src/host/" },
      to: { pathNot: "^src/(core|host)/", dependencyTypesNot: ["core"] },
    },
    {
      name: "host-io-only-in-host",
      comment:
        "Files, processes and sockets are reached through src/host, behind interfaces the shells " +
        "receive (the CLI's Context, the watcher's deps, the core's HostFacts), so that their judging " +
        "code is tested with fakes. Exempt are the programs' own entries, which set those up: " +
        "hooks/qemu.ts and src/cli/main.ts, and the two programs the build bundles apart and runs " +
        "with no src/host module of their own to load: the installed hook's loader " +
        "(src/hook/loader.ts, which requires node:fs lazily, only when a code cache is named) and the " +
        "startup recorder (src/hook/startup-recorder.ts, run by install with the hook's Node).",
      severity: "error",
      from: {
        path: "^(src|hooks)/",
        pathNot: ["^src/(core|host)/", "^hooks/qemu\\.ts$", "^src/cli/main\\.ts$", "^src/hook/(loader|startup-recorder)\\.ts$"],
      },
      to: { dependencyTypes: ["core"], path: "^(fs|fs/promises|child_process|net|dgram)$" },
    },
    {
      name: "hook-not-to-cli-or-watch",
      comment: "The hook's shell stands on core and host only; code it shares with the CLI or the watcher goes there.",
      severity: "error",
      from: { path: "^src/hook/" },
      to: { path: "^src/(cli|watch)/" },
    },
    {
      name: "cli-not-to-hook",
      comment: "The CLI stands on core and host only; code it shares with the hook goes there.",
      severity: "error",
      from: { path: "^src/cli/" },
      to: { path: "^src/hook/" },
    },
    {
      name: "cli-to-watch-only-from-watch-command",
      comment:
        "Only the `watch` command (src/cli/commands/watch.ts) runs the watcher; code that `apply` and the watcher both need goes in src/host or src/core.",
      severity: "error",
      from: { path: "^src/cli/", pathNot: "^src/cli/commands/watch\\.ts$" },
      to: { path: "^src/watch/" },
    },
    {
      name: "watch-not-to-hook-or-cli",
      comment: "The watcher stands on core and host only; code it shares with the CLI or the hook goes there.",
      severity: "error",
      from: { path: "^src/watch/" },
      to: { path: "^src/(hook|cli)/" },
    },
    {
      name: "hook-entry-to-hook-and-core",
      comment: "hooks/qemu.ts only dispatches: it may import src/hook and src/core.",
      severity: "error",
      from: { path: "^hooks/" },
      to: { pathNot: "^src/(hook|core)/" },
    },
    {
      name: "src-only-in-its-roles",
      comment:
        "Every source file lives in the folder of its role (core, host, hook, cli, watch), and the " +
        "product never imports tests, scripts, the benchmark or the hook entry.",
      severity: "error",
      from: { path: "^(src|hooks)/" },
      to: { path: "^(test|scripts|bench|hooks)/|^src/(?!(core|host|hook|cli|watch)/)" },
    },
    {
      name: "no-circular",
      comment: "A cycle makes the layers meaningless and the load order fragile.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "not-to-dev-dep",
      comment:
        "The bundles carry what src/ and hooks/ import: that must be a runtime dependency in " +
        "package.json, not a devDependency (type-only imports of @types packages excepted).",
      severity: "error",
      from: { path: "^(src|hooks)/" },
      to: {
        dependencyTypes: ["npm-dev"],
        dependencyTypesNot: ["type-only"],
        pathNot: "^node_modules/@types/",
      },
    },
    {
      name: "no-non-package-json",
      comment: "An npm package used but not declared in package.json works only by accident.",
      severity: "error",
      from: {},
      to: { dependencyTypes: ["npm-no-pkg", "npm-unknown"] },
    },
    {
      name: "not-to-unresolvable",
      comment: "An import that does not resolve fails at build or run time.",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // Type-only imports count too: a layer that needs another's types depends on it.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      mainFields: ["module", "main", "types", "typings"],
    },
    exclude: { path: "^(dist|coverage)/" },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
