// What reached the victim, counted: the lines of `nwfh-attack count` parsed into frames, the
// counts per kind that the attack suite asserts and README's table shows, and, for the paths
// where the filter arrives while the guest sends, how much leaked before it did. Pure: no I/O.
//
// Times are the victim's kernel receive times (ms since the epoch, the host's clock); sequence
// numbers are the guest's ticks, one every INTERVAL_MS, shared by all frames of a tick.

export const KINDS = ["own", "mac", "arp-mac", "arp-ip"] as const;
/** own: from its own MAC and IP; mac: a forged Ethernet source; arp-mac: a forged ARP sender MAC; arp-ip: ARP claiming the victim's IP. */
export type Kind = (typeof KINDS)[number];
export const SPOOFED: readonly Kind[] = ["mac", "arp-mac", "arp-ip"];
export const PHASES = ["own", "mac", "arp-mac", "arp-ip", "control", "continuous", "done"] as const;
export type Phase = (typeof PHASES)[number];

export interface Frame {
  phase: Phase;
  kind: Kind;
  /** E: the experimental ethertype; A: ARP, the tag in its padding. */
  format: "E" | "A";
  seq: number;
  /** Receive time, ms since the epoch. */
  t: number;
}

/** Parses the counter's output ("ready", then "PHASE KIND FORMAT SEQ SEC.NSEC" lines); throws on a line it does not know. */
export function parseFrames(text: string): Frame[] {
  const frames: Frame[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line === "ready") continue;
    const m = /^(\S+) (\S+) ([EA]) (\d+) (\d+)\.(\d{9})$/.exec(line);
    const phase = PHASES.find((p) => p === m?.[1]);
    const kind = KINDS.find((k) => k === m?.[2]);
    if (!m || phase === undefined || kind === undefined) throw new Error(`the counter printed a line it should not: ${JSON.stringify(line)}`);
    frames.push({ phase, kind, format: m[3] as "E" | "A", seq: Number(m[4]), t: Number(m[5]) * 1000 + Number(m[6]) / 1e6 });
  }
  return frames;
}

/** Frames per column of README's table: own (phase own or continuous), control, and each spoofed kind. */
export interface Counts {
  own: number;
  control: number;
  mac: number;
  "arp-mac": number;
  "arp-ip": number;
}

export function countFrames(frames: readonly Frame[]): Counts {
  const c: Counts = { own: 0, control: 0, mac: 0, "arp-mac": 0, "arp-ip": 0 };
  for (const f of frames) {
    if (f.phase === "done") continue;
    if (f.kind !== "own") c[f.kind]++;
    else if (f.phase === "control") c.control++;
    else c.own++;
  }
  return c;
}

/** How much of an attack got through before a filter arrived, from the frames of a continuous run. */
export interface Leak {
  /** Spoofed frames of the blocked kinds that reached the victim. */
  leaked: number;
  /** The guest's first tick that reached the victim (any frame). */
  firstTick: { seq: number; t: number } | undefined;
  /**
   * The first tick whose own frames arrived while none of its blocked-kind frames did: the
   * first spoofed frames the filter dropped. Undefined when none was dropped.
   */
  firstDropped: { seq: number; t: number } | undefined;
  /** From the first spoofed frame that reached the victim to firstDropped (0 when none reached it). */
  windowMs: number | undefined;
  /** Blocked-kind frames of ticks after firstDropped: a filter that came and went. */
  afterDropped: number;
}

export function leakOf(frames: readonly Frame[], blocked: readonly Kind[]): Leak {
  const ticks = new Map<number, { own: number | undefined; spoofed: number | undefined }>();
  for (const f of frames) {
    if (f.phase !== "continuous") continue;
    const tick = ticks.get(f.seq) ?? { own: undefined, spoofed: undefined };
    if (f.kind === "own") tick.own = Math.min(tick.own ?? f.t, f.t);
    else if (blocked.includes(f.kind)) tick.spoofed = Math.min(tick.spoofed ?? f.t, f.t);
    ticks.set(f.seq, tick);
  }
  const seqs = [...ticks.keys()].sort((a, b) => a - b);
  let firstTick: Leak["firstTick"];
  let firstDropped: Leak["firstDropped"];
  let firstSpoofed: number | undefined;
  let leaked = 0;
  let afterDropped = 0;
  for (const seq of seqs) {
    const tick = ticks.get(seq) as { own: number | undefined; spoofed: number | undefined };
    const t = Math.min(tick.own ?? Infinity, tick.spoofed ?? Infinity);
    firstTick ??= { seq, t };
    if (tick.spoofed !== undefined) firstSpoofed ??= tick.spoofed;
    if (firstDropped === undefined && tick.own !== undefined && tick.spoofed === undefined) firstDropped = { seq, t: tick.own };
  }
  for (const f of frames) {
    if (f.phase !== "continuous" || !blocked.includes(f.kind)) continue;
    leaked++;
    if (firstDropped !== undefined && f.seq > firstDropped.seq) afterDropped++;
  }
  const windowMs = firstDropped === undefined ? undefined : firstSpoofed === undefined ? 0 : Math.max(0, firstDropped.t - firstSpoofed);
  return { leaked, firstTick, firstDropped, windowMs, afterDropped };
}

/** The frames received at or after `t` (ms since the epoch). */
export const receivedFrom = (frames: readonly Frame[], t: number): Frame[] => frames.filter((f) => f.t >= t);
/** The frames received before `t`. */
export const receivedBefore = (frames: readonly Frame[], t: number): Frame[] => frames.filter((f) => f.t < t);
