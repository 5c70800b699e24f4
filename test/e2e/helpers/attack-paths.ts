// The ways an attack guest reaches a running state, each driven against a libvirt daemon (the
// system one, or a private one by its URI) while the victim counts: a plain start that runs the
// five phases; a define-then-start and a live hot-plug, where a watcher must add the filter while
// the guest sends continuously; a save and a restore; and a live migration between two daemons.
// Each returns what reached the victim and when the filter was seen in place. Shared by the
// attack suites and bench/attack.mjs; the policy, the hook and the watcher are the caller's.
import { randomInt } from "node:crypto";
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { receivedFrom, type Frame } from "./attack-count.js";
import { INTERVAL_MS, PHASES_PLAN, attackDomainXml, attackNic, continuousPlan, serialLogPath, type GuestImage } from "./attack-guest.js";
import { ATTACK_BRIDGE, type Victim } from "./attack-victim.js";
import { URI, VirshError, bindingList, domainTaps, virshWith } from "./libvirt.js";

export interface AttackRun {
  frames: Frame[];
  /** When the filter was seen in place on every NIC (ms since the epoch); undefined: never. */
  protectedAt: number | undefined;
  /**
   * When libvirt wrote the last NIC's nwfilter binding (its file's mtime), which it does once the
   * rules are in place: earlier than protectedAt, which waits for a poll of three virsh calls.
   */
  boundAt: number | undefined;
  /** When the start, the hot-plug, the restore or the migration was asked for. */
  actedAt: number;
  /** When the command that did it returned: the guest (or its new NIC) runs from about then. */
  returnedAt: number;
  /** The guest's console, for a failure message. */
  serial: string;
}

/** A libvirt daemon as the paths use it: its URI and where its serial logs are seen from here. */
export interface Daemon {
  uri: string;
  /** Its /run/libvirt/nwfilter-binding, as seen from here. */
  bindingDir: string;
  /** The path of a guest's serial log as seen from this process (a private daemon's lies in its own directory). */
  serialLog(name: string): string;
}

export const systemDaemon: Daemon = { uri: URI, bindingDir: "/run/libvirt/nwfilter-binding", serialLog: serialLogPath };

export interface PathContext {
  image: GuestImage;
  victim: Victim;
  /** A directory for files libvirt reads or writes (a saved state). */
  dir: string;
}

const virsh = (d: Daemon, ...args: string[]) => virshWith({ uri: d.uri }, ...args);
/** `virsh COMMAND... FILE EXTRA...` with `xml` in FILE. */
const virshXml = (d: Daemon, dir: string, command: string[], xml: string, ...extra: string[]) => {
  const file = join(dir, `input-${randomInt(1e9)}.xml`);
  writeFileSync(file, xml);
  try {
    return virsh(d, ...command, file, ...extra);
  } finally {
    rmSync(file, { force: true });
  }
};

export const newRun = () => randomInt(1, 2 ** 31);
/** Own frames at this many ticks: the victim hears the guest. */
const TICKS = (ms: number) => Math.ceil(ms / INTERVAL_MS);

/** Whether every NIC of the running domain has a filterref in its live XML and an nwfilter binding on its tap. */
export function filterInPlace(d: Daemon, name: string): boolean {
  let xml: string;
  try {
    xml = virsh(d, "dumpxml", name);
  } catch (error) {
    if (error instanceof VirshError) return false;
    throw error;
  }
  const nics = xml.match(/<interface[\s\S]*?<\/interface>/g) ?? [];
  if (nics.length === 0 || !nics.every((n) => n.includes("<filterref"))) return false;
  const bindings = bindingList(d.uri);
  const taps = domainTaps(name, d.uri);
  return taps.length === nics.length && taps.every((t) => bindings.some((b) => b.port === t.dev));
}

/** Polls until the filter is in place; returns when it was first seen, and when libvirt wrote the bindings. */
export async function waitForFilter(d: Daemon, name: string, timeoutMs = 20_000): Promise<{ protectedAt: number; boundAt: number | undefined }> {
  const deadline = Date.now() + timeoutMs;
  while (!filterInPlace(d, name)) {
    if (Date.now() > deadline) throw new Error(`${name}: no filter in place within ${timeoutMs} ms:\n${virsh(d, "dumpxml", name)}`);
    await delay(50);
  }
  return { protectedAt: Date.now(), boundAt: boundAt(d, name) };
}

function boundAt(d: Daemon, name: string): number | undefined {
  const times = domainTaps(name, d.uri).map((t) => join(d.bindingDir, `${t.dev}.xml`));
  return times.every((f) => existsSync(f)) ? Math.max(...times.map((f) => statSync(f).mtimeMs)) : undefined;
}

async function waitForState(d: Daemon, name: string, state: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (virsh(d, "domstate", name).trim() !== state) {
    if (Date.now() > deadline) throw new Error(`${name} is not '${state}' after ${timeoutMs} ms (console:\n${tail(d.serialLog(name))})`);
    await delay(200);
  }
}

async function waitForConsole(d: Daemon, name: string, pattern: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(readConsole(d, name))) {
    if (Date.now() > deadline) throw new Error(`${name}: no ${pattern} on its console within ${timeoutMs} ms:\n${tail(d.serialLog(name))}`);
    await delay(100);
  }
}

const readConsole = (d: Daemon, name: string) => (existsSync(d.serialLog(name)) ? readFileSync(d.serialLog(name), "latin1") : "");
const consoleTail = (d: Daemon, name: string) => `; ${name}'s console on ${d.uri}:\n${tail(d.serialLog(name))}`;
const tail = (file: string) => (existsSync(file) ? readFileSync(file, "latin1").split("\n").slice(-25).join("\n") : "(no console log)");

/** The guest boots, runs the five phases and powers itself off; `beforeStart` runs between define and start. */
export async function phasesPath(ctx: PathContext, d: Daemon, o: { name: string; nic: string; beforeStart?: () => void }): Promise<AttackRun> {
  const run = newRun();
  virshXml(d, ctx.dir, ["define"], attackDomainXml({ name: o.name, image: ctx.image, nics: [o.nic], run, plan: PHASES_PLAN }));
  o.beforeStart?.();
  const counter = await ctx.victim.count(run);
  const actedAt = Date.now();
  virsh(d, "start", o.name);
  const returnedAt = Date.now();
  const protectedAt = filterInPlace(d, o.name) ? Date.now() : undefined;
  const bound = protectedAt === undefined ? undefined : boundAt(d, o.name);
  await waitForState(d, o.name, "shut off", 180_000);
  return { frames: await counter.stop(), protectedAt, boundAt: bound, actedAt, returnedAt, serial: readConsole(d, o.name) };
}

/** Define and start at once, a NIC without the filter: a watcher must add it live. The guest sends continuously for `sendMs`. */
export async function defineThenStartPath(ctx: PathContext, d: Daemon, o: { name: string; mac: string; sendMs: number }): Promise<AttackRun> {
  const run = newRun();
  const nic = attackNic({ mac: o.mac, bridge: ATTACK_BRIDGE });
  const counter = await ctx.victim.count(run);
  virshXml(d, ctx.dir, ["define"], attackDomainXml({ name: o.name, image: ctx.image, nics: [nic], run, plan: continuousPlan(o.sendMs) }));
  const actedAt = Date.now();
  virsh(d, "start", o.name);
  const returnedAt = Date.now();
  const { protectedAt, boundAt: bound } = await waitForFilter(d, o.name);
  await waitForState(d, o.name, "shut off", 180_000);
  return { frames: await counter.stop(), protectedAt, boundAt: bound, actedAt, returnedAt, serial: readConsole(d, o.name) };
}

/** A guest without NICs waits for one; a NIC without the filter is hot-plugged live, and it sends on it continuously for `sendMs`. */
export async function hotPlugPath(ctx: PathContext, d: Daemon, o: { name: string; mac: string; sendMs: number }): Promise<AttackRun> {
  const run = newRun();
  virshXml(d, ctx.dir, ["define"], attackDomainXml({ name: o.name, image: ctx.image, nics: [], run, plan: continuousPlan(o.sendMs) }));
  const counter = await ctx.victim.count(run);
  virsh(d, "start", o.name);
  await waitForConsole(d, o.name, /nwfh-guest: waiting for a NIC/, 120_000);
  const actedAt = Date.now();
  virshXml(d, ctx.dir, ["attach-device", o.name], attackNic({ mac: o.mac, bridge: ATTACK_BRIDGE }), "--live");
  const returnedAt = Date.now();
  const { protectedAt, boundAt: bound } = await waitForFilter(d, o.name);
  await waitForState(d, o.name, "shut off", 180_000);
  return { frames: await counter.stop(), protectedAt, boundAt: bound, actedAt, returnedAt, serial: readConsole(d, o.name) };
}

/**
 * The guest runs unprotected and sends continuously; once the victim hears its spoofed frames
 * it is saved, `protect()` runs (the host gets a hook that adds the filter), and it is restored.
 * Ends once the victim has heard `afterMs` of its own frames after the restore.
 */
export async function restorePath(ctx: PathContext, d: Daemon, o: { name: string; mac: string; protect: () => void; afterMs: number }): Promise<AttackRun> {
  const run = newRun();
  const nic = attackNic({ mac: o.mac, bridge: ATTACK_BRIDGE });
  virshXml(d, ctx.dir, ["define"], attackDomainXml({ name: o.name, image: ctx.image, nics: [nic], run, plan: continuousPlan(600_000) }));
  const counter = await ctx.victim.count(run);
  virsh(d, "start", o.name);
  await counter.until(
    (f) => f.filter((x) => x.kind === "mac").length >= 20,
    120_000,
    "spoofed frames before the save",
    () => consoleTail(d, o.name),
  );
  const state = join(ctx.dir, `${o.name}.save`);
  virsh(d, "save", o.name, state);
  o.protect();
  const actedAt = Date.now();
  try {
    virsh(d, "restore", state);
  } finally {
    rmSync(state, { force: true });
  }
  const returnedAt = Date.now();
  const { protectedAt, boundAt: bound } = await waitForFilter(d, o.name);
  await counter.until(
    (f) => ownAfter(f, protectedAt) >= TICKS(o.afterMs),
    o.afterMs + 30_000,
    "own frames after the restore",
    () => consoleTail(d, o.name),
  );
  virsh(d, "destroy", o.name);
  return { frames: await counter.stop(), protectedAt, boundAt: bound, actedAt, returnedAt, serial: readConsole(d, o.name) };
}

/**
 * The guest runs on `from` (no hook there) and sends continuously; once the victim hears its
 * spoofed frames it migrates live to `to`, whose hook adds the filter. Ends once the victim has
 * heard `afterMs` of its own frames after the migration.
 */
export async function migrationPath(
  ctx: PathContext,
  o: { name: string; mac: string; from: Daemon; to: Daemon; migrate: () => Promise<unknown>; afterMs: number },
): Promise<AttackRun> {
  const run = newRun();
  const nic = attackNic({ mac: o.mac, bridge: ATTACK_BRIDGE });
  virshXml(o.from, ctx.dir, ["define"], attackDomainXml({ name: o.name, image: ctx.image, nics: [nic], run, plan: continuousPlan(600_000) }));
  const counter = await ctx.victim.count(run);
  virsh(o.from, "start", o.name);
  await counter.until(
    (f) => f.filter((x) => x.kind === "mac").length >= 20,
    120_000,
    "spoofed frames before the migration",
    () => consoleTail(o.from, o.name),
  );
  const actedAt = Date.now();
  await o.migrate();
  const returnedAt = Date.now();
  const { protectedAt, boundAt: bound } = await waitForFilter(o.to, o.name);
  await counter.until(
    (f) => ownAfter(f, protectedAt) >= TICKS(o.afterMs),
    o.afterMs + 30_000,
    "own frames after the migration",
    () => consoleTail(o.to, o.name),
  );
  virsh(o.to, "destroy", o.name);
  return { frames: await counter.stop(), protectedAt, boundAt: bound, actedAt, returnedAt, serial: readConsole(o.to, o.name) };
}

const ownAfter = (frames: Frame[], t: number) => receivedFrom(frames, t).filter((f) => f.kind === "own" && f.format === "A").length;
