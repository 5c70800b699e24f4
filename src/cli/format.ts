// Text for people: tables, NIC statuses, unified diffs, a progress bar on a terminal.
import { FILE_HEADERS_ONLY, createTwoFilesPatch } from "diff";
import { parametersText, type FilterParameter } from "../core/filter-params.js";
import type { NicReport } from "../core/transform.js";
import { reasonText } from "../host/reconcile.js";

export { reasonText };

/** `missing`, `ineligible (macvtap (forward mode bridge))`, ... */
export function statusText(nic: NicReport): string {
  const why = reasonText(nic);
  return why === undefined ? nic.status : `${nic.status} (${why})`;
}

/** A filterref in a table cell: `clean-traffic(IP=192.0.2.10, IP=192.0.2.11)`, or the filter alone. */
export function filterText(filter: string, parameters: readonly FilterParameter[]): string {
  return parameters.length === 0 ? filter : `${filter}(${parametersText(parameters)})`;
}

/** A unified diff (--- / +++ / @@), three lines of context; "" when the texts are equal. */
export function unifiedDiff(name: string, before: string, after: string): string {
  if (before === after) return "";
  return createTwoFilesPatch(name, name, before, after, undefined, undefined, { context: 3, headerOptions: FILE_HEADERS_ONLY });
}

/** Left-aligned columns, two spaces apart; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  return all
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .map((l) => `${l}\n`)
    .join("");
}

/** A one-line progress bar on a terminal's stderr; lines written through log() keep it below them. */
export class Progress {
  private shown = false;
  private current = 0;
  private label = "";
  constructor(
    private readonly write: ((text: string) => void) | undefined,
    private readonly total: number,
    private readonly width = 30,
  ) {}

  step(label: string): void {
    this.current++;
    this.label = label;
    this.draw();
  }

  /** Writes a line (to wherever `out` writes) with the bar out of the way. */
  log(out: (text: string) => void, line: string): void {
    this.clear();
    out(line);
    this.draw();
  }

  done(): void {
    this.clear();
  }

  private draw(): void {
    if (!this.write) return;
    const filled = Math.round((this.current / Math.max(this.total, 1)) * this.width);
    const bar = `${"#".repeat(filled)}${"-".repeat(this.width - filled)}`;
    this.write(`\r[${bar}] ${this.current}/${this.total} ${this.label.slice(0, 40)}\u001b[K`);
    this.shown = true;
  }

  private clear(): void {
    if (this.write && this.shown) this.write("\r\u001b[K");
    this.shown = false;
  }
}
