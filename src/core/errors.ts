// Expected failures carry where they happened; the entry points format them as one line
// (`nwfilter-hook: FILE:LINE: message`) and never print a stack trace for them.

export interface Where {
  /** A path, or a description such as "domain XML on stdin". */
  file: string;
  line?: number;
  column?: number;
}

export class NwfilterHookError extends Error {
  readonly where: Where | undefined;
  constructor(message: string, where?: Where) {
    super(message);
    this.name = new.target.name;
    this.where = where;
  }
}

/** The policy file is unreadable, unsafe or invalid. */
export class PolicyError extends NwfilterHookError {}

/** An XML document (domain, network, device) is malformed, too large or not what was expected. */
export class XmlError extends NwfilterHookError {}

/** Something on the host (a file, a command) could not be read or run. */
export class HostError extends NwfilterHookError {}

/** `FILE:LINE:COL: message`, the form compilers and libvirt admins read. */
export function formatError(error: NwfilterHookError): string {
  const w = error.where;
  if (!w) return error.message;
  let at = w.file;
  if (w.line !== undefined) at += `:${w.line}`;
  if (w.line !== undefined && w.column !== undefined) at += `:${w.column}`;
  return `${at}: ${error.message}`;
}

let indexed: { text: string; starts: number[] } | undefined;

/** 1-based line number of an offset in a text. Indexes the text once, so that many look-ups stay cheap. */
export function lineOf(text: string, offset: number): number {
  if (indexed?.text !== text) {
    const starts = [0];
    for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
    indexed = { text, starts };
  }
  const { starts } = indexed;
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((starts[mid] as number) <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

/** A message on one line: libvirt shows the hook's stderr to the user as it is. */
export function oneLine(message: string): string {
  return message.replace(/[\r\n\t]+/g, " ").trim();
}
