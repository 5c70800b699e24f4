// Checks the core's central promise on a pair of texts: the output is the input with filterrefs
// inserted (and, under OnExisting=replace, filter names swapped), byte for byte everywhere else.
// The texts are cut into XML-ish tokens (tags, comments, CDATA, whitespace runs, text) and
// compared with jsdiff; every hunk of the diff must then be one of the edits the core makes.
import { diffArrays } from "diff";

export interface Hunk {
  /** Offset in the input where the hunk starts. */
  at: number;
  removed: string;
  added: string;
}

export interface EditReport {
  /** Offsets (in the input) of each inserted filterref. */
  insertedAt: number[];
  /** Offsets (in the input) of each filterref whose filter name was swapped. */
  replacedAt: number[];
  /** Hunks that are none of the allowed edits, described. */
  problems: string[];
  hunks: Hunk[];
}

const TOKEN = /<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>|<\?[\s\S]*?\?>|<(?:[^>"']|"[^"]*"|'[^']*')*>|\s+|[^<\s]+|</g;

export function tokenize(text: string): string[] {
  return text.match(TOKEN) ?? [];
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export function hunks(input: string, output: string): Hunk[] {
  const changes = diffArrays(tokenize(input), tokenize(output));
  const result: Hunk[] = [];
  let offset = 0;
  let current: Hunk | undefined;
  for (const change of changes) {
    const text = change.value.join("");
    if (!change.added && !change.removed) {
      if (current) result.push(current);
      current = undefined;
      offset += text.length;
      continue;
    }
    current ??= { at: offset, removed: "", added: "" };
    if (change.removed) {
      current.removed += text;
      offset += text.length;
    } else current.added += text;
  }
  if (current) result.push(current);
  return result;
}

/**
 * Classifies every difference between input and output. `filter` is the policy's filter; with
 * `allowReplace`, a filterref whose filter value alone changed to it counts as a replacement.
 */
export function classifyEdits(input: string, output: string, filter: string, options: { allowReplace?: boolean } = {}): EditReport {
  const ref = `<filterref filter='${filter}'/>`;
  const lineInsert = new RegExp(`^(?:\\r?\\n[ \\t]*)?${escapeRe(ref)}$|^${escapeRe(ref)}\\r?\\n[ \\t]*$`);
  const report: EditReport = { insertedAt: [], replacedAt: [], problems: [], hunks: hunks(input, output) };
  for (const h of report.hunks) {
    if (h.removed === "" && lineInsert.test(h.added)) {
      report.insertedAt.push(h.at);
      continue;
    }
    // <interface .../> becomes <interface ...><filterref .../></interface>.
    const selfClosing = /^<([A-Za-z_][\w.-]*)\b[\s\S]*\/>$/.exec(h.removed);
    if (selfClosing && h.added === `${h.removed.slice(0, -2)}>${ref}</${selfClosing[1]}>`) {
      report.insertedAt.push(h.at);
      continue;
    }
    if (options.allowReplace && /^<filterref\b/.test(h.removed)) {
      const m = /^([\s\S]*?\sfilter\s*=\s*)(["'])([^"']*)\2([\s\S]*)$/.exec(h.removed);
      if (m && h.added === `${m[1]}${m[2]}${filter}${m[2]}${m[4]}` && m[3] !== filter) {
        report.replacedAt.push(h.at);
        continue;
      }
    }
    report.problems.push(`at offset ${h.at}: ${JSON.stringify(h.removed)} -> ${JSON.stringify(h.added)}`);
  }
  // jsdiff's change list must describe the two texts exactly; checked here, not assumed.
  let rebuilt = "";
  let pos = 0;
  for (const h of report.hunks) {
    rebuilt += input.slice(pos, h.at) + h.added;
    pos = h.at + h.removed.length;
  }
  rebuilt += input.slice(pos);
  if (rebuilt !== output) report.problems.push("the hunks do not rebuild the output (tokenizer lost text?)");
  return report;
}
