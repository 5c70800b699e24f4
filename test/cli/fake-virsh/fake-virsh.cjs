// A fake virsh for the CLI tests: the few commands the CLI runs, answered from a state
// directory ($FAKE_VIRSH_DIR) with libvirt 9.0's messages.
//   domains/NAME.xml   persistent definition        live/NAME.xml   running domain (live XML)
//   nwfilters/NAME.xml defined filters              version         daemon version (9.0.0)
//   down               daemon not running           denied          permission denied
//   fail-define        `define` fails               calls.log       one line per call
//   (--version answers from `version` even when `down` is there)
//   uri                the last -c URI
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const dir = process.env.FAKE_VIRSH_DIR;
if (!dir) {
  process.stderr.write("error: FAKE_VIRSH_DIR is not set\n");
  process.exit(1);
}
let args = process.argv.slice(2);
if (args[0] === "-c") {
  fs.writeFileSync(path.join(dir, "uri"), `${args[1]}\n`);
  args = args.slice(2);
}
fs.appendFileSync(path.join(dir, "calls.log"), `${args.join(" ")}\n`);

const file = (...p) => path.join(dir, ...p);
const read = (p) => (fs.existsSync(p) ? fs.readFileSync(p, "utf8") : undefined);
const list = (sub) =>
  fs.existsSync(file(sub))
    ? fs
        .readdirSync(file(sub))
        .filter((f) => f.endsWith(".xml"))
        .map((f) => f.slice(0, -4))
        .sort()
    : [];
const fail = (...lines) => {
  process.stderr.write(lines.map((l) => `error: ${l}\n`).join(""));
  process.exit(1);
};
const out = (text) => process.stdout.write(text);

// The client's version needs no daemon.
if (args[0] === "--version") {
  out(`${(read(file("version")) ?? "9.0.0").trim()}\n`);
  process.exit(0);
}
if (fs.existsSync(file("down"))) {
  fail("failed to connect to the hypervisor", "Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory");
}
if (fs.existsSync(file("denied"))) {
  fail("failed to connect to the hypervisor", "authentication unavailable: no polkit agent available to authenticate action 'org.libvirt.unix.manage'");
}

const positional = args.filter((a) => !a.startsWith("--"));
const flags = new Set(args.filter((a) => a.startsWith("--")));
const [cmd] = positional;
const domainOrFail = (name) => {
  if (read(file("domains", `${name}.xml`)) === undefined && read(file("live", `${name}.xml`)) === undefined) {
    fail(`failed to get domain '${name}'`);
  }
};
const nameOf = (xml) => /<name>([^<]*)<\/name>/.exec(xml)?.[1];

switch (cmd) {
  case "version":
    out(
      `Compiled against library: libvirt 9.0.0\nUsing library: libvirt 9.0.0\nUsing API: QEMU 9.0.0\nRunning hypervisor: QEMU 7.2.0\n` +
        `Running against daemon: ${(read(file("version")) ?? "9.0.0").trim()}\n\n`,
    );
    break;
  case "list": {
    const persistent = list("domains");
    const live = list("live");
    let names = flags.has("--all") ? [...new Set([...persistent, ...live])].sort() : live;
    if (flags.has("--transient")) names = names.filter((n) => !persistent.includes(n));
    out(names.map((n) => `${n}\n`).join("") + "\n");
    break;
  }
  case "domstate": {
    domainOrFail(positional[1]);
    out(`${read(file("live", `${positional[1]}.xml`)) === undefined ? "shut off" : "running"}\n\n`);
    break;
  }
  case "dumpxml": {
    const name = positional[1];
    domainOrFail(name);
    const live = read(file("live", `${name}.xml`));
    const config = read(file("domains", `${name}.xml`));
    out(flags.has("--inactive") ? (config ?? live) : (live ?? config));
    break;
  }
  case "define": {
    if (fs.existsSync(file("fail-define"))) fail("XML error: fake define failure");
    const xml = fs.readFileSync(positional[1], "utf8");
    const name = nameOf(xml);
    fs.mkdirSync(file("domains"), { recursive: true });
    fs.writeFileSync(file("domains", `${name}.xml`), xml);
    out(`Domain '${name}' defined from ${positional[1]}\n\n`);
    break;
  }
  case "update-device": {
    const name = positional[1];
    domainOrFail(name);
    const live = read(file("live", `${name}.xml`));
    if (live === undefined) fail("Requested operation is not valid: domain is not running");
    const device = fs.readFileSync(positional[2], "utf8");
    const mac = /<mac address='([^']*)'/.exec(device)?.[1];
    let found = false;
    const updated = live.replace(/<interface[\s\S]*?<\/interface>/g, (nic) => {
      if (mac && nic.includes(`'${mac}'`)) {
        found = true;
        return device.trim();
      }
      return nic;
    });
    if (!found) fail(`operation failed: no device matching MAC address ${mac} found`);
    fs.writeFileSync(file("live", `${name}.xml`), updated);
    out("Device updated successfully\n\n");
    break;
  }
  case "nwfilter-dumpxml": {
    const xml = read(file("nwfilters", `${positional[1]}.xml`));
    if (xml === undefined) fail(`failed to get nwfilter '${positional[1]}'`, `Network filter not found: no nwfilter with matching name '${positional[1]}'`);
    out(xml);
    break;
  }
  case "nwfilter-define": {
    let xml = fs
      .readFileSync(positional[1], "utf8")
      .replace(/^<\?xml[^>]*>\s*/, "")
      .replace(/<!--[\s\S]*?-->\s*/g, "");
    const name = /<filter[^>]*\bname=['"]([^'"]*)['"]/.exec(xml)?.[1];
    const old = read(file("nwfilters", `${name}.xml`));
    const oldUuid = old && /<uuid>([^<]*)<\/uuid>/.exec(old)?.[1];
    const newUuid = /<uuid>([^<]*)<\/uuid>/.exec(xml)?.[1];
    if (oldUuid && newUuid && oldUuid !== newUuid) fail(`operation failed: filter '${name}' already exists with uuid ${oldUuid}`);
    if (!newUuid) xml = xml.replace(/(<filter[^>]*>)/, `$1\n  <uuid>${oldUuid ?? "5a1b2c3d-0000-4000-8000-000000000001"}</uuid>`);
    fs.mkdirSync(file("nwfilters"), { recursive: true });
    fs.writeFileSync(file("nwfilters", `${name}.xml`), xml.replace(/"/g, "'"));
    out(`Network filter ${name} defined from ${positional[1]}\n\n`);
    break;
  }
  case "nwfilter-undefine": {
    if (read(file("nwfilters", `${positional[1]}.xml`)) === undefined) fail(`failed to get nwfilter '${positional[1]}'`);
    fs.rmSync(file("nwfilters", `${positional[1]}.xml`));
    out(`Network filter ${positional[1]} undefined\n\n`);
    break;
  }
  case "nwfilter-binding-list":
    out(" Port Dev   Filter\n--------------------\n\n");
    break;
  default:
    fail(`unknown command: '${cmd}'`);
}
