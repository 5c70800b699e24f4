#!/usr/bin/env node
// Benchmark of the built hook, `dist/qemu`, run the way libvirt runs it.
//
//   npm run bench [-- --rounds N] [--hook PATH] [--out FILE] [--no-fail] [--python PATH]
//                    [--nic-address] [--keep]
//
// What it does
// - Generates libvirt domain XML with 1, 4, 64, 1024 and 4096 bridge NICs, each compliant (every
//   NIC references vdsm-no-mac-spoofing) and not, in a temporary directory, together with the host
//   facts the hook reads through its environment overrides: a policy file (NWFILTER_HOOK_POLICY),
//   a directory holding the filter definition (NWFILTER_HOOK_NWFILTER_DIR), a fake
//   /sys/class/net where br0 is a Linux bridge (NWFILTER_HOOK_SYSFS_NET) and an empty network
//   directory (NWFILTER_HOOK_NETWORK_DIRS). A no-op `logger` comes first on PATH so that the
//   hook's syslog messages go nowhere.
// - Runs the hook as a separate process, executed directly through its `#!` line as libvirt
//   does, with libvirt's scrubbed environment (LC_ALL=C, PATH, HOME, USER,
//   LOGNAME[, TMPDIR]), cwd `/`, the domain XML written to its stdin and its stdout read to the
//   end: `prepare begin` on compliant domains, `migrate begin` on non-compliant ones, and a whole
//   start/stop lifecycle (prepare, start, started, stopped, release; five calls in a row, each
//   given the XML) on the compliant 4-NIC domain.
// - Runs the same calls against bench/baselines/qemu_hook_elementtree.py, a hook a user might
//   write instead with Python's standard library.
// - Runs `node -e 0` (same executable, environment and stdio) right before every measured
//   scenario, in a shuffled scenario order each round: these machines are noisy, and only ratios
//   of figures measured side by side in one run mean anything. Medians over the rounds.
//
// How it measures
// - Every call but the preflight's few is spawned by bench/timer.py, a small long-lived
//   Python process (standard library only) that this script starts once with the
//   whole plan: spawnSync from this ~50 MB Node process would add about a millisecond of its own
//   per call (fork of a large process, the event loop, pipes), which is not the hook's and
//   weighs most on the five-call lifecycle. For each call the timer makes pipes for stdin,
//   stdout and stderr, starts the command with os.posix_spawn() (glibc clones vfork-style, so
//   the cost does not grow with the spawner) with the pipes as its fds 0-2, nothing else open,
//   default signal dispositions, exactly the environment above and cwd `/`, writes the domain
//   XML while reading stdout and stderr to the end (a child may exit without reading its
//   stdin), and reaps it with os.wait4().
// - Time: time.perf_counter_ns() from just before posix_spawn to after wait4 with all output
//   read, i.e. wall time from spawn to exit with the output consumed. For the lifecycle, the sum
//   of the five calls.
// - Peak memory: the ru_maxrss (KiB) of that same wait4, so from the same runs as the times.
//   Linux reports the largest of the child and of the children it waited for (node under the
//   hook's /bin/sh line; not the `logger` it leaves in the background). For the lifecycle, the
//   largest of the five calls. A child runs in its spawner's memory until its exec, which
//   Linux counts in its peak too: the timer resets its own high-water mark before each spawn
//   and stays at 10-12 MB, which the report gives as the floor; a figure within 1 MB of it is
//   shown as `<=` (it may be the timer's).
// - Outputs: the timer returns a call's stdout and stderr in full the first time that call
//   (argv and stdin) runs and whenever they differ from that first time, otherwise their sha256
//   and length, so that every run is checked.
//
// Ratios are medians over the `node -e 0` median of the same run, the lifecycle (five processes)
// included: the point is that a whole start/stop cycle costs barely more than one Node start,
// since only prepare has work to do. Every run of every call, the warm-up included, is checked
// against the hook contract (prepare on a compliant domain exits 0 and prints nothing; migrate
// prints the domain with one filterref per NIC and nothing else changed; before the timed runs,
// prepare on a non-compliant domain is refused) and against its own first run (same exit, same
// output), and the benchmark fails if one is not, so that a broken hook cannot pass by being
// fast. It prints the table, writes it with the machine's details to bench/RESULTS.md (--out),
// and exits 1 when a target is missed, unless --no-fail.
//
// Options
//   --rounds N       timed rounds (default 20, or $BENCH_ROUNDS); each runs every scenario once
//   --hook PATH      the hook to run (default dist/qemu)
//   --out FILE       where to write the report (default bench/RESULTS.md)
//   --python PATH    interpreter for the baseline and bench/timer.py (default /usr/bin/python3,
//                    else python3)
//   --nic-address    give each NIC a PCI <address> as libvirt would (4096 NICs then come to
//                    about 0.9 MB instead of the 600 KB the targets were set for)
//   --keep           keep the temporary directory (generated domains, policy) for inspection
//   --no-fail        report only: exit 0 even when a target is missed
// Exit status: 0 all targets met, 1 a target missed, 2 cannot run, 3 a call broke the contract.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  accessSync, chmodSync, constants as fsc, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const FILTER = "vdsm-no-mac-spoofing";
const SIZES = [1, 4, 64, 1024, 4096];
const LIFECYCLE = [["prepare", "begin"], ["start", "begin"], ["started", "begin"], ["stopped", "end"], ["release", "end"]];

// ---------------------------------------------------------------------------------------------
// Options

const { values: opt } = parseArgs({
  options: {
    rounds: { type: "string", default: process.env.BENCH_ROUNDS ?? "20" },
    hook: { type: "string", default: path.join(ROOT, "dist", "qemu") },
    out: { type: "string", default: path.join(ROOT, "bench", "RESULTS.md") },
    python: { type: "string" },
    "no-fail": { type: "boolean", default: false },
    "nic-address": { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
  strict: true,
});
if (opt.help) {
  process.stdout.write(readFileSync(fileURLToPath(import.meta.url), "utf8").split("\n").slice(1)
    .filter((l, i, a) => a.slice(0, i + 1).every((x) => x.startsWith("//"))).map((l) => l.slice(3)).join("\n") + "\n");
  process.exit(0);
}
const ROUNDS = positiveInt(opt.rounds, "--rounds");
const HOOK = path.resolve(opt.hook);
const PYTHON = opt.python ?? (existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
const BASELINE = path.join(ROOT, "bench", "baselines", "qemu_hook_elementtree.py");
const TIMER = path.join(ROOT, "bench", "timer.py");

function positiveInt(s, name) {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) die(`${name} must be a positive integer, not ${JSON.stringify(s)}`);
  return n;
}
function die(msg) {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(2);
}

try {
  accessSync(HOOK, fsc.X_OK);
} catch {
  die(`${HOOK} is missing or not executable: run \`npm run build\` first (or give --hook PATH)`);
}

// The timer needs posix_spawn (Python 3.8); without it nothing can be measured.
const probe = spawnSync(PYTHON, ["-I", "-S", "-c", "import os, sys; sys.exit(not hasattr(os, 'posix_spawn'))"], { stdio: "ignore" });
if (probe.error || probe.status !== 0) die(`${PYTHON} cannot run bench/timer.py, which needs Python 3.8 or later (give --python PATH)`);

// ---------------------------------------------------------------------------------------------
// The host a hook sees: files in a temporary directory, and libvirt's environment

const TMP = mkdtempSync(path.join(os.tmpdir(), "nwfh-bench-"));
process.on("exit", () => {
  if (!opt.keep) rmSync(TMP, { recursive: true, force: true });
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));

function put(rel, content, mode = 0o644) {
  const file = path.join(TMP, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
  chmodSync(file, mode); // explicit: the umask must not decide
  return file;
}

const policyFile = put("etc/policy.ini", "[filtering]\nOnMissing = enforce\n");
const filterSrc = path.join(ROOT, "nwfilter", `${FILTER}.xml`);
const nwfilterDir = path.dirname(put(`etc/nwfilter/${FILTER}.xml`, existsSync(filterSrc) ? readFileSync(filterSrc) : [
  `<filter name='${FILTER}' chain='root'>`,
  "  <uuid>8d0d3f6a-0b3e-4f6e-9a64-2f1d8e1c5b01</uuid>",
  "  <filterref filter='no-mac-spoofing'/>",
  "  <filterref filter='no-arp-mac-spoofing'/>",
  "</filter>",
  "",
].join("\n")));
const sysfsNet = path.join(TMP, "sys/class/net");
mkdirSync(path.join(sysfsNet, "br0", "bridge"), { recursive: true });
const networkDir = path.join(TMP, "run/libvirt/network");
mkdirSync(networkDir, { recursive: true });
const binDir = path.dirname(put("bin/logger", "#!/bin/sh\n# no-op syslog for the benchmark\n[ -t 0 ] || cat >/dev/null\nexit 0\n", 0o755));

// PATH: the no-op logger, then the directory of the node running this script (so that the
// shell line's `node` and `node -e 0` are the same executable), then the usual ones.
const PATH_DIRS = [binDir, path.dirname(process.execPath), "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];
const user = os.userInfo().username;
const ENV = {
  LC_ALL: "C",
  PATH: [...new Set(PATH_DIRS)].join(":"),
  HOME: os.homedir(),
  USER: user,
  LOGNAME: user,
  ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
  NWFILTER_HOOK_POLICY: policyFile,
  NWFILTER_HOOK_NWFILTER_DIR: nwfilterDir,
  NWFILTER_HOOK_SYSFS_NET: sysfsNet,
  NWFILTER_HOOK_NETWORK_DIRS: networkDir,
};

// ---------------------------------------------------------------------------------------------
// Domain XML as libvirt writes it (2-space indentation, single quotes), disk-less

function uuidFor(name) {
  const h = createHash("sha256").update(name).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function domainXml(nics, compliant) {
  const name = `bench-${nics}-${compliant ? "compliant" : "open"}`;
  const hex = (n) => n.toString(16).padStart(2, "0");
  const lines = [
    "<domain type='kvm'>",
    `  <name>${name}</name>`,
    `  <uuid>${uuidFor(name)}</uuid>`,
    "  <memory unit='KiB'>1048576</memory>",
    "  <currentMemory unit='KiB'>1048576</currentMemory>",
    "  <vcpu placement='static'>2</vcpu>",
    "  <os>",
    "    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>",
    "    <boot dev='network'/>",
    "  </os>",
    "  <features>",
    "    <acpi/>",
    "    <apic/>",
    "  </features>",
    "  <cpu mode='host-passthrough' check='none' migratable='on'/>",
    "  <clock offset='utc'>",
    "    <timer name='rtc' tickpolicy='catchup'/>",
    "    <timer name='pit' tickpolicy='delay'/>",
    "    <timer name='hpet' present='no'/>",
    "  </clock>",
    "  <on_poweroff>destroy</on_poweroff>",
    "  <on_reboot>restart</on_reboot>",
    "  <on_crash>destroy</on_crash>",
    "  <devices>",
    "    <emulator>/usr/bin/qemu-system-x86_64</emulator>",
    "    <controller type='usb' index='0' model='piix3-uhci'>",
    "      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x2'/>",
    "    </controller>",
    "    <controller type='pci' index='0' model='pci-root'/>",
  ];
  for (let i = 0; i < nics; i++) {
    lines.push(
      "    <interface type='bridge'>",
      `      <mac address='52:54:00:${hex((i >> 16) & 255)}:${hex((i >> 8) & 255)}:${hex(i & 255)}'/>`,
      "      <source bridge='br0'/>",
      "      <model type='virtio'/>",
    );
    if (compliant) lines.push(`      <filterref filter='${FILTER}'/>`);
    if (opt["nic-address"]) {
      lines.push(`      <address type='pci' domain='0x0000' bus='0x00' slot='0x${hex(3 + (i % 29))}' function='0x0'/>`);
    }
    lines.push("    </interface>");
  }
  lines.push(
    "    <serial type='pty'>",
    "      <target type='isa-serial' port='0'>",
    "        <model name='isa-serial'/>",
    "      </target>",
    "    </serial>",
    "    <console type='pty'>",
    "      <target type='serial' port='0'/>",
    "    </console>",
    "    <input type='mouse' bus='ps2'/>",
    "    <input type='keyboard' bus='ps2'/>",
    "    <memballoon model='virtio'>",
    "      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>",
    "    </memballoon>",
    "  </devices>",
    "</domain>",
    "",
  );
  return { name, xml: Buffer.from(lines.join("\n")) };
}

const domains = {};
for (const n of SIZES) {
  for (const compliant of [true, false]) {
    const d = domainXml(n, compliant);
    d.file = put(`domains/${d.name}.xml`, d.xml); // the calls' stdin, named in the timer's plan
    domains[`${n}/${compliant ? "c" : "o"}`] = d;
  }
}
const dom = (n, compliant) => domains[`${n}/${compliant ? "c" : "o"}`];

// ---------------------------------------------------------------------------------------------
// Running processes

// Untimed, for the preflight only.
function run(argv, input) {
  const r = spawnSync(argv[0], argv.slice(1), { cwd: "/", env: ENV, maxBuffer: 256 * 1024 * 1024, stdio: "pipe", input });
  // A child that exits without reading all of stdin makes the write fail with EPIPE: that is
  // the child's right (libvirt ignores it too), not a failure.
  if (r.error && r.error.code !== "EPIPE") throw new Error(`cannot run ${argv.join(" ")}: ${r.error.message}`);
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

// Timed: the whole plan in one bench/timer.py process, which gets the hook's environment and
// cwd so that it can hand them on unchanged. Yields one line per entry, then the end line.
function runTimer(plan) {
  const t = spawnSync(PYTHON, ["-I", "-S", TIMER], {
    cwd: "/", env: ENV, input: JSON.stringify(plan), stdio: ["pipe", "pipe", "inherit"], maxBuffer: 1024 * 1024 * 1024,
  });
  if (t.error) die(`cannot run ${PYTHON} ${TIMER}: ${t.error.message}`);
  if (t.status !== 0) die(`${TIMER} failed (exit ${t.status ?? t.signal})`);
  const lines = t.stdout.toString("utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
  if (!lines.at(-1)?.end) die(`${TIMER} ended without its last line`);
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Scenarios and their correctness checks

const EMPTY = put("empty", "");
const nodeZero = { id: "node0", label: "`node -e 0`", calls: [{ argv: [process.execPath, "-e", "0"], stdin: EMPTY }] };

const hookCall = (exe, d, op, subop) => ({ argv: [...exe, d.name, op, subop, "-"], stdin: d.file });
const HOOK_EXE = [HOOK];
const PY_EXE = [PYTHON, BASELINE];

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const FILTERREF_RE = new RegExp(`\\s*<filterref\\s+filter\\s*=\\s*(['"])${escapeRe(FILTER)}\\1\\s*/>`, "g");
const countFilterrefs = (s) => (s.match(FILTERREF_RE) ?? []).length;
const squash = (s) => s.replace(/\s+/g, "");

function fail(sc, i, r, why) {
  const err = r.stderr?.toString().trim();
  throw new Error(`${sc.label}, call ${i + 1}${r.where ? ` (${r.where})` : ""}: ${why} (exit ${r.status}${r.signal ? `, ${r.signal}` : ""}${err ? `; stderr: ${err.slice(0, 500)}` : ""})`);
}
const expectExit0 = (sc, i, r) => {
  if (r.status !== 0) fail(sc, i, r, "expected exit status 0");
};
const expectQuiet = (sc, i, r) => {
  expectExit0(sc, i, r);
  if (r.stdout.length) fail(sc, i, r, `expected no output, got ${r.stdout.length} bytes`);
};
// migrate on a non-compliant domain: one filterref per NIC, nothing else changed (up to
// whitespace for the hook; the Python baseline re-serialises, so only the count for it).
const expectInjected = (d, n, strict) => (sc, i, r) => {
  expectExit0(sc, i, r);
  const out = r.stdout.toString("utf8");
  const got = countFilterrefs(out);
  if (got !== n) fail(sc, i, r, `expected ${n} filterrefs in the output, found ${got}`);
  const nics = (out.match(/<interface\b/g) ?? []).length;
  if (nics !== n) fail(sc, i, r, `expected ${n} interfaces in the output, found ${nics}`);
  if (strict && squash(out.replace(FILTERREF_RE, "")) !== squash(d.xml.toString("utf8"))) {
    fail(sc, i, r, "the output differs from the input by more than the added filterrefs");
  }
};

function scenarios() {
  const list = [];
  for (const n of SIZES) {
    const d = dom(n, true);
    list.push({ id: `prepare${n}`, label: `hook: \`prepare begin\`, ${n} NIC${n > 1 ? "s" : ""}, compliant`, calls: [hookCall(HOOK_EXE, d, "prepare", "begin")], check: [expectQuiet] });
  }
  for (const n of SIZES) {
    const d = dom(n, false);
    list.push({ id: `migrate${n}`, label: `hook: \`migrate begin\`, ${n} NIC${n > 1 ? "s" : ""} (${kb(d.xml.length)})`, calls: [hookCall(HOOK_EXE, d, "migrate", "begin")], check: [expectInjected(d, n, true)] });
  }
  const d4 = dom(4, true);
  list.push({ id: "lifecycle", label: "hook: whole lifecycle, 4 NICs (5 calls)", calls: LIFECYCLE.map(([op, sub]) => hookCall(HOOK_EXE, d4, op, sub)), check: LIFECYCLE.map(() => expectQuiet) });

  list.push({ id: "py-prepare4", label: "Python ET: `prepare begin`, 4 NICs, compliant", calls: [hookCall(PY_EXE, d4, "prepare", "begin")], check: [expectQuiet] });
  for (const n of [64, 4096]) {
    const d = dom(n, false);
    list.push({ id: `py-migrate${n}`, label: `Python ET: \`migrate begin\`, ${n} NICs`, calls: [hookCall(PY_EXE, d, "migrate", "begin")], check: [expectInjected(d, n, false)] });
  }
  list.push({ id: "py-lifecycle", label: "Python ET: whole lifecycle, 4 NICs (5 calls)", calls: LIFECYCLE.map(([op, sub]) => hookCall(PY_EXE, d4, op, sub)), check: LIFECYCLE.map(() => expectQuiet) });
  return list;
}

function kb(bytes) {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(2)} MB` : `${Math.round(bytes / 1024)} KB`;
}

// One timed run of a call, from the timer's line, with its outputs in full: they come with
// the line the first time the call runs and when they differ from then, and are otherwise
// those of the first run (same sha256).
function outcome(raw, first, where) {
  const bytes = (stream) => {
    const o = raw[stream];
    if (o.b64 === undefined) {
      if (!first || first.sha[stream] !== o.sha256) die(`${TIMER} left out a ${stream} that is new`);
      return first[stream];
    }
    const buf = Buffer.from(o.b64, "base64");
    if (buf.length !== o.len || createHash("sha256").update(buf).digest("hex") !== o.sha256) {
      die(`${TIMER} returned a ${stream} that does not match its sha256`);
    }
    return buf;
  };
  return {
    where, ms: raw.ns / 1e6, kib: raw.maxrss, floor: !!raw.floor, status: raw.status, signal: raw.signal,
    stdout: bytes("stdout"), stderr: bytes("stderr"), sha: { stdout: raw.stdout.sha256, stderr: raw.stderr.sha256 },
  };
}

// Checks one run of call i of a scenario: the contract, and the same outcome as its first run.
const firsts = new Map(); // callKey -> outcome of the call's first run
const callKey = (call) => JSON.stringify([call.argv, call.stdin]);
function check(sc, i, r) {
  sc.check?.[i](sc, i, r);
  if (!sc.check && r.status !== 0) fail(sc, i, r, "expected exit status 0");
  const first = firsts.get(callKey(sc.calls[i]));
  if (!first) {
    firsts.set(callKey(sc.calls[i]), r);
    return;
  }
  if (r.status !== first.status || r.signal !== first.signal) {
    fail(sc, i, r, `the first run of this call (${first.where}) exited ${first.status ?? first.signal} instead`);
  }
  for (const stream of ["stdout", "stderr"]) {
    if (r.sha[stream] !== first.sha[stream]) {
      fail(sc, i, r, `its ${stream} (${r[stream].length} bytes) differs from that of its first run (${first.where}, ${first[stream].length} bytes)`);
    }
  }
}

// Checks beyond the measured calls: the environment overrides are honoured (a non-compliant
// domain is refused at prepare under OnMissing = enforce), for the hook and the baseline.
function preflight() {
  for (const [who, exe] of [["hook", HOOK_EXE], ["Python ET", PY_EXE]]) {
    const d = dom(4, false);
    const r = run(hookCall(exe, d, "prepare", "begin").argv, d.xml);
    if (r.status === 0 || r.status === null) {
      throw new Error(`${who}: \`prepare begin\` on a domain whose NICs lack the filter was not refused (exit ${r.status}): are the NWFILTER_HOOK_* overrides honoured?`);
    }
    if (!r.stderr.length) throw new Error(`${who}: \`prepare begin\` refused a non-compliant domain without a message on stderr`);
  }
}

// ---------------------------------------------------------------------------------------------
// Statistics

function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}
const median = (xs) => quantile(xs, 0.5);

function shuffle(xs) {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

// ---------------------------------------------------------------------------------------------
// The run

const SCENARIOS = scenarios();
const samples = new Map([nodeZero, ...SCENARIOS].map((s) => [s.id, { ms: [], kib: [] }]));
const loadBefore = os.loadavg();
const started = Date.now();

let spawnerKib = 0;
try {
  process.stderr.write(`bench: hook ${HOOK}; ${ROUNDS} rounds; temp ${TMP}\n`);
  preflight();
  // The plan: a warm-up pass (file caches), checked but not counted, then the rounds, each
  // scenario right after a `node -e 0`, in a new order each round.
  const passes = [{ label: "warm-up", counted: false, order: SCENARIOS }];
  for (let round = 0; round < ROUNDS; round++) passes.push({ label: `round ${round + 1}/${ROUNDS}`, counted: true, order: shuffle(SCENARIOS) });
  for (const p of passes) p.entries = p.order.flatMap((sc) => [nodeZero, sc]);
  const plan = {
    cwd: "/",
    env: ENV,
    rounds: passes.map((p) => ({ label: p.label, entries: p.entries.map((sc) => ({ calls: sc.calls })) })),
  };
  const lines = runTimer(plan);
  const end = lines.pop();
  spawnerKib = end.spawner_rss_kib;
  for (const line of lines) {
    const pass = passes[line.round];
    const sc = pass.entries[line.entry];
    let ms = 0;
    let kib = 0;
    let floor = false;
    line.calls.forEach((raw, i) => {
      const r = outcome(raw, firsts.get(callKey(sc.calls[i])), pass.label);
      check(sc, i, r);
      ms += r.ms;
      if (i === 0 || r.kib > kib) [kib, floor] = [r.kib, r.floor];
    });
    if (pass.counted && line.calls.length === sc.calls.length) {
      const bucket = samples.get(sc.id);
      bucket.ms.push(ms);
      bucket.kib.push(kib);
      bucket.floor ||= floor;
    }
  }
  if (end.error) {
    const { round, entry, call, message } = end.error;
    throw new Error(`${passes[round].entries[entry].label}, call ${call + 1} (${passes[round].label}): ${message}`);
  }
  if (lines.length !== passes.reduce((n, p) => n + p.entries.length, 0)) die(`${TIMER} returned fewer results than planned`);
} catch (e) {
  process.stderr.write(`\nbench: FAILED, a call did not behave as the hook contract says or as in its first run:\n  ${e.message}\n`);
  process.exit(3);
}

const loadAfter = os.loadavg();
const elapsed = (Date.now() - started) / 1000;

const stat = (id) => {
  const s = samples.get(id);
  return { ms: median(s.ms), p25: quantile(s.ms, 0.25), p75: quantile(s.ms, 0.75), kib: median(s.kib), floor: !!s.floor };
};
const base = stat("node0");
const rows = [nodeZero, ...SCENARIOS].map((sc) => {
  const s = stat(sc.id);
  return { sc, ...s, ratio: s.ms / base.ms, rssRatio: s.kib / base.kib };
});
const row = (id) => rows.find((r) => r.sc.id === id);

const t0 = base.ms;
const linear = (row("migrate4096").ms - t0) / (row("migrate1024").ms - t0);
const linearOk = row("migrate1024").ms - t0 > 0 && linear <= 4.5;
const lifeVsPy = row("lifecycle").ms / row("py-lifecycle").ms;
const targets = [
  { id: "prepare4", what: "`prepare begin`, 4 NICs, compliant: time", shown: fmtX(row("prepare4").ratio), target: "<= 1.2", ok: row("prepare4").ratio <= 1.2 },
  { id: "migrate64", what: "`migrate begin`, 64 NICs: time", shown: fmtX(row("migrate64").ratio), target: "<= 1.4", ok: row("migrate64").ratio <= 1.4 },
  { id: "migrate4096", what: "`migrate begin`, 4096 NICs: time", shown: fmtX(row("migrate4096").ratio), target: "<= 5.0", ok: row("migrate4096").ratio <= 5.0 },
  {
    id: "migrate4096",
    what: "`migrate begin`, linear growth: (t4096 - t0) / (t1024 - t0)",
    shown: row("migrate1024").ms - t0 > 0 ? linear.toFixed(2) : "n/a (1024 NICs not slower than `node -e 0`)",
    target: "<= 4.5",
    ok: linearOk,
  },
  { id: "lifecycle", what: "whole lifecycle, 4 NICs (5 calls): time against one `node -e 0`", shown: fmtX(row("lifecycle").ratio), target: "<= 1.35", ok: row("lifecycle").ratio <= 1.35 },
  { id: "prepare4", what: "`prepare begin`, 4 NICs: peak RSS", shown: fmtX(row("prepare4").rssRatio), target: "<= 1.25", ok: row("prepare4").rssRatio <= 1.25 },
  { id: "lifecycle", what: "whole lifecycle, 4 NICs: hook time / Python ElementTree hook time", shown: fmtX(lifeVsPy), target: "< 1 (faster)", ok: lifeVsPy < 1 },
];
// The targets column of the measurements table, per scenario.
const targetOf = {
  prepare4: "time <= 1.2, RSS <= 1.25",
  migrate64: "<= 1.4",
  migrate4096: "<= 5.0, linear",
  lifecycle: "<= 1.35, faster than Python",
};

function fmtX(x) {
  return Number.isFinite(x) ? x.toFixed(2) : "n/a";
}
function fmtMs(x) {
  return x >= 100 ? x.toFixed(0) : x.toFixed(1);
}
function mdTable(head, body) {
  const cells = [head, ...body];
  const widths = head.map((_, i) => Math.max(3, ...cells.map((r) => String(r[i]).length)));
  const line = (r) => `| ${r.map((c, i) => String(c).padEnd(widths[i])).join(" | ")} |`;
  return [line(head), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...body.map(line)].join("\n");
}

const measurements = mdTable(
  ["scenario", "median ms", "p25-p75 ms", "ratio", "max RSS MB", "RSS ratio", "target", "pass"],
  rows.map((r) => {
    const mine = targets.filter((t) => t.id === r.sc.id);
    const pass = mine.length ? (mine.every((t) => t.ok) ? "yes" : "**NO**") : "";
    const atMost = r.floor ? "<= " : "";
    return [r.sc.label, fmtMs(r.ms), `${fmtMs(r.p25)}-${fmtMs(r.p75)}`, fmtX(r.ratio), `${atMost}${(r.kib / 1024).toFixed(1)}`, `${atMost}${fmtX(r.rssRatio)}`, targetOf[r.sc.id] ?? "", pass];
  }),
);
const targetTable = mdTable(["target", "measured", "wanted", "pass"], targets.map((t) => [t.what, t.shown, t.target, t.ok ? "yes" : "**NO**"]));
const allOk = targets.every((t) => t.ok);

// ---------------------------------------------------------------------------------------------
// Report

function safeRead(f) {
  try {
    return readFileSync(f, "utf8");
  } catch {
    return "";
  }
}
function sh(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: "utf8", cwd: ROOT });
  return r.status === 0 ? `${r.stdout}${r.stderr}`.trim() : "unknown";
}
const cpuinfo = safeRead("/proc/cpuinfo");
const cpuModel = (cpuinfo.match(/^model name\s*:\s*(.*)$/m) ?? [])[1] ?? os.cpus()[0]?.model ?? "unknown";
const hookBytes = readFileSync(HOOK);
const machine = [
  ["date", new Date().toISOString()],
  ["hook", `${HOOK === path.join(ROOT, "dist", "qemu") ? "dist/qemu" : `${HOOK} (NOT dist/qemu)`} (${kb(hookBytes.length)}, sha256 ${createHash("sha256").update(hookBytes).digest("hex").slice(0, 16)}), built from ${sh("git", ["rev-parse", "--short", "HEAD"])}${sh("git", ["status", "--porcelain", "--untracked-files=no"]) ? " with local changes" : ""}`],
  ["node", `${process.version} (${process.execPath})`],
  ["python", `${sh(PYTHON, ["--version"])} (${PYTHON})`],
  ["CPU", cpuModel],
  ["cores", `${os.availableParallelism?.() ?? os.cpus().length}`],
  ["memory", `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`],
  ["kernel", `${os.type()} ${os.release()} ${os.arch()}`],
  ["load average (1 min) before / after", `${loadBefore[0].toFixed(2)} / ${loadAfter[0].toFixed(2)}`],
  ["rounds", `${ROUNDS}, time and peak memory from the same runs, after one warm-up pass (${elapsed.toFixed(0)} s in all)`],
  ["time measured with", `time.perf_counter_ns() in bench/timer.py (${PYTHON}), from just before os.posix_spawn() to after os.wait4() with the output read`],
  ["peak memory measured with", `ru_maxrss of the same os.wait4(); floor: the timer's own resident size at a spawn, at most ${(spawnerKib / 1024).toFixed(1)} MB here (\`<=\`: a figure within 1 MB of it)`],
  ["domain XML", `${SIZES.map((n) => `${n} NIC${n > 1 ? "s" : ""}: ${kb(dom(n, false).xml.length)}`).join(", ")} (non-compliant; compliant ${kb(dom(4096, true).xml.length)} at 4096)${opt["nic-address"] ? "; NICs with PCI addresses" : ""}`],
];

const report = `# Benchmark results

Written by \`npm run bench\` (bench/run.mjs); see the header of that file for what is measured and how.
Every call is spawned with posix_spawn and reaped with wait4 by bench/timer.py. Times are medians
of wall time from spawn to exit with the output read, ratios are to the median of \`node -e 0\` run
interleaved in the same run (the lifecycle's five processes too, to one \`node -e 0\`). Peak memory
is the ru_maxrss wait4 returns for the same runs: the largest of the child and the children it
waited for.

${machine.map(([k, v]) => `- ${k}: ${v}`).join("\n")}

## Measurements

${measurements}

## Targets

${targetTable}

${allOk ? "All targets met." : "**Some targets missed.**"}
`;

process.stdout.write(`\n${measurements}\n\n${targetTable}\n\n${allOk ? "All targets met." : "Some targets missed."}\n`);
writeFileSync(opt.out, report);
process.stderr.write(`bench: wrote ${opt.out}\n`);
if (!allOk && !opt["no-fail"]) process.exit(1);
