// The attack suite's LAN: a Linux bridge of its own (forward_delay 0 and STP off, or it forwards
// nothing for 15 s and every count reads 0), and the victim, a veth end in a network namespace
// on that bridge, with IPv6 off on every link so that its chatter stays out. The victim counts
// what reaches it with `nwfh-attack count` (on its side of the bridge: a capture on the guest's
// tap would see frames before ebtables drops them). remove() takes it all away again; create()
// first removes what an interrupted run left.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { parseFrames, type Frame } from "./attack-count.js";
import { VICTIM_IP } from "./attack-guest.js";

export const ATTACK_BRIDGE = "nwfh-atk0";
const NETNS = "nwfh-atk-victim";
const HOST_END = "nwfh-atkv0";
/** The victim's interface, inside NETNS. */
const VICTIM_END = "nwfh-atkv1";

const ip = (...args: string[]) => execFileSync("ip", args, { stdio: "pipe", encoding: "utf8" });
const noIpv6 = (dev: string, netns?: string) => {
  const path = `net/ipv6/conf/${dev}/disable_ipv6`;
  if (netns === undefined) writeFileSync(`/proc/sys/${path}`, "1");
  else ip("netns", "exec", netns, "sh", "-c", `echo 1 > /proc/sys/${path}`);
};
const netnsExists = () =>
  ip("netns", "list")
    .split("\n")
    .some((l) => l.split(" ")[0] === NETNS);

/** A running counter of what reaches the victim, for one guest run. */
export class Counter {
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;

  constructor(
    tool: string,
    readonly run: number,
    readonly file: string,
  ) {
    const fd = openSync(file, "w");
    // `ip netns exec` execs the counter: the child's pid is the counter's own.
    this.child = spawn("ip", ["netns", "exec", NETNS, tool, "count", VICTIM_END, "--run", String(run)], { stdio: ["ignore", fd, fd] });
    closeSync(fd);
    this.exited = new Promise((resolve) => this.child.once("exit", () => resolve()));
  }

  text(): string {
    return existsSync(this.file) ? readFileSync(this.file, "utf8") : "";
  }

  /** The frames so far (the last line may be half written: it waits for the next read). */
  frames(): Frame[] {
    const text = this.text();
    return parseFrames(text.slice(0, text.lastIndexOf("\n") + 1));
  }

  async ready(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.text().startsWith("ready\n")) {
      if (this.child.exitCode !== null || Date.now() > deadline) throw new Error(`the victim's counter did not start: ${this.text()}`);
      await delay(20);
    }
  }

  /** Waits until `check` holds for the frames so far; returns them. `context` adds to a timeout's message (the guest's console). */
  async until(check: (frames: Frame[]) => boolean, timeoutMs: number, what: string, context: () => string = () => ""): Promise<Frame[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frames = this.frames();
      if (check(frames)) return frames;
      if (Date.now() > deadline) {
        const last = frames.at(-1);
        const lastSeen = last ? `, the last ${last.phase} ${last.kind} ${last.format} tick ${last.seq} at ${new Date(last.t).toISOString()}` : "";
        throw new Error(`the victim saw no ${what} within ${timeoutMs} ms (${frames.length} frames of run ${this.run} so far${lastSeen})${context()}`);
      }
      await delay(50);
    }
  }

  /** Stops the counter (SIGTERM to its pid) and returns every frame it saw. */
  async stop(): Promise<Frame[]> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGTERM");
      await Promise.race([this.exited, delay(5_000)]);
      if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    }
    return this.frames();
  }
}

export class Victim {
  private readonly counters: Counter[] = [];

  private constructor(
    readonly tool: string,
    readonly dir: string,
  ) {}

  /** Makes the bridge, the namespace and the veth pair; `dir` holds the counters' output. */
  static create(tool: string, dir: string): Victim {
    Victim.removeLan();
    const victim = new Victim(tool, dir);
    try {
      ip("link", "add", ATTACK_BRIDGE, "type", "bridge", "forward_delay", "0", "stp_state", "0");
      noIpv6(ATTACK_BRIDGE);
      ip("link", "set", ATTACK_BRIDGE, "up");
      ip("netns", "add", NETNS);
      noIpv6("all", NETNS);
      noIpv6("default", NETNS);
      ip("link", "add", HOST_END, "type", "veth", "peer", "name", VICTIM_END, "netns", NETNS);
      noIpv6(HOST_END);
      ip("link", "set", HOST_END, "master", ATTACK_BRIDGE, "up");
      ip("-n", NETNS, "addr", "add", `${VICTIM_IP}/24`, "dev", VICTIM_END);
      ip("-n", NETNS, "link", "set", VICTIM_END, "up");
      ip("-n", NETNS, "link", "set", "lo", "up");
    } catch (error) {
      Victim.removeLan();
      throw error;
    }
    return victim;
  }

  /** Starts counting the frames of guest run `run`; resolves once the counter listens. */
  async count(run: number): Promise<Counter> {
    const counter = new Counter(this.tool, run, join(this.dir, `count-${run}.txt`));
    this.counters.push(counter);
    await counter.ready();
    return counter;
  }

  /** Stops every counter and removes the namespace, the veth pair and the bridge. */
  async remove(): Promise<void> {
    for (const c of this.counters.splice(0)) await c.stop();
    Victim.removeLan();
  }

  /**
   * Removes what create() makes, wherever it is left (an interrupted run). The host's end of the
   * veth goes first, which takes its peer with it; a namespace's devices go after it is deleted,
   * asynchronously, so a device already gone is fine.
   */
  static removeLan(): void {
    for (const dev of [HOST_END, ATTACK_BRIDGE]) {
      try {
        ip("link", "del", dev);
      } catch (error) {
        if (!/Cannot find device/.test(String((error as { stderr?: unknown }).stderr))) throw error;
      }
    }
    if (netnsExists()) ip("netns", "del", NETNS);
  }
}
