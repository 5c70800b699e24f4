// XML as bytes: the hook gets the domain XML as bytes and must give back the same bytes with
// only the filterrefs added. So the text is decoded exactly (every byte accounted for) or not
// at all: UTF-8 (what libvirt writes), US-ASCII and ISO-8859-1 are read; any other encoding,
// a byte order mark other than UTF-8's, or bytes that are not what the encoding says, is refused
// with the encoding named. Edits found in the text are then applied to the bytes themselves.
import { XmlError } from "./errors.js";

export type XmlEncoding = "UTF-8" | "US-ASCII" | "ISO-8859-1";

/** Strict UTF-8 decoding: undefined for bytes that are not UTF-8 (surrogates and > U+10FFFF included). */
export type Utf8Decoder = (bytes: Uint8Array) => string | undefined;

export interface XmlBytes {
  bytes: Uint8Array;
  /** The decoded text, a UTF-8 byte order mark included as U+FEFF. */
  text: string;
  encoding: XmlEncoding;
}

export interface Edit {
  /** Offset into the text. */
  at: number;
  /** Characters removed there. */
  remove: number;
  /** ASCII text inserted there. */
  insert: string;
}

let standardDecoder: { decode(bytes: Uint8Array): string } | undefined;

/** The standard one; the hook passes Node's, which is quicker to start (src/host/stdio.ts). */
export const standardUtf8: Utf8Decoder = (bytes) => {
  try {
    return (standardDecoder ??= new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })).decode(bytes);
  } catch {
    return undefined;
  }
};

/** Encoding labels as libxml2 reads them (case-insensitive), for the encodings read exactly. */
const LABELS: Record<string, XmlEncoding> = {
  "UTF-8": "UTF-8",
  UTF8: "UTF-8",
  "US-ASCII": "US-ASCII",
  ASCII: "US-ASCII",
  "ISO-8859-1": "ISO-8859-1",
  "ISO_8859-1": "ISO-8859-1",
  "ISO-LATIN-1": "ISO-8859-1",
  LATIN1: "ISO-8859-1",
};

const SUPPORTED = "the hook reads UTF-8 (what libvirt writes), US-ASCII and ISO-8859-1, exactly, and refuses the rest rather than change a byte";

/** Byte patterns at the start that name an encoding of their own (XML 1.0 appendix F). */
const SIGNATURES: [number[], string][] = [
  [[0x00, 0x00, 0xfe, 0xff], "UTF-32BE (byte order mark)"],
  [[0xff, 0xfe, 0x00, 0x00], "UTF-32LE (byte order mark)"],
  [[0xfe, 0xff], "UTF-16BE (byte order mark)"],
  [[0xff, 0xfe], "UTF-16LE (byte order mark)"],
  [[0x00, 0x00, 0x00, 0x3c], "UCS-4 or UTF-32BE"],
  [[0x3c, 0x00, 0x00, 0x00], "UCS-4 or UTF-32LE"],
  [[0x00, 0x3c, 0x00, 0x3f], "UTF-16BE"],
  [[0x3c, 0x00, 0x3f, 0x00], "UTF-16LE"],
  [[0x4c, 0x6f, 0xa7, 0x94], "EBCDIC"],
];

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}

/** Decodes the bytes exactly, or throws XmlError naming the encoding and, for a bad byte, where it is. */
export function decodeXml(bytes: Uint8Array, file: string, utf8: Utf8Decoder = standardUtf8): XmlBytes {
  for (const [signature, name] of SIGNATURES) {
    if (startsWith(bytes, signature)) throw new XmlError(`the document is in ${name}: ${SUPPORTED}`, { file, line: 1 });
  }
  const bom = startsWith(bytes, [0xef, 0xbb, 0xbf]);
  const declared = declaredEncoding(bytes, bom ? 3 : 0);
  let encoding: XmlEncoding = "UTF-8";
  if (declared !== undefined) {
    const known = LABELS[declared.toUpperCase()];
    if (known === undefined) throw new XmlError(`encoding '${declared}' (in the XML declaration) is not supported: ${SUPPORTED}`, { file, line: 1 });
    if (bom && known !== "UTF-8")
      throw new XmlError(`the XML declaration says encoding '${declared}', but the document starts with UTF-8's byte order mark`, { file, line: 1 });
    encoding = known;
  }
  if (encoding === "UTF-8") {
    const text = utf8(bytes);
    if (text === undefined) {
      const at = invalidUtf8At(bytes);
      const hint = declared === undefined ? " (a document in another encoding must name it in its XML declaration)" : "";
      throw new XmlError(`not valid UTF-8: ${describeBytes(bytes, at)}${hint}`, { file, ...byteWhere(bytes, at) });
    }
    return { bytes, text, encoding };
  }
  if (encoding === "US-ASCII") {
    const at = bytes.findIndex((b) => b >= 0x80);
    if (at !== -1)
      throw new XmlError(`byte 0x${hex(bytes[at] as number)} is not US-ASCII, the encoding the XML declaration names`, { file, ...byteWhere(bytes, at) });
  }
  return { bytes, text: latin1(bytes), encoding };
}

/** The encoding named by an XML declaration at `from`, read from its ASCII bytes; the scanner checks the declaration's syntax. */
function declaredEncoding(bytes: Uint8Array, from: number): string | undefined {
  if (!startsWith(bytes.subarray(from), [0x3c, 0x3f, 0x78, 0x6d, 0x6c])) return undefined; // "<?xml"
  const end = bytes.indexOf(0x3e /* > */, from);
  const decl = latin1(bytes.subarray(from, end === -1 ? Math.min(bytes.length, from + 1024) : end + 1));
  return /^<\?xml[ \t\r\n][^>]*?[ \t\r\n]encoding[ \t\r\n]*=[ \t\r\n]*(["'])([^"']*)\1/.exec(decl)?.[2];
}

function latin1(bytes: Uint8Array): string {
  const parts: string[] = [];
  for (let i = 0; i < bytes.length; i += 8192) parts.push(String.fromCharCode(...bytes.subarray(i, i + 8192)));
  return parts.join("");
}

/** Offset of the first byte that does not start or continue a well-formed UTF-8 sequence (RFC 3629). */
export function invalidUtf8At(bytes: Uint8Array): number {
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f; // surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f; // above U+10FFFF
    } else return i;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return i;
    }
    i += need + 1;
  }
  return -1;
}

function hex(b: number): string {
  return b.toString(16).toUpperCase().padStart(2, "0");
}

function describeBytes(bytes: Uint8Array, at: number): string {
  if (at === -1) return "the decoder refused it";
  const shown = Array.from(bytes.subarray(at, at + 4), (b) => `0x${hex(b)}`).join(" ");
  return `bytes ${shown} at byte offset ${at}`;
}

/** Line and column (in bytes) of a byte offset. */
function byteWhere(bytes: Uint8Array, at: number): { line: number; column?: number } {
  if (at < 0) return { line: 1 };
  let line = 1;
  let lineStart = 0;
  for (let i = bytes.indexOf(0x0a); i !== -1 && i < at; i = bytes.indexOf(0x0a, i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: at - lineStart + 1 };
}

/** The text with the edits (in document order, not overlapping) applied. */
export function applyEdits(text: string, edits: readonly Edit[]): string {
  if (edits.length === 0) return text;
  // Join the untouched stretches between the edits.
  const parts: string[] = [];
  let pos = 0;
  for (const e of edits) {
    parts.push(text.slice(pos, e.at), e.insert);
    pos = e.at + e.remove;
  }
  parts.push(text.slice(pos));
  return parts.join("");
}

let encoder: { encode(text: string): Uint8Array } | undefined;

/**
 * The bytes with the edits (in text offsets, in document order, not overlapping) applied, every
 * other byte as it came. The text was decoded exactly, so encoding the edited text again gives
 * back each untouched byte: UTF-8 decoding and encoding of valid UTF-8 are inverses, and
 * ISO-8859-1 and US-ASCII map bytes to characters one to one. (Encoding once natively is much
 * quicker than copying thousands of stretches of the input.)
 */
export function spliceBytes(doc: XmlBytes, edits: readonly Edit[]): Uint8Array {
  if (edits.length === 0) return doc.bytes;
  for (const e of edits) if ([...e.insert].some((ch) => ch.charCodeAt(0) > 0x7f)) throw new Error(`internal: non-ASCII insertion '${e.insert}'`);
  const text = applyEdits(doc.text, edits);
  if (doc.encoding === "UTF-8") return (encoder ??= new TextEncoder()).encode(text);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}
