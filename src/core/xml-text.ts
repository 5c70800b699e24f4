// XML at the level of characters, shared by the scanner and the queries: the characters XML
// allows, the name productions, whitespace, references, end-of-line handling and attribute-value
// normalisation, and libxml2's limit on names.

/** Reports a fatal error at an offset of the text; never returns. */
export type Fail = (message: string, offset: number) => never;

/** libxml2's limit on a name without XML_PARSE_HUGE (parserInternals.h: XML_MAX_NAME_LENGTH). */
export const MAX_NAME_LENGTH = 50_000;

// XML 1.0 (fifth edition) names, productions [4] and [4a]; U+10000-U+EFFFF as surrogate pairs,
// which keeps the expressions out of the slower Unicode mode.
export const NAME_START =
  ":A-Z_a-z\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D\\u037F-\\u1FFF\\u200C\\u200D" +
  "\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFFD";
const NAME_CHAR = `${NAME_START}\\-.0-9\\u00B7\\u0300-\\u036F\\u203F\\u2040`;
const ASTRAL = "[\\uD800-\\uDB7F][\\uDC00-\\uDFFF]";
export const NAME = `(?:[${NAME_START}]|${ASTRAL})(?:[${NAME_CHAR}]|${ASTRAL})*`;
/** XML's whitespace as an expression. */
export const S = "[ \\t\\r\\n]";

/**
 * An expression built on first use. Building one parses it, and most documents never need the
 * large ones: ASCII names, nearly all of them, are read without one, and libvirt writes neither
 * an XML declaration nor a DOCTYPE.
 */
export function lazy(source: () => string): () => RegExp {
  let re: RegExp | undefined;
  return () => (re ??= new RegExp(source(), "y"));
}

const NAME_RE = lazy(() => NAME);
const NAME_START_RE = lazy(() => `[${NAME_START}]|${ASTRAL}`);

/** XML's whitespace (production [3]): space, tab, line feed, carriage return. */
export function isXmlSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}

/** Where the XML name that starts at `at` ends, or -1 when none starts there. */
export function nameEnd(text: string, at: number): number {
  let p = at;
  let c = text.charCodeAt(p);
  // ASCII names, nearly all of them, without the expression.
  if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c === 0x3a) {
    do c = text.charCodeAt(++p);
    while ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x3a || c === 0x2d || c === 0x2e);
    if (!(c >= 0x80)) return p;
  } else if (!(c >= 0x80)) return -1;
  const re = NAME_RE();
  re.lastIndex = at;
  return re.test(text) ? re.lastIndex : -1;
}

/** Whether a name may start at `at` in `s` (production [4], ':' included). */
export function startsName(s: string, at: number): boolean {
  const c = s.charCodeAt(at);
  if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c === 0x3a) return true;
  if (!(c >= 0x80)) return false;
  const re = NAME_START_RE();
  re.lastIndex = at;
  return re.test(s);
}

/** Whether a name without ':' (an NCName, as a prefix or local part) may start at `at`. */
export function startsNcName(s: string, at: number): boolean {
  return s.charCodeAt(at) !== 0x3a && startsName(s, at);
}

// Characters XML 1.0 forbids anywhere (production [2]); surrogates are looked at more closely.
// eslint-disable-next-line no-control-regex -- finding these control characters is its job
const SUSPECT_CHAR_RE = /[\x00-\x08\x0B\x0C\x0E-\x1F\uD800-\uDFFF\uFFFE\uFFFF]/g;

/** Where the first character XML does not allow stands (a surrogate that does not pair up too), or -1. */
export function badCharacter(text: string): number {
  SUSPECT_CHAR_RE.lastIndex = 0;
  for (let m = SUSPECT_CHAR_RE.exec(text); m; m = SUSPECT_CHAR_RE.exec(text)) {
    const i = m.index;
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        SUSPECT_CHAR_RE.lastIndex = i + 2;
        continue;
      }
    }
    return i;
  }
  return -1;
}

const REF_RE = /&(?:(lt|gt|amp|quot|apos)|#([0-9]+)|#x([0-9a-fA-F]+));/y;

/**
 * The reference whose '&' is at `at`: one of the five predefined entities or a character
 * reference to a character XML allows, the only ones there are without a DTD. Returns the offset
 * just past its ';'.
 */
export function referenceEnd(text: string, at: number, fail: Fail): number {
  REF_RE.lastIndex = at;
  const m = REF_RE.exec(text);
  if (!m) {
    const semi = text.indexOf(";", at);
    const shown = semi !== -1 && semi - at <= 32 ? text.slice(at, semi + 1) : "&";
    fail(
      /^&[^\s&<;'"]+;$/.test(shown) && !shown.startsWith("&#")
        ? `undefined entity ${shown}: only &lt; &gt; &amp; &quot; &apos; and character references are allowed`
        : `malformed reference '${shown}' (write &amp; for '&')`,
      at,
    );
  }
  const num = m[2] ?? m[3];
  if (num !== undefined) {
    const code = Number.parseInt(num, m[2] !== undefined ? 10 : 16);
    const ok =
      code === 0x9 ||
      code === 0xa ||
      code === 0xd ||
      (code >= 0x20 && code <= 0xd7ff) ||
      (code >= 0xe000 && code <= 0xfffd) ||
      (code >= 0x10000 && code <= 0x10ffff);
    if (!ok) fail(`character reference ${m[0]} names a character XML does not allow`, at);
  }
  return REF_RE.lastIndex;
}

const PREDEFINED: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };
const REFS_RE = /&(?:(lt|gt|amp|quot|apos)|#([0-9]+)|#x([0-9a-fA-F]+));/g;

/** Decodes the predefined entities and character references of text the scanner accepted. */
export function decodeRefs(raw: string): string {
  if (!raw.includes("&")) return raw;
  return raw.replace(REFS_RE, (_whole, named: string | undefined, dec: string | undefined, hex: string | undefined) =>
    named !== undefined ? (PREDEFINED[named] as string) : String.fromCodePoint(Number.parseInt((dec ?? hex) as string, dec !== undefined ? 10 : 16)),
  );
}

/**
 * An attribute's value as an XML parser reports it, from its raw text: XML's end-of-line handling
 * and attribute-value normalisation (sections 2.11 and 3.3.3: each CR LF, CR, LF or tab written
 * in the value reads as one space), then references decoded (so &#10; stays a line feed).
 */
export function attrValue(raw: string): string {
  const normalised = raw.includes("\n") || raw.includes("\r") || raw.includes("\t") ? raw.replace(/\r\n?|[\n\t]/g, " ") : raw;
  return decodeRefs(normalised);
}

/** XML's end-of-line handling (section 2.11): CR LF and a lone CR read as LF. */
export function eol(s: string): string {
  return s.includes("\r") ? s.replace(/\r\n?/g, "\n") : s;
}
