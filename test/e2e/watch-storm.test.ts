// A storm, as a booting host or a script makes one: 30 diskless domains with a bridge NIC on
// nwfh-br0 that lacks the filter, each defined and started at once, in parallel, under
// OnMissing = watch with the watcher running (the system libvirtd, the real hook installed).
// Every start goes through, every NIC ends up with an nwfilter binding for the filter, and the
// watcher's status, sampled throughout, never goes stale (nor says anything but 'watching'): the
// hook would otherwise refuse the starts that come after.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WATCH_STALE_MS } from "../../src/core/constants.js";
import { collect } from "./helpers/child-output.js";
import { E2eHost, FILTER } from "./helpers/cli.js";
import { bridgeNic, requireLibvirt, tinyDomainXml } from "./helpers/libvirt.js";
import { STATUS_FILE, WatcherProcess, saveStatus, stopAll, waitFor } from "./helpers/watcher.js";

const HAVE_LIBVIRT = requireLibvirt();
const COUNT = 30;
const BINDINGS = "/run/libvirt/nwfilter-binding";

/** Which domains have a binding of the filter for their NIC (libvirt's own files, one per tap). */
function boundDomains(): Set<string> {
  const bound = new Set<string>();
  if (!existsSync(BINDINGS)) return bound;
  for (const f of readdirSync(BINDINGS)) {
    let xml: string;
    try {
      xml = readFileSync(join(BINDINGS, f), "utf8");
    } catch {
      continue; // removed meanwhile
    }
    const owner = /<owner>\s*<name>([^<]*)<\/name>/.exec(xml)?.[1];
    if (owner !== undefined && xml.includes(`<filterref filter='${FILTER}'`)) bound.add(owner);
  }
  return bound;
}

async function shell(script: string): Promise<{ code: number | null; stderr: string; endedAt: number }> {
  const child = spawn("sh", ["-c", script], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, LC_ALL: "C" } });
  const { code, stderr } = await collect(child);
  return { code, stderr, endedAt: Date.now() };
}

describe.skipIf(!HAVE_LIBVIRT)(`a storm: ${COUNT} domains defined and started at once under OnMissing = watch`, () => {
  let host: E2eHost;
  let watcher: WatcherProcess;

  beforeAll(async () => {
    host = new E2eHost("storm");
    host.onTearDown(saveStatus());
    host.writePolicy("[filtering]\nOnMissing = watch\n");
    const r = host.install();
    if (r.code !== 0) throw new Error(`install failed:\n${r.stdout}${r.stderr}`);
    watcher = new WatcherProcess(host.dir, host.policy);
    await watcher.waitForLog(/resync: \d+ domains?: /, 60_000);
  });
  afterAll(async () => {
    await stopAll();
    host?.tearDown();
  });

  it("every start goes through, every NIC gets its binding, the status never goes stale", async () => {
    const names = Array.from({ length: COUNT }, (_, i) => host.domainName(`s${i}`));
    const files = names.map((name, i) => {
      const file = join(host.dir, `${name}.xml`);
      writeFileSync(file, tinyDomainXml({ name, nics: [bridgeNic({ mac: `52:54:00:7e:00:${i.toString(16).padStart(2, "0")}` })] }));
      return file;
    });
    // The status as the hook reads it, sampled every 100 ms from the first define to the last binding.
    const samples: Array<{ at: number; age: number; state: string }> = [];
    const sampler = setInterval(() => {
      try {
        const s = JSON.parse(readFileSync(STATUS_FILE, "utf8")) as { heartbeat: number; state: string };
        samples.push({ at: Date.now(), age: Date.now() - s.heartbeat, state: s.state });
      } catch {
        // between the rename and the read: the next sample
      }
    }, 100);
    try {
      const t0 = Date.now();
      const runs = await Promise.all(
        names.map((name, i) => shell(`virsh -c qemu:///system define '${files[i]}' >/dev/null && virsh -c qemu:///system start '${name}'`)),
      );
      const failed = runs.map((r, i) => ({ name: names[i], ...r })).filter((r) => r.code !== 0);
      expect(failed, failed.map((f) => `${f.name}: ${f.stderr}`).join("\n")).toEqual([]);
      const startedAt = new Map(names.map((n, i) => [n, (runs[i] as { endedAt: number }).endedAt]));
      const boundAt = new Map<string, number>();
      await waitFor(
        () => {
          const now = Date.now();
          for (const n of boundDomains()) if (startedAt.has(n) && !boundAt.has(n)) boundAt.set(n, now);
          return boundAt.size === COUNT;
        },
        240_000,
        () => `${COUNT - boundAt.size} domain(s) still without a binding of ${FILTER}: ${names.filter((n) => !boundAt.has(n)).join(", ")}`,
      );
      const allBound = Date.now() - t0;
      const longest = Math.max(...names.map((n) => (boundAt.get(n) as number) - (startedAt.get(n) as number)));
      const oldest = Math.max(...samples.map((s) => s.age));
      console.log(
        `storm of ${COUNT}: all bound ${allBound} ms after the first define; longest unprotected ${longest} ms; oldest status ${oldest} ms (${samples.length} samples)`,
      );
      expect(samples.length).toBeGreaterThan(10);
      expect(oldest, watcher.log()).toBeLessThan(WATCH_STALE_MS);
      expect(
        samples.filter((s) => s.state !== "watching"),
        watcher.log(),
      ).toEqual([]);
    } finally {
      clearInterval(sampler);
    }
  }, 300_000);
});
