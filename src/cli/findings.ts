// What `check`, `install` and `uninstall` find and do, as data: each emits findings while it
// works and returns them with what changed; the edge renders them, as text (the lines these
// commands have always printed, each as soon as it is known) or as one JSON document at the end
// (`--json`, in the style of `audit --json`). The exit code is a pure function of the result.
import type { Context } from "./context.js";

export type FindingStatus = "ok" | "warning" | "failed" | "info";

export interface Finding {
  /** The kind of thing, stable for scripts: policy, hook, daemon, nwfilter, watcher, ... */
  code: string;
  /** What it is about, as the text line begins ("hook /etc/libvirt/hooks/qemu.d/50-nwfilter-hook"); "" for a bare warning. */
  subject: string;
  status: FindingStatus;
  /** What was found or done. */
  message: string;
  /** Whether it changed the host (install, uninstall). */
  changed?: boolean;
  /** A block printed as it is in text (the effective policy); not part of the JSON findings. */
  listing?: string;
}

export type Emit = (finding: Finding) => void;

/** The line a finding prints as; undefined for a listing alone. */
export function findingLine(f: Finding): string | undefined {
  if (f.listing !== undefined && f.message === "") return undefined;
  if (f.status === "failed") return `${f.subject}: FAILED: ${f.message}`;
  if (f.subject === "") return `${f.status === "warning" ? "warning" : "note"}: ${f.message}`;
  return `${f.subject}: ${f.message}`;
}

export function findingText(f: Finding): string {
  const line = findingLine(f);
  return `${line === undefined ? "" : `${line}\n`}${f.listing ?? ""}`;
}

export function countFindings(findings: readonly Finding[]): Record<FindingStatus, number> {
  const counts: Record<FindingStatus, number> = { ok: 0, warning: 0, failed: 0, info: 0 };
  for (const f of findings) counts[f.status]++;
  return counts;
}

/** A finding as JSON: the fields above, null where absent, the listing left out. */
export function findingJson(f: Finding): { code: string; subject: string; status: FindingStatus; message: string; changed: boolean | null } {
  return { code: f.code, subject: f.subject, status: f.status, message: f.message, changed: f.changed ?? null };
}

/**
 * Where a command's findings go: printed as they come (text), or kept for the JSON document.
 * `say` prints a line of text that is no finding (the summary line); JSON leaves it out.
 */
export interface Report {
  emit: Emit;
  findings: Finding[];
  say(line: string): void;
  /** The JSON document, printed once at the end (nothing in text mode). */
  finish(doc: Record<string, unknown>): void;
}

export function report(ctx: Pick<Context, "stdout">, json: boolean): Report {
  const findings: Finding[] = [];
  return {
    findings,
    emit(f) {
      findings.push(f);
      if (!json) ctx.stdout(findingText(f));
    },
    say(line) {
      if (!json) ctx.stdout(`${line}\n`);
    },
    finish(doc) {
      if (json) ctx.stdout(`${JSON.stringify(doc, null, 2)}\n`);
    },
  };
}

/** A line that a host module words as "SUBJECT: MESSAGE", as a finding. */
export function lineFinding(code: string, line: string, status: FindingStatus, changed?: boolean): Finding {
  const colon = line.indexOf(": ");
  const [subject, message] = colon < 0 ? ["", line] : [line.slice(0, colon), line.slice(colon + 2)];
  return { code, subject, status, message, ...(changed === undefined ? {} : { changed }) };
}

/** The findings a command has emitted so far, each passed on to `emit` as it comes. */
export function collect(emit: Emit): { findings: Finding[]; add: Emit } {
  const findings: Finding[] = [];
  return {
    findings,
    add(f) {
      findings.push(f);
      emit(f);
    },
  };
}

export interface Rendering<R extends { findings: Finding[] }> {
  summary(result: R): string;
  exit(result: R): number;
  /** The JSON document's other fields. */
  json(result: R): Record<string, unknown>;
}

/**
 * Runs a command that emits findings and renders them at the edge: the lines and the summary
 * line in text, one document in JSON (the findings that are no listing, their counts, `ok`, and
 * the command's own fields). Returns the exit code.
 */
export async function rendered<R extends { findings: Finding[] }>(
  ctx: Pick<Context, "stdout">,
  json: boolean,
  run: (emit: Emit) => Promise<R>,
  how: Rendering<R>,
): Promise<number> {
  const out = report(ctx, json);
  const result = await run(out.emit);
  const code = how.exit(result);
  out.say(how.summary(result));
  const shown = result.findings.filter((f) => f.listing === undefined);
  out.finish({ ...how.json(result), findings: shown.map(findingJson), summary: countFindings(shown), ok: code === 0 });
  return code;
}
