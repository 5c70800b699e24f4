#!/usr/bin/env node
// The long run of the libvirt differential test (test/e2e/libvirt-differential.test.ts): thousands
// of generated domains defined in the real system libvirtd, each read by the built hook as libvirt
// hands it over (prepare on `virsh dumpxml`, migrate on `--migratable`, the output defined again,
// prepare once more), with a new seed each time. Run it as root with libvirtd up, under
// `flock /tmp/nwfh-system-libvirtd.lock` where others share the daemon:
//
//   npm run bench:libvirt [-- --runs N] [--seed S] [--out FILE]
//
// --runs   generated domains (default 2000; 250 at a time are defined, checked and undefined)
// --seed   replays a run (the seed is printed first, and written to the result file)
// --out    the result file (default bench/LIBVIRT-RESULTS.md)
// Exits 1 when the hook and libvirt disagree anywhere; the vitest output says where.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const { values: opt } = parseArgs({
  options: {
    runs: { type: "string", default: "2000" },
    seed: { type: "string" },
    out: { type: "string", default: path.join(ROOT, "bench", "LIBVIRT-RESULTS.md") },
  },
  strict: true,
});
const runs = Number(opt.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs: a whole number of domains, got ${opt.runs}`);
const seed = opt.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(opt.seed);
if (!Number.isInteger(seed)) throw new Error(`--seed: a whole number, got ${opt.seed}`);
if (process.getuid?.() !== 0) throw new Error("run as root: it defines domains in the system libvirtd");

process.stderr.write(`bench:libvirt: ${runs} domains, seed ${seed} (replay: npm run bench:libvirt -- --runs ${runs} --seed ${seed})\n`);
const tmp = mkdtempSync(path.join(os.tmpdir(), "nwfh-bench-libvirt-"));
const report = path.join(tmp, "report.json");
const build = spawnSync(process.execPath, [path.join(ROOT, "scripts", "build.mjs")], { cwd: ROOT, stdio: "inherit" });
if (build.status !== 0) throw new Error("the build failed");
const run = spawnSync(
  process.execPath,
  [path.join(ROOT, "node_modules", "vitest", "vitest.mjs"), "run", "--project", "e2e", "test/e2e/libvirt-differential.test.ts"],
  {
    cwd: ROOT,
    stdio: "inherit",
    env: {
      ...process.env,
      CI: "true",
      NWFH_LDIFF_RUNS: String(runs),
      NWFH_LDIFF_SEED: String(seed),
      // Most generated domains are valid: well over half must be accepted for the run to count.
      NWFH_LDIFF_MIN_ACCEPTED: String(Math.ceil(runs * 0.6)),
      NWFH_LDIFF_REPORT: report,
    },
  },
);
const tally = existsSync(report) ? JSON.parse(readFileSync(report, "utf8")) : undefined;
rmSync(tmp, { recursive: true, force: true });

const libvirt = spawnSync("virsh", ["-c", "qemu:///system", "version", "--daemon"], { encoding: "utf8", env: { ...process.env, LC_ALL: "C" } });
const daemon = /Running against daemon: ([\d.]+)/.exec(libvirt.stdout)?.[1] ?? "?";
const agree = run.status === 0 && tally !== undefined;
const rows = tally
  ? [
      ["generated domains", `${tally.runs}`],
      ["seed", `${tally.seed}`],
      ["accepted by libvirt", `${tally.accepted}`],
      ["refused by libvirt (each broken on purpose)", `${tally.refused} (${tally.brokenRefused} broken on purpose)`],
      [
        "prepare on `virsh dumpxml`: exit 0 / exit 1 / other",
        `${tally.prepareExit0} / ${tally.prepareExit1} / ${tally.accepted - tally.prepareExit0 - tally.prepareExit1}`,
      ],
      ["NICs in the accepted domains; filterrefs added at migrate", `${tally.nics}; ${tally.injected}`],
      ["the hook's output defined again, then compliant at prepare", `${tally.redefined}`],
      [
        "time (3 hook calls per accepted domain, virsh batched per 250)",
        `${(tally.ms / 1000).toFixed(0)} s, ${(tally.ms / Math.max(1, tally.runs)) | 0} ms per domain`,
      ],
    ]
  : [];
const text = [
  "# libvirt differential benchmark",
  "",
  `${new Date().toISOString().slice(0, 10)}, Node ${process.version}, libvirt ${daemon}, ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)} at the end.`,
  "",
  `Result: **${agree ? "the hook read every domain libvirt accepted" : "DISAGREE (see the run's output; replay with the seed)"}**.`,
  "",
  "| what | value |",
  "| --- | --- |",
  ...rows.map(([k, v]) => `| ${k} | ${v} |`),
  "",
  ...(tally && Object.keys(tally.refusals ?? {}).length > 0
    ? ["libvirt's reasons for the domains it refused:", "", ...Object.entries(tally.refusals).map(([r, n]) => `- ${n} x ${r}`), ""]
    : []),
].join("\n");
writeFileSync(opt.out, text);
process.stdout.write(`${text}\n`);
process.exit(agree ? 0 : 1);
