// The policy file's lines: where each section and key stands (`ini` gives no line numbers), the
// lines of the choice sections (read apart from `ini`, see policy-sections.ts), and a text
// without those lines for `ini`.
import { PolicyError } from "./errors.js";
import { choiceHeader, type RawChoice } from "./policy-sections.js";

export interface Located {
  line: number;
  name: string;
}

export interface PolicyLines {
  /** [filtering], [exempt] and unknown sections, by lower-case name. */
  sections: Map<string, Located>;
  /** Their keys, by `section\0key` in lower case. */
  keys: Map<string, Located>;
  /** [network:NAME], [bridge:NAME], [domain:GLOB], in file order. */
  choices: RawChoice[];
  /** The lines (1-based) of the choice sections' headers and keys. */
  choiceLines: number[];
}

/**
 * Section and key names as `ini` sees them, with the line each stands on. The grammar is ini's
 * decoder's, `^\[([^\]]*)\]\s*$|^([^=]+)(=(.*))?$` on each line, so that what we report is what
 * it read; it is written out with string operations because the hook reads the policy at every
 * VM start, where compiling those expressions cost more than the rest of the parse.
 */
export function locate(text: string, file: string): PolicyLines {
  const sections = new Map<string, Located>();
  const keys = new Map<string, Located>();
  const choices: RawChoice[] = [];
  const choiceLines: number[] = [];
  let section = "";
  let choice: RawChoice | undefined;
  let line = 0;
  for (let start = 0; start <= text.length;) {
    // Lines end at \r\n, \n or \r.
    let end = start;
    while (end < text.length && text[end] !== "\n" && text[end] !== "\r") end++;
    const raw = text.slice(start, end);
    start = end + (text[end] === "\r" && text[end + 1] === "\n" ? 2 : 1);
    line++;
    const trimmed = raw.trim();
    if (trimmed === "" || trimmed[0] === ";" || trimmed[0] === "#") continue;
    const where = { file, line };
    const unreadable = () => new PolicyError(`cannot read line: ${JSON.stringify(trimmed)} (expected "[section]" or "key = value")`, where);
    if (raw[0] === "[") {
      const body = raw.trimEnd();
      if (!body.endsWith("]") || body.indexOf("]") !== body.length - 1) throw unreadable();
      const header = choiceHeader(body.slice(1, -1).trim());
      if (header) {
        choice = { ...header, line, keys: [] };
        choices.push(choice);
        choiceLines.push(line);
        continue;
      }
      choice = undefined;
      section = body.slice(1, -1).trim().toLowerCase();
      if (!sections.has(section)) sections.set(section, { line, name: section });
      continue;
    }
    if (trimmed[0] === "[") throw unreadable();
    const eq = raw.indexOf("=");
    // "." matches no line separator: ini cannot read a value that holds one.
    if (eq === 0 || (eq !== -1 && (raw.includes("\u2028", eq) || raw.includes("\u2029", eq)))) throw unreadable();
    const key = (eq === -1 ? raw : raw.slice(0, eq)).trim();
    // ini reads a bare key as true; here every key needs a value.
    if (eq === -1) throw new PolicyError(`${key}: needs a value (key = value)`, where);
    if (choice) {
      const twice = choice.keys.find((k) => k.key.toLowerCase() === key.toLowerCase());
      if (twice) throw new PolicyError(`key '${key}' is set more than once in [${choice.kind}:${choice.name}] (first on line ${twice.line})`, where);
      choice.keys.push({ key, value: raw.slice(eq + 1), line });
      choiceLines.push(line);
      continue;
    }
    const id = `${section}\0${key.toLowerCase()}`;
    if (keys.has(id)) {
      throw new PolicyError(`key '${key}' is set more than once in [${section}] (first on line ${keys.get(id)?.line})`, where);
    }
    keys.set(id, { line, name: key });
  }
  return { sections, keys, choices, choiceLines };
}

/** The text with the given lines emptied (lines end at \r\n, \n or \r, as in locate()). */
export function withoutLines(text: string, lines: readonly number[]): string {
  if (lines.length === 0) return text;
  const drop = new Set(lines);
  const out: string[] = [];
  let line = 0;
  for (let start = 0; start <= text.length;) {
    let end = start;
    while (end < text.length && text[end] !== "\n" && text[end] !== "\r") end++;
    line++;
    out.push(drop.has(line) ? "" : text.slice(start, end));
    start = end + (text[end] === "\r" && text[end + 1] === "\n" ? 2 : 1);
  }
  return out.join("\n");
}
