// `inject [--device] [--diff] [FILE|-]`: the transformation on a domain XML, or on one
// <interface> for hot-plug, printed (or shown as a unified diff): each NIC gets the filterref the
// policy chooses for it (with --domain, as in that domain: its name and metadata count). Without
// --domain, libvirt is not called.
import { MAX_XML_BYTES } from "../../core/constants.js";
import { XmlError } from "../../core/errors.js";
import { describeNic } from "../../core/decide.js";
import { problemText, wantedText, whereToGive } from "../../core/filter-messages.js";
import { nodeHostFacts } from "../../host/node-host-facts.js";
import { settingsFromEnv } from "../../core/settings.js";
import { nodeUtf8, readFileLimited } from "../../host/stdio.js";
import { decodeXml, type XmlBytes } from "../../core/xml-bytes.js";
import { transform } from "../../core/transform.js";
import type { Context } from "../context.js";
import { EXIT, UsageError } from "../errors.js";
import { reasonText, unifiedDiff } from "../format.js";
import { policyLocation, readPolicy } from "../policy.js";

export interface InjectOptions {
  file: string | undefined;
  device: boolean;
  /** With device: the domain the NIC is for, whose exemptions then apply to it. */
  domain: string | undefined;
  uri: string;
  diff: boolean;
  policy: string | undefined;
  hooksDir: string;
}

/** The input as bytes, decoded exactly (or refused, naming the encoding), as the hook reads it. */
function readInput(ctx: Context, file: string | undefined): { doc: XmlBytes; name: string } {
  // yargs hands a lone "-" over as "".
  if (file === undefined || file === "-" || file === "") {
    if (ctx.stdinIsTTY) throw new UsageError("no input: give a FILE, or pipe the XML into stdin ('-')");
    return { doc: decodeXml(ctx.readStdin(), "stdin", nodeUtf8), name: "stdin" };
  }
  // Bounded as it is read, like stdin: FILE may be a pipe (<(virsh dumpxml ...)) as well.
  const bytes = readFileLimited(file, MAX_XML_BYTES, "read the XML");
  return { doc: decodeXml(bytes, file, nodeUtf8), name: file };
}

export async function inject(ctx: Context, options: InjectOptions): Promise<number> {
  const note = (line: string) => ctx.stderr(`nwfilter-hook: ${line}\n`);
  const policy = readPolicy(ctx, policyLocation(ctx, options.policy, options.hooksDir));
  const input = readInput(ctx, options.file);
  if (options.domain !== undefined && !options.device) throw new UsageError("--domain goes with --device");
  const owner =
    options.domain === undefined ? undefined : { xml: await ctx.virsh(options.uri).dumpxml(options.domain, "config"), file: `domain '${options.domain}'` };
  const host = nodeHostFacts(settingsFromEnv(ctx.env));
  let result;
  try {
    // A diff compares texts: it gets the edited text, the XML itself the input's own bytes, edited.
    result = transform(options.diff ? input.doc.text : input.doc, policy, host, { file: input.name, root: options.device ? "interface" : "domain", owner });
  } catch (error) {
    // Point at the option that fixes a root mismatch.
    if (error instanceof XmlError && /found <interface>/.test(error.message))
      throw new XmlError("this is an <interface>, not a <domain>: add --device", { file: input.name });
    if (error instanceof XmlError && options.device && /^expected an <interface>/.test(error.message)) {
      throw new XmlError(`--device expects one <interface> element, ${error.message.replace(/^expected an <interface>, /, "")}`, { file: input.name });
    }
    throw error;
  }

  const out = result.xml;
  ctx.stdout(typeof out === "string" ? unifiedDiff(input.name, input.doc.text, out) : out);

  const warnings = new Set<string>();
  for (const nic of result.nics) {
    const w = nic.wanted;
    if (nic.action === "injected" && w) note(`added filterref ${wantedText(w)} to ${describeNic(nic)}`);
    else if (nic.action === "replaced" && w) note(`replaced filter '${nic.filter}' with '${w.filter}' on ${describeNic(nic)}`);
    else if (nic.action === "rewritten" && w) note(`rewrote filterref '${nic.filter}' as ${wantedText(w)} on ${describeNic(nic)}`);
    else if (nic.status === "exempt" || nic.status === "ineligible") note(`left alone: ${describeNic(nic)}: ${nic.status} (${reasonText(nic)})`);
    else if (nic.status === "other-filter") note(`left alone: ${describeNic(nic)}: references another filter (OnExisting=keep)`);
    if (nic.ignored !== undefined) note(`${describeNic(nic)}: ignored ${nic.ignored}`);
    // What libvirt would refuse in what it is given, once per filter.
    const p = nic.problem;
    if (!p || !(nic.status === "compliant" || nic.action !== undefined)) continue;
    if (p.kind === "undefined" && p.missing === p.filter) {
      warnings.add(`warning: nwfilter '${p.filter}' is not defined on this host: libvirt will refuse the XML until it is (nwfilter-hook define-filter)`);
    } else {
      const hint = p.kind === "variables" && w ? `; ${whereToGive(w, p.missing, policy.domainMetadata)}` : "";
      warnings.add(`warning: ${describeNic(nic)}: ${problemText(p)}${hint}`);
    }
  }
  if (!result.changed) note(`no change${result.nics.length === 0 ? " (no interfaces)" : ""}`);
  for (const warning of warnings) note(warning);
  return EXIT.OK;
}
