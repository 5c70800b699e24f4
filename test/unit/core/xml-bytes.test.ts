// XML as bytes (src/core/xml-bytes.ts): exact decoding or a refusal naming the encoding, and
// edits applied to the input's own bytes.
import { describe, expect, it } from "vitest";
import { XmlError } from "../../../src/core/errors.js";
import { decodeXml, invalidUtf8At, spliceBytes, standardUtf8 } from "../../../src/core/xml-bytes.js";
import { nodeUtf8 } from "../../../src/host/stdio.js";

const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "utf8") : Buffer.from(p))));

function refusal(input: Uint8Array): XmlError {
  try {
    decodeXml(input, "f.xml");
  } catch (error) {
    if (error instanceof XmlError) return error;
    throw error;
  }
  throw new Error("accepted");
}

describe("decodeXml", () => {
  it.each([
    ["no declaration", bytes("<a>é</a>"), "UTF-8", "<a>é</a>"],
    ["UTF-8 declared in any case", bytes("<?xml version='1.0' encoding='utf8'?><a>é</a>"), "UTF-8", "<?xml version='1.0' encoding='utf8'?><a>é</a>"],
    ["a UTF-8 byte order mark, kept as U+FEFF", bytes([0xef, 0xbb, 0xbf], "<a/>"), "UTF-8", "\ufeff<a/>"],
    [
      "ISO-8859-1, byte for character",
      bytes('<?xml version="1.0" encoding="ISO-8859-1"?><a>', [0xe9, 0x80], "</a>"),
      "ISO-8859-1",
      '<?xml version="1.0" encoding="ISO-8859-1"?><a>\u00e9\u0080</a>',
    ],
    ["US-ASCII", bytes("<?xml version='1.0' encoding='US-ASCII'?><a/>"), "US-ASCII", "<?xml version='1.0' encoding='US-ASCII'?><a/>"],
  ])("reads %s", (_what, input, encoding, text) => {
    for (const utf8 of [standardUtf8, nodeUtf8]) {
      const d = decodeXml(input, "f.xml", utf8);
      expect(d.encoding).toBe(encoding);
      expect(d.text).toBe(text);
      expect(d.bytes).toBe(input);
    }
  });

  it.each([
    ["an unknown encoding", bytes("<?xml version='1.0' encoding='bogus'?><a/>"), /^encoding 'bogus' \(in the XML declaration\) is not supported/],
    ["an encoding libxml2 reads through iconv", bytes("<?xml version='1.0' encoding='windows-1252'?><a/>"), /^encoding 'windows-1252'/],
    ["UTF-16 declared on single bytes", bytes("<?xml version='1.0' encoding='UTF-16'?><a/>"), /^encoding 'UTF-16'/],
    [
      "UTF-16 with a byte order mark",
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("<a/>", "utf16le")]),
      /^the document is in UTF-16LE \(byte order mark\)/,
    ],
    ["UTF-16BE without one", Buffer.from("\u3c00\u3f00", "utf16le"), /^the document is in UTF-16BE/],
    ["UTF-32 with a byte order mark", bytes([0xff, 0xfe, 0x00, 0x00, 0x3c, 0, 0, 0]), /^the document is in UTF-32LE/],
    [
      "a byte order mark that contradicts the declaration",
      bytes([0xef, 0xbb, 0xbf], "<?xml version='1.0' encoding='latin1'?><a/>"),
      /but the document starts with UTF-8's byte order mark/,
    ],
    ["a high byte in US-ASCII", bytes("<?xml version='1.0' encoding='ascii'?>\n<a>", [0xe9], "</a>"), /^byte 0xE9 is not US-ASCII/],
  ])("refuses %s, naming the encoding", (_what, input, message) => {
    const e = refusal(input);
    expect(e.message).toMatch(message);
    expect(e.where?.line).toBeTypeOf("number");
  });

  it.each([
    ["0xFF", [0xff]],
    ["a lone continuation byte", [0x80]],
    ["a truncated sequence", [0xe4, 0xb8]],
    ["an overlong form", [0xe0, 0x80, 0xaf]],
    ["a surrogate", [0xed, 0xb0, 0x80]],
    ["a code point above U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
    ["0xF5", [0xf5, 0x80, 0x80, 0x80]],
  ])("refuses %s as not UTF-8, with line and byte column", (_what, bad) => {
    const input = bytes("<a>\n  é", bad, "</a>");
    const e = refusal(input);
    expect(e.message).toMatch(
      /^not valid UTF-8: bytes 0x[0-9A-F]{2}.* at byte offset 8 \(a document in another encoding must name it in its XML declaration\)$/,
    );
    expect(e.where).toEqual({ file: "f.xml", line: 2, column: 5 });
    expect(invalidUtf8At(input)).toBe(8);
    expect(standardUtf8(input)).toBeUndefined();
    expect(nodeUtf8(input)).toBeUndefined();
  });

  it("finds no invalid byte in valid UTF-8", () => {
    expect(invalidUtf8At(bytes("a é 中 😀 \u{10FFFF} \uFFFD"))).toBe(-1);
  });
});

describe("spliceBytes", () => {
  it("applies edits given in text offsets at the right bytes, copying the rest", () => {
    const input = bytes("<a>é中😀<b/>é</a>");
    const d = decodeXml(input, "f.xml");
    const at = d.text.indexOf("<b/>");
    const out = spliceBytes(d, [
      { at, remove: 0, insert: "<c/>" },
      { at: d.text.indexOf("</a>"), remove: 0, insert: "!" },
    ]);
    expect(Buffer.from(out).toString("utf8")).toBe("<a>é中😀<c/><b/>é!</a>");
  });

  it("replaces inside an ISO-8859-1 document without re-encoding it", () => {
    const input = bytes("<?xml version='1.0' encoding='ISO-8859-1'?><a f='", [0xe9], "x'>", [0xff], "</a>");
    const d = decodeXml(input, "f.xml");
    const at = d.text.indexOf("x'");
    const out = Buffer.from(spliceBytes(d, [{ at, remove: 1, insert: "yz" }]));
    expect(out.equals(bytes("<?xml version='1.0' encoding='ISO-8859-1'?><a f='", [0xe9], "yz'>", [0xff], "</a>"))).toBe(true);
  });

  it("returns the input's own bytes when nothing changes", () => {
    const d = decodeXml(bytes("<a>é</a>"), "f.xml");
    expect(spliceBytes(d, [])).toBe(d.bytes);
  });
});
