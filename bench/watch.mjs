// Benchmark of the watcher (`nwfilter-hook watch`) against the real libvirtd (run as root, under
// flock /tmp/nwfh-system-libvirtd.lock where the machine's daemon is shared):
//   - what one virsh command costs through the asynchronous session, and as a process of its own;
//   - from `virsh define` of a domain without the filter to its persistent definition holding it;
//   - from a burst of 50 such defines (one virsh) to all 50 definitions holding it;
//   - from a live hot-plug of a NIC without the filter to its nwfilter binding existing;
//   - a storm: 30 domains without the filter, each defined and started at once (in parallel),
//     with the hook installed and OnMissing = watch: starts refused, the time until every NIC is
//     bound, the longest any NIC ran without its filter (from its `virsh start` returning to its
//     binding), the oldest the watcher's status got; and libvirt alone (the same storm with the
//     filter in the definitions) for comparison;
//   - a full resync of 200 defined domains (as the watcher reports it), and `audit` of them;
//   - CPU used while idle, and peak RSS (VmHWM), beside `node -e 0`'s.
// Medians of --rounds tries (default 10; the storm once). Writes bench/WATCH-RESULTS.md (or --out FILE).
// --no-storm leaves the storm out (CI's smoke run: the e2e suite watch-storm runs it there).
//   npm run bench:watch [-- --rounds N] [--out FILE] [--no-fail] [--no-storm]
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import os, { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { bundleTool } from "./bundle-tool.mjs";

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : args[i + 1];
};
const ROUNDS = Number(opt("--rounds", "10"));
const OUT = opt("--out", "bench/WATCH-RESULTS.md");
const NO_FAIL = args.includes("--no-fail");
const NO_STORM = args.includes("--no-storm");
const ROOT = resolve(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "..");
const CLI = join(ROOT, "dist", "nwfilter-hook");
const FILTER = "vdsm-no-mac-spoofing";
const BRIDGE = "nwfh-br0";
const PREFIX = "nwfh-bench-w";
const BINDINGS = "/run/libvirt/nwfilter-binding";
const STATUS = "/run/nwfilter-hook/watch.json";
const HOOK = "/etc/libvirt/hooks/qemu.d/50-nwfilter-hook";
const STORM = 30;

const virsh = (...a) =>
  execFileSync("virsh", ["-c", "qemu:///system", ...a], { encoding: "utf8", env: { ...process.env, LC_ALL: "C" }, stdio: ["ignore", "pipe", "pipe"] });
const tryVirsh = (...a) => {
  try {
    return virsh(...a);
  } catch {
    return undefined;
  }
};
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mac = (i, j = 0) => `52:54:00:b${j}:${((i >> 8) & 0xff).toString(16).padStart(2, "0")}:${(i & 0xff).toString(16).padStart(2, "0")}`;
const nic = (m, filter) =>
  `<interface type='bridge'><mac address='${m}'/><source bridge='${BRIDGE}'/><model type='virtio'/>${filter ? `<filterref filter='${FILTER}'/>` : ""}</interface>`;
const domainXml = (name, nics) =>
  `<domain type='qemu'><name>${name}</name><memory unit='MiB'>32</memory><os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices>${nics.join("")}<memballoon model='none'/></devices></domain>\n`;

if (process.getuid?.() !== 0) throw new Error("run as root (it drives the system libvirtd)");
if (!existsSync(CLI)) throw new Error("build first: npm run build");
const dir = mkdtempSync(join(tmpdir(), "nwfh-bench-watch-"));
const policy = join(dir, "policy.ini");
writeFileSync(policy, "[filtering]\nOnMissing = watch\n", { mode: 0o644 });
const filterBefore = tryVirsh("nwfilter-dumpxml", FILTER);
const statusBefore = existsSync(STATUS) ? readFileSync(STATUS) : undefined;
const statusDirExisted = existsSync(dirname(STATUS));
const names = new Set();

function removeDomains(all = [...names]) {
  const script = all.flatMap((n) => [`destroy ${n}`, `undefine ${n}`]).join("\n");
  if (script) spawnSync("virsh", ["-c", "qemu:///system"], { input: `${script}\n`, stdio: ["pipe", "ignore", "ignore"] });
  for (const n of all) {
    rmSync(`/var/log/libvirt/qemu/${n}.log`, { force: true });
    names.delete(n);
  }
}

function cleanup() {
  removeDomains();
  if (filterBefore === undefined) tryVirsh("nwfilter-undefine", FILTER);
  if (hookInstalled) spawnSync(process.execPath, [CLI, "uninstall", "--policy", policy], { stdio: "ignore" });
  if (statusBefore === undefined) rmSync(STATUS, { force: true });
  else writeFileSync(STATUS, statusBefore);
  if (!statusDirExisted && existsSync(dirname(STATUS)) && readdirSync(dirname(STATUS)).length === 0) rmdirSync(dirname(STATUS));
  rmSync(dir, { recursive: true, force: true });
}

/** Defines many domains through one virsh. */
function defineAll(list) {
  const files = list.map(({ name, xml }) => {
    names.add(name);
    const f = join(dir, `${name}.xml`);
    writeFileSync(f, xml);
    return f;
  });
  const r = spawnSync("virsh", ["-c", "qemu:///system"], { input: `${files.map((f) => `define ${f}`).join("\n")}\n`, encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
}

function procStat(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime + stime, clock ticks
}
const hwm = (pid) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) / 1024;

async function until(check, timeoutMs, what) {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(1);
  }
  return performance.now();
}

/** Domains that have a binding of the filter for their NIC (libvirt's files, one per tap), by owner name. */
function boundDomains() {
  const bound = new Set();
  if (!existsSync(BINDINGS)) return bound;
  for (const f of readdirSync(BINDINGS)) {
    let xml;
    try {
      xml = readFileSync(join(BINDINGS, f), "utf8");
    } catch {
      continue;
    }
    const owner = /<owner>\s*<name>([^<]*)<\/name>/.exec(xml)?.[1];
    if (owner !== undefined && xml.includes(`<filterref filter='${FILTER}'`)) bound.add(owner);
  }
  return bound;
}

function shell(script) {
  return new Promise((resolve) => {
    const child = spawn("sh", ["-c", script], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, LC_ALL: "C" } });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (c) => (stderr += c));
    child.on("close", (code) => resolve({ code, stderr, endedAt: performance.now() }));
  });
}

/** STORM domains defined and started at once; `filter`: with the filterref in their definitions. */
async function storm(label, filter) {
  const list = Array.from({ length: STORM }, (_, i) => {
    const name = `${PREFIX}-${label}${i}`;
    names.add(name);
    const file = join(dir, `${name}.xml`);
    writeFileSync(file, domainXml(name, [nic(mac(i, filter ? 6 : 5), filter)]));
    return { name, file };
  });
  const ages = [];
  const sampler = setInterval(() => {
    try {
      const s = JSON.parse(readFileSync(STATUS, "utf8"));
      ages.push({ age: Date.now() - s.heartbeat, state: s.state });
    } catch {
      // between a rename and the read
    }
  }, 100);
  const t0 = performance.now();
  const runs = await Promise.all(list.map((d) => shell(`virsh -c qemu:///system define '${d.file}' >/dev/null && virsh -c qemu:///system start '${d.name}'`)));
  const boundAt = new Map();
  const deadline = performance.now() + 300_000;
  while (boundAt.size < list.filter((_, i) => runs[i].code === 0).length) {
    if (performance.now() > deadline) break;
    const now = performance.now();
    for (const n of boundDomains()) if (!boundAt.has(n)) boundAt.set(n, now);
    await sleep(10);
  }
  clearInterval(sampler);
  const started = list.map((d, i) => ({ ...d, run: runs[i] })).filter((d) => d.run.code === 0);
  const result = {
    refused: list.length - started.length,
    refusals: runs.filter((r) => r.code !== 0).map((r) => r.stderr.trim().split("\n").pop()),
    allBound: Math.max(...started.map((d) => boundAt.get(d.name) ?? Infinity)) - t0,
    longest: Math.max(...started.map((d) => (boundAt.get(d.name) ?? Infinity) - d.run.endedAt)),
    oldestStatus: Math.max(0, ...ages.map((a) => a.age)),
    notWatching: ages.filter((a) => a.state !== "watching").length,
  };
  removeDomains(list.map((d) => d.name));
  return result;
}

/** What a command costs through the session and as a process of its own (bench/session-cost.ts, bundled). */
function sessionCost() {
  const tool = bundleTool({ entryPoints: [join(ROOT, "bench", "session-cost.ts")], outfile: join(dir, "session-cost.cjs") });
  const r = spawnSync(process.execPath, [tool, "qemu:///system", "500"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`session-cost: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

let watcher;
let log = "";
let hookInstalled = false;
const results = {};
try {
  // Clean slate: leftovers of an interrupted run.
  for (const n of (tryVirsh("list", "--all", "--name") ?? "")
    .split("\n")
    .map((s) => s.trim())
    .filter((s) => s.startsWith(PREFIX)))
    names.add(n);
  removeDomains();

  results.session = sessionCost();

  // The hook, so that the storm's starts pay for it as on a host (a hook already there is used as it is).
  if (!existsSync(HOOK)) {
    const r = spawnSync(process.execPath, [CLI, "install", "--policy", policy], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`install: ${r.stdout}${r.stderr}`);
    hookInstalled = true;
  }

  watcher = spawn(process.execPath, [CLI, "watch", "--policy", policy, "--no-syslog"], { stdio: ["ignore", "ignore", "pipe"] });
  watcher.stderr.setEncoding("utf8");
  watcher.stderr.on("data", (c) => (log += c));
  await until(() => /resync: /.test(log), 30_000, "the watcher's first resync");

  // 1. define -> compliant (the file libvirt writes for the definition).
  const defineMs = [];
  for (let i = 0; i < ROUNDS; i++) {
    const name = `${PREFIX}-def${i}`;
    names.add(name);
    const file = join(dir, `${name}.xml`);
    writeFileSync(file, domainXml(name, [nic(mac(i, 1))]));
    const t0 = performance.now();
    virsh("define", file);
    const t1 = await until(
      () => {
        try {
          return readFileSync(`/etc/libvirt/qemu/${name}.xml`, "utf8").includes(`filterref filter='${FILTER}'`);
        } catch {
          return false;
        }
      },
      10_000,
      `${name} compliant`,
    );
    defineMs.push(t1 - t0);
  }
  results.define = median(defineMs);

  // 1b. a burst of 50 defines -> all 50 compliant; undefined again, so that the resync below
  // sees the same domains as before.
  const hasFilter = (name) => {
    try {
      return readFileSync(`/etc/libvirt/qemu/${name}.xml`, "utf8").includes(`filterref filter='${FILTER}'`);
    } catch {
      return false;
    }
  };
  const burstMs = [];
  for (let i = 0; i < ROUNDS; i++) {
    const burst = Array.from({ length: 50 }, (_, j) => ({ name: `${PREFIX}-b${i}-${j}`, xml: domainXml(`${PREFIX}-b${i}-${j}`, [nic(mac(i * 50 + j, 4))]) }));
    const left = new Set(burst.map((d) => d.name));
    const t0 = performance.now();
    defineAll(burst);
    const t1 = await until(
      () => {
        for (const n of left) if (hasFilter(n)) left.delete(n);
        return left.size === 0;
      },
      30_000,
      `burst ${i} compliant`,
    );
    burstMs.push(t1 - t0);
    await sleep(500);
    removeDomains(burst.map((d) => d.name));
  }
  results.burst = median(burstMs);

  // 2. live hot-plug -> nwfilter binding.
  const hot = `${PREFIX}-hot`;
  names.add(hot);
  writeFileSync(join(dir, "hot.xml"), domainXml(hot, [nic(mac(0, 2), true)]));
  virsh("define", join(dir, "hot.xml"));
  virsh("start", hot);
  const bindings = () => (existsSync(BINDINGS) ? readdirSync(BINDINGS).length : 0);
  const hotMs = [];
  for (let i = 0; i < ROUNDS; i++) {
    const before = bindings();
    const f = join(dir, `nic${i}.xml`);
    writeFileSync(f, nic(mac(i + 1, 2)));
    const t0 = performance.now();
    virsh("attach-device", hot, f, "--live");
    const t1 = await until(() => bindings() > before, 10_000, `binding for hot-plugged NIC ${i}`);
    hotMs.push(t1 - t0);
  }
  results.hotplug = median(hotMs);
  // libvirt's own time for the same: a hot-plug whose NIC carries the filterref already.
  const ownMs = [];
  for (let i = 0; i < ROUNDS; i++) {
    const before = bindings();
    const f = join(dir, `own${i}.xml`);
    writeFileSync(f, nic(mac(i + 100, 2), true));
    const t0 = performance.now();
    virsh("attach-device", hot, f, "--live");
    const t1 = await until(() => bindings() > before, 10_000, `binding for NIC ${i} attached with the filter`);
    ownMs.push(t1 - t0);
  }
  results.hotplugOwn = median(ownMs);
  removeDomains([hot]);

  // 2b. the storm, with the watcher, then libvirt alone.
  if (!NO_STORM) {
    results.storm = await storm("st", false);
    await sleep(2_000);
    results.stormOwn = await storm("so", true);
  }

  // 3. resync of 200 defined domains (compliant already: the resync reads them all and writes none).
  const many = Array.from({ length: 200 }, (_, i) => ({ name: `${PREFIX}-r${i}`, xml: domainXml(`${PREFIX}-r${i}`, [nic(mac(i, 3), true)]) }));
  defineAll(many);
  const total = Number(
    virsh("list", "--all", "--name")
      .split("\n")
      .filter((l) => l.trim() !== "").length,
  );
  await sleep(2_000);
  const resyncMs = [];
  for (let i = 0; i < ROUNDS; i++) {
    const seen = (log.match(/resync: /g) ?? []).length;
    watcher.kill("SIGHUP"); // a policy reload resyncs every domain
    await until(() => (log.match(/resync: /g) ?? []).length > seen, 60_000, "resync");
    const line = log
      .trim()
      .split("\n")
      .filter((l) => /resync: /.test(l))
      .pop();
    resyncMs.push(Number(/\((\d+) ms\)/.exec(line)[1]));
  }
  results.resync = median(resyncMs);
  results.resyncDomains = total;
  const auditMs = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    spawnSync(process.execPath, [CLI, "audit", "--policy", policy], { stdio: "ignore" });
    auditMs.push(performance.now() - t0);
  }
  results.audit = median(auditMs);

  // 4. idle CPU and peak RSS.
  await sleep(1_000);
  const ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }));
  const c0 = procStat(watcher.pid);
  const IDLE_S = 10;
  await sleep(IDLE_S * 1000);
  results.idleCpu = ((procStat(watcher.pid) - c0) / ticks / IDLE_S) * 100;
  results.rss = hwm(watcher.pid);
  const base = spawnSync(process.execPath, ["-e", `process.stdout.write(require("fs").readFileSync("/proc/self/status","utf8"))`], { encoding: "utf8" });
  results.nodeRss = Number(/VmHWM:\s+(\d+) kB/.exec(base.stdout)[1]) / 1024;
} finally {
  if (watcher && watcher.exitCode === null) {
    watcher.kill("SIGTERM");
    await new Promise((r) => watcher.once("exit", r));
  }
  cleanup();
}

const ms = (v) => (Number.isFinite(v) ? `${v.toFixed(0)} ms` : "never");
const rows = [
  [
    "one virsh command (`list --name`) through the watcher's session; as a virsh of its own",
    `${results.session.sessionMs.toFixed(2)} ms; ${results.session.oneShotMs.toFixed(1)} ms`,
    "<= 1 ms",
    results.session.sessionMs <= 1,
  ],
  [
    "the event loop's longest delay meanwhile (the old session blocked it for every call; now only CPU starvation delays it)",
    `${results.session.loopDelayMaxMs.toFixed(1)} ms`,
    "(reported)",
    true,
  ],
  ["`virsh define` of a domain without the filter -> its definition holds it", `${results.define.toFixed(0)} ms`, "<= 300 ms", results.define <= 300],
  [
    "burst of 50 `virsh define`s (one virsh) of domains without the filter -> all 50 hold it",
    `${results.burst.toFixed(0)} ms`,
    "<= 1000 ms",
    results.burst <= 1000,
  ],
  ["live hot-plug of a NIC without the filter -> its nwfilter binding exists", `${results.hotplug.toFixed(0)} ms`, "<= 500 ms", results.hotplug <= 500],
  ["(libvirt alone: hot-plug of a NIC that carries the filterref -> binding)", `${results.hotplugOwn.toFixed(0)} ms`, "baseline", true],
  ...(results.storm === undefined ? [] : stormRows(results)),
  [`full resync of ${results.resyncDomains} defined domains`, `${results.resync.toFixed(0)} ms`, "<= 2000 ms", results.resync <= 2000],
  [`\`audit\` of the same ${results.resyncDomains} domains (one virsh session)`, `${results.audit.toFixed(0)} ms`, "(was 4.1 s)", true],
  ["CPU while idle (10 s, between events)", `${results.idleCpu.toFixed(2)} %`, "~0", results.idleCpu < 0.5],
  ["peak RSS of the watcher (VmHWM)", `${results.rss.toFixed(1)} MiB (node -e 0: ${results.nodeRss.toFixed(1)} MiB)`, "<= 80 MiB", results.rss <= 80],
];

/** The storm's rows (left out with --no-storm). */
function stormRows(results) {
  return [
    [
      `storm: ${STORM} domains without the filter defined and started at once (OnMissing = watch): starts refused`,
      `${results.storm.refused}${results.storm.refusals.length ? ` (${results.storm.refusals[0]})` : ""}`,
      "0",
      results.storm.refused === 0,
    ],
    ["storm: from the first define to every NIC bound", ms(results.storm.allBound), "(reported)", Number.isFinite(results.storm.allBound)],
    ["(libvirt alone: the same storm with the filter in the definitions)", ms(results.stormOwn.allBound), "baseline", true],
    [
      "storm: the longest a NIC ran without its filter (its `virsh start` returning -> its binding)",
      ms(results.storm.longest),
      "(reported)",
      Number.isFinite(results.storm.longest),
    ],
    [
      "storm: the oldest the watcher's status got (sampled every 100 ms); samples not 'watching'",
      `${ms(results.storm.oldestStatus)}; ${results.storm.notWatching}`,
      "< 20000 ms (stale); 0",
      results.storm.oldestStatus < 20_000 && results.storm.notWatching === 0,
    ],
  ];
}
const table = [
  "| what | median | target | met |",
  "| --- | --- | --- | --- |",
  ...rows.map(([w, v, t, ok]) => `| ${w} | ${v} | ${t} | ${ok ? "yes" : "NO"} |`),
].join("\n");
const text = `# Watcher benchmark\n\nNode ${process.version}, libvirt ${(tryVirsh("version", "--daemon") ?? "").match(/daemon: (\S+)/)?.[1] ?? "?"}, ${ROUNDS} tries each (the storm once; resync: SIGHUP, as the watcher reports it), load average ${os.loadavg()[0].toFixed(1)} at the end.\n\n${table}\n`;
writeFileSync(OUT, text);
process.stdout.write(text);
if (!NO_FAIL && rows.some((r) => !r[3])) process.exitCode = 1;
