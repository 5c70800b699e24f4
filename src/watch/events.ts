// Reading `LC_ALL=C virsh event --all --loop --timestamp`: one line per event,
//   2026-12-02 03:00:27.085+0000: event 'lifecycle' for domain 'web 1': Started Booted
//   2026-12-02 03:00:27.276+0000: event 'device-added' for domain 'web 1': net1
// Domain names are quoted but not escaped (a name may hold quotes and ": "), a few event kinds
// carry more lines (indented key/value lines), and new kinds appear with new libvirt versions.
// Events are hints: all the watcher needs is which domain to look at.

export interface DomainEvent {
  /** 'lifecycle', 'device-added', 'reboot', ...: whatever virsh names it. */
  kind: string;
  domain: string;
  /** The rest of the line after the domain ("Started Booted", "net1"), or "". */
  detail: string;
}

const HEAD = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d{4}|Z)?: event '([^']*)' for domain '/;

/**
 * One line of virsh's output: an event, or undefined for a continuation line of a multi-line
 * event, a blank line or anything else virsh prints.
 */
export function parseEventLine(line: string): DomainEvent | undefined {
  const head = HEAD.exec(line);
  if (!head) return undefined;
  const rest = line.slice(head[0].length);
  // The name ends at the last "': " (its detail never holds one), or at a final "'".
  const sep = rest.lastIndexOf("': ");
  if (sep !== -1) return { kind: head[1] as string, domain: rest.slice(0, sep), detail: rest.slice(sep + 3).trim() };
  // Multi-line events end their first line at the name ("...for domain 'web 1':").
  if (rest.endsWith("':")) return { kind: head[1] as string, domain: rest.slice(0, -2), detail: "" };
  if (rest.endsWith("'")) return { kind: head[1] as string, domain: rest.slice(0, -1), detail: "" };
  return undefined;
}

export type Hint = "definition" | "running" | "gone" | "none";

/** What an event says about where to look. */
export function hintOf(event: DomainEvent): Hint {
  if (event.kind === "device-added") return "running";
  if (event.kind !== "lifecycle") return "none";
  const what = event.detail.split(" ")[0];
  switch (what) {
    case "Defined":
      return "definition";
    case "Started":
    case "Resumed":
      return "running";
    case "Undefined":
      return "gone";
    default:
      return "none";
  }
}

/** Splits a stream into lines; the last, unfinished one waits for the next chunk. */
export class LineSplitter {
  private rest = "";
  push(chunk: string): string[] {
    const text = this.rest + chunk;
    const lines = text.split("\n");
    this.rest = lines.pop() ?? "";
    return lines.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  }
}
