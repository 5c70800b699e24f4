// Leak windows of the two paths on which the filter arrives while a guest already runs, measured
// with the attack guest against the real libvirtd (as root, under the machine's libvirt lock:
// `flock /tmp/nwfh-system-libvirtd.lock npm run bench:attack`):
//   - define-then-start under `OnMissing = watch`, the watcher adding the filter live;
//   - a NIC hot-plugged live without the filter, the watcher adding it with update-device.
// The guest sends every kind of frame every 20 ms from the moment its NIC carries traffic; the
// victim counts what reaches it. Per path and round: the spoofed frames that reached the victim,
// the time from the first of them to the first tick whose spoofed frames were dropped (from the
// guest's sequence numbers and the victim's receive times), when libvirt wrote the NIC's nwfilter
// binding (an upper bound of when its rules took effect) and when the victim heard the guest's
// first frame, both after the start or the hot-plug returned.
// Medians and maxima of --rounds rounds (default 5). Writes bench/ATTACK-RESULTS.md (or --out).
//   npm run bench:attack [-- --rounds N] [--out FILE]
// It reuses the attack suite's own helpers (test/e2e/helpers/attack-*.ts), bundled here with
// esbuild; a round whose own frames did not arrive, or whose spoofed frames arrived after the
// filter was in place, is a broken run: exit 3.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { bundleTool } from "./bundle-tool.mjs";

const ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "..");
const { values: opt } = parseArgs({ options: { rounds: { type: "string", default: "5" }, out: { type: "string", default: "bench/ATTACK-RESULTS.md" } } });
const ROUNDS = Number(opt.rounds);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error("--rounds must be a whole number >= 1");
if (process.getuid?.() !== 0) throw new Error("run as root (it drives the system libvirtd and makes a network namespace)");

// The helpers are TypeScript: bundle them into node_modules/.cache, where their imports resolve,
// and tell test/support/paths.ts where the repository is (it reckons from its own location).
const bundle = join(ROOT, "node_modules", ".cache", "nwfh-bench-attack", "helpers.mjs");
mkdirSync(join(bundle, ".."), { recursive: true });
const helpers = ["attack-guest", "attack-victim", "attack-paths", "attack-count", "cli", "watcher", "libvirt"];
bundleTool({
  stdin: { contents: helpers.map((h) => `export * from "./test/e2e/helpers/${h}.ts";`).join("\n"), resolveDir: ROOT, loader: "ts" },
  format: "esm",
  outfile: bundle,
  define: { "import.meta.url": JSON.stringify(pathToFileURL(join(ROOT, "test", "support", "paths.ts")).href) },
});
const h = await import(pathToFileURL(bundle).href);

const BLOCKED = ["mac", "arp-mac"];
const SEND_MS = 4000;
const PATHS = [
  { id: "watch", title: "define-then-start, `OnMissing = watch`", run: h.defineThenStartPath },
  { id: "hotplug", title: "NIC hot-plugged live", run: h.hotPlugPath },
];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const max = (xs) => Math.max(...xs);
const min = (xs) => Math.min(...xs);
const ms = (x) => (Number.isNaN(x) ? "-" : `${Math.round(x)} ms`);
/** A round whose spoofed frames were never dropped (the guest ended first) has no window. */
const windows = (rs) => {
  const w = rs.map((r) => r.windowMs).filter((x) => !Number.isNaN(x));
  return w.length ? `${ms(median(w))} / ${ms(max(w))}` : "-";
};

const image = h.guestImage();
const host = new h.E2eHost("bench-attack");
const restoreStatus = h.saveStatus();
host.onTearDown(() => restoreStatus());
host.writePolicy("[filtering]\nOnMissing = watch\nResyncInterval = 600\n");
let victim;
const results = Object.fromEntries(PATHS.map((p) => [p.id, []]));
let broken = 0;
try {
  const r = host.install();
  if (r.code !== 0) throw new Error(`install failed:\n${r.stdout}${r.stderr}`);
  victim = h.Victim.create(image.tool, host.dir);
  const watcher = new h.WatcherProcess(host.dir, host.policy, {}, "watch-bench");
  await watcher.waitForLog(/resync: \d+ domains?: /);
  const ctx = { image, victim, dir: host.dir };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, path] of PATHS.entries()) {
      const name = host.domainName(`${path.id}${round}`);
      host.onTearDown(() => rmSync(h.serialLogPath(name), { force: true }));
      const run = await path.run(ctx, h.systemDaemon, {
        name,
        mac: `52:54:00:a7:02:${(round * PATHS.length + i).toString(16).padStart(2, "0")}`,
        sendMs: SEND_MS,
      });
      const leak = h.leakOf(run.frames, BLOCKED);
      const after = h.countFrames(h.receivedFrom(run.frames, run.protectedAt));
      const first = min(run.frames.map((f) => f.t));
      const row = {
        leaked: leak.leaked,
        windowMs: leak.windowMs ?? NaN,
        commandMs: run.returnedAt - run.actedAt,
        protectedMs: (run.boundAt ?? run.protectedAt) - run.returnedAt,
        firstFrameMs: first - run.returnedAt,
        ok: after.own > 0 && BLOCKED.every((k) => after[k] === 0),
      };
      if (!row.ok) broken++;
      results[path.id].push(row);
      console.log(`${path.id} ${round + 1}/${ROUNDS}: ${JSON.stringify(row)}`);
      h.destroyAndUndefine(name);
    }
  }
  await watcher.stop();
} finally {
  // Each step runs even when the one before it fails: the host gets its hook and filter back.
  try {
    await h.stopAll();
  } finally {
    try {
      await victim?.remove();
    } finally {
      host.tearDown();
    }
  }
}

const lines = [
  "# The attack guest's leak windows (bench/attack.mjs)",
  "",
  `${new Date().toISOString().slice(0, 10)}, ${ROUNDS} rounds per path, ${cpus().length} x ${cpus()[0]?.model ?? "?"}, load average at the end ${loadavg()
    .map((x) => x.toFixed(2))
    .join(
      " ",
    )}, Node ${process.version}. The guest sends every 20 ms. Times from \`virsh start\` or \`virsh attach-device\` returning; libvirt writes a NIC's nwfilter binding (the file's mtime in /run/libvirt/nwfilter-binding; negative: before the command returned) once it has finished instantiating the filter, which takes it many ebtables and iptables calls: its rules drop frames before that, so the binding's time is only an upper bound of the filter's. Whether frames leaked, and for how long, is what the guest's tick numbers and the victim's receive times say.`,
  "",
  "| path | spoofed frames that reached the victim (median / max) | leak window (median / max) | `virsh` command took (median / max) | libvirt wrote the binding after it returned (median / max) | victim hears the guest after it returned (median / min) | broken runs |",
  "| --- | --- | --- | --- | --- | --- | --- |",
  ...PATHS.map((p) => {
    const rs = results[p.id];
    const of = (k) => rs.map((r) => r[k]);
    return `| ${p.title} | ${median(of("leaked"))} / ${max(of("leaked"))} | ${windows(rs)} | ${ms(median(of("commandMs")))} / ${ms(max(of("commandMs")))} | ${ms(median(of("protectedMs")))} / ${ms(max(of("protectedMs")))} | ${ms(median(of("firstFrameMs")))} / ${ms(min(of("firstFrameMs")))} | ${rs.filter((r) => !r.ok).length} |`;
  }),
  "",
  "Every round:",
  "",
  "| path | round | leaked | window | binding written after | first frame after |",
  "| --- | --- | --- | --- | --- | --- |",
  ...PATHS.flatMap((p) =>
    results[p.id].map((r, i) => `| ${p.id} | ${i + 1} | ${r.leaked} | ${ms(r.windowMs)} | ${ms(r.protectedMs)} | ${ms(r.firstFrameMs)} |`),
  ),
  "",
];
writeFileSync(resolve(ROOT, opt.out), lines.join("\n"));
console.log(lines.join("\n"));
if (broken > 0) {
  console.error(`bench:attack: ${broken} broken run(s): own frames missing, or spoofed frames after the filter`);
  process.exit(3);
}
