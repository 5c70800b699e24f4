// Builds dist/nwfilter-hook_VERSION_all.deb from the built dist/ and packaging/deb/ with dpkg-deb
// alone (run `npm run package`, which builds first). Layout, as Debian installs Node programs:
//   /usr/lib/nwfilter-hook/            package.json, dist/{nwfilter-hook,qemu,startup-recorder.js},
//                                      nwfilter -> the filter
//   /usr/bin/nwfilter-hook             -> ../lib/nwfilter-hook/dist/nwfilter-hook (#!/usr/bin/node)
//   /usr/share/nwfilter-hook/          vdsm-no-mac-spoofing.xml
//   /etc/nwfilter-hook/policy.ini      conffile: the defaults, commented out
//   /etc/nwfilter-hook/filters/        the admin's custom filters (empty)
//   /etc/libvirt/hooks/qemu.d/         where postinst's `nwfilter-hook install` puts the hook
//   /lib/systemd/system/nwfilter-hook-watch.service
//   /usr/share/doc/nwfilter-hook/, /usr/share/man/man8/nwfilter-hook.8.gz, lintian overrides
// The CLI finds dist/qemu beside itself and nwfilter/ in its package root, as in the source tree.
//
// `--version V` builds another version (a local rebuild, e.g. to test an upgrade): the package,
// package.json and the changelog, which gets an entry for it, say V.
import { spawnSync } from "node:child_process";
import { build } from "esbuild";
import {
  chmodSync,
  existsSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";

const NAME = "nwfilter-hook";
const NODE = "/usr/bin/node";
const SRC = "packaging/deb";
const LICENSES = new Set(["MIT", "ISC", "BSD-3-Clause"]); // the texts packaging/deb/copyright holds

const { values } = parseArgs({ options: { version: { type: "string" }, out: { type: "string", default: "dist" } } });
const pkg = JSON.parse(readFileSync("package.json", "utf8"));
const version = values.version ?? pkg.version;
if (!/^[0-9][A-Za-z0-9.+~]*$/.test(version)) fail(`not a native Debian version: ${version}`);

for (const f of ["dist/qemu", "dist/nwfilter-hook", "dist/startup-recorder.js"]) if (!existsSync(f)) fail(`${f} is missing: run npm run build first`);
const root = mkdtempSync(join(tmpdir(), "nwfilter-hook-deb-"));
try {
  const lib = `usr/lib/${NAME}`;
  const doc = `usr/share/doc/${NAME}`;

  // The program, as its npm package would be: package.json, dist/ and nwfilter/.
  put(`${lib}/package.json`, `${JSON.stringify({ name: NAME, version, description: pkg.description, license: pkg.license, private: true }, null, 2)}\n`);
  put(`${lib}/dist/package.json`, readFileSync("dist/package.json"));
  put(`${lib}/dist/qemu`, readFileSync("dist/qemu"), 0o755);
  // Run by the hook's Node when install records its startup cache (src/hook/startup-recorder.ts).
  put(`${lib}/dist/startup-recorder.js`, readFileSync("dist/startup-recorder.js"));
  // The installed hook names the Node that runs the CLI: the nodejs package's, whatever Node built this.
  const cli = readFileSync("dist/nwfilter-hook", "utf8");
  if (!cli.startsWith("#!/usr/bin/env node\n")) fail("dist/nwfilter-hook does not start with #!/usr/bin/env node");
  put(`${lib}/dist/${NAME}`, `#!${NODE}\n${cli.slice(cli.indexOf("\n") + 1)}`, 0o755);
  put(`usr/share/${NAME}/vdsm-no-mac-spoofing.xml`, readFileSync("nwfilter/vdsm-no-mac-spoofing.xml"));
  link(`${lib}/nwfilter`, `usr/share/${NAME}`);
  link(`usr/bin/${NAME}`, `${lib}/dist/${NAME}`);

  put(`etc/${NAME}/policy.ini`, await defaultPolicyText());
  // Where the admin puts custom filters, which install and define-filter define.
  mkdirSync(join(root, `etc/${NAME}/filters`), { recursive: true, mode: 0o755 });
  // The hook's directory is the package's too: dpkg removes it with the package when it is empty
  // (libvirt-daemon-system ships /etc/libvirt/hooks, not qemu.d).
  mkdirSync(join(root, "etc/libvirt/hooks/qemu.d"), { recursive: true, mode: 0o755 });
  put(`lib/systemd/system/${NAME}-watch.service`, unit(readFileSync("systemd/nwfilter-hook-watch.service", "utf8")));

  const changelog = changelogFor(version);
  put(`${doc}/changelog.gz`, gzip(changelog));
  put(`${doc}/copyright`, await copyright());
  put(`${doc}/README.md.gz`, gzip(readFileSync("README.md")));
  put(`usr/share/lintian/overrides/${NAME}`, readFileSync(`${SRC}/lintian-overrides`));
  put(`usr/share/man/man8/${NAME}.8.gz`, gzip(readFileSync(`${SRC}/${NAME}.8`, "utf8").replaceAll("@VERSION@", version)));

  // Control files.
  const files = walk(root).filter((f) => lstatSync(join(root, f)).isFile());
  const md5 = files.map((f) => `${hash(f)}  ${f}`).join("\n");
  const installedKiB = files.reduce((n, f) => n + Math.ceil(statSync(join(root, f)).size / 1024), 0) + walk(root).length - files.length;
  const control = readFileSync(`${SRC}/control`, "utf8").replaceAll("@VERSION@", version).replaceAll("@INSTALLED_SIZE@", String(installedKiB));
  put("DEBIAN/control", control);
  put("DEBIAN/md5sums", `${md5}\n`);
  put("DEBIAN/conffiles", `/etc/${NAME}/policy.ini\n`);
  for (const script of ["postinst", "prerm", "postrm"]) put(`DEBIAN/${script}`, readFileSync(`${SRC}/${script}`), 0o755);
  put(
    "DEBIAN/triggers",
    readFileSync(`${SRC}/triggers`, "utf8")
      .split("\n")
      .filter((l) => !l.startsWith("#"))
      .join("\n"),
  );

  // Reproducible: every file dated by the changelog's entry.
  const date = new Date(/^ -- .*> {2}(.+)$/m.exec(changelog)[1]);
  for (const f of ["DEBIAN", ...walk(root)]) lutimesSync(join(root, f), date, date);

  mkdirSync(values.out, { recursive: true });
  const deb = join(values.out, `${NAME}_${version}_all.deb`);
  const r = spawnSync("dpkg-deb", ["--root-owner-group", "-Zxz", "--build", root, deb], {
    encoding: "utf8",
    env: { ...process.env, SOURCE_DATE_EPOCH: String(Math.floor(date.getTime() / 1000)) },
  });
  if (r.error) fail(`cannot run dpkg-deb: ${r.error.message}`);
  if (r.status !== 0) fail(`dpkg-deb failed: ${r.stderr.trim()}`);
  console.log(deb);
} finally {
  rmSync(root, { recursive: true, force: true });
}

function fail(message) {
  console.error(`package: ${message}`);
  process.exit(1);
}

function put(path, content, mode = 0o644) {
  const target = join(root, path);
  mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
  writeFileSync(target, content);
  chmodSync(target, mode);
}

/** A relative symbolic link (Debian policy: within /usr, links are relative). */
function link(path, to) {
  mkdirSync(dirname(join(root, path)), { recursive: true, mode: 0o755 });
  symlinkSync(relative(dirname(path), to), join(root, path));
}

function walk(dir, base = "") {
  const out = [];
  for (const e of readdirSync(join(dir, base), { withFileTypes: true })) {
    const p = base === "" ? e.name : `${base}/${e.name}`;
    if (p === "DEBIAN") continue;
    out.push(p);
    if (e.isDirectory()) out.push(...walk(dir, p));
  }
  return out;
}

function hash(path) {
  return spawnSync("md5sum", [join(root, path)], { encoding: "utf8" }).stdout.split(" ")[0];
}

/** gzip -9n: no name, no time stamp. */
function gzip(content) {
  return gzipSync(content, { level: 9 });
}

/** The unit with the command's path in place of @NWFILTER_HOOK@; comments about the placeholder go. */
function unit(text) {
  return text
    .split("\n")
    .filter((line) => !(line.startsWith("#") && (line.includes("@NWFILTER_HOOK@") || line.includes("in the Debian package"))))
    .map((line) => line.replaceAll("@NWFILTER_HOOK@", `/usr/bin/${NAME}`))
    .join("\n");
}

/** The policy file `nwfilter-hook install` would write, from the CLI's own source. */
async function defaultPolicyText() {
  const dir = mkdtempSync(join(tmpdir(), "nwfilter-hook-policy-"));
  try {
    const out = join(dir, "policy.cjs");
    await build({ entryPoints: ["src/cli/policy.ts"], bundle: true, platform: "node", format: "cjs", outfile: out, logLevel: "warning" });
    return createRequire(import.meta.url)(out).defaultPolicyText();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** packaging/deb/changelog, with an entry for a version it does not have. */
function changelogFor(v) {
  const text = readFileSync(`${SRC}/changelog`, "utf8");
  const top = /^\S+ \(([^)]+)\)/.exec(text)?.[1];
  if (top === v) return text;
  if (values.version === undefined) fail(`packaging/deb/changelog's latest entry is ${top}, package.json says ${v}`);
  const maintainer = /^Maintainer: (.+)$/m.exec(readFileSync(`${SRC}/control`, "utf8"))[1];
  const date = new Date().toUTCString().replace("GMT", "+0000");
  return `${NAME} (${v}) unstable; urgency=medium\n\n  * Local rebuild of ${top}.\n\n -- ${maintainer}  ${date}\n\n${text}`;
}

/** packaging/deb/copyright with a paragraph for each module bundled into the program. */
async function copyright() {
  const modules = new Map();
  for (const entry of ["src/cli/main.ts", "hooks/qemu.ts"]) {
    const r = await build({ entryPoints: [entry], bundle: true, platform: "node", format: "cjs", write: false, metafile: true, logLevel: "silent" });
    for (const input of Object.keys(r.metafile.inputs)) {
      const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
      if (m) modules.set(m[1], `node_modules/${m[1]}`);
    }
  }
  const paragraphs = [...modules]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, dir]) => {
      const meta = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
      if (!LICENSES.has(meta.license)) fail(`bundled module ${name} has license ${meta.license}: add its text to packaging/deb/copyright`);
      const licenseFile = readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
      const holders = licenseFile
        ? readFileSync(join(dir, licenseFile), "utf8")
            .split("\n")
            .map((l) => l.trim())
            .filter((l) => /^(copyright\b|\(c\))/i.test(l) && !/copyright (notice|holder)/i.test(l))
        : [];
      const copyrightLines = (holders.length ? holders : [`the ${name} authors`]).map((l) => l.replace(/^copyright\s*(\(c\)|©)?\s*/i, ""));
      return `Files: ${dir}/*\nCopyright: ${copyrightLines.join("\n ")}\nLicense: ${meta.license}\nComment: ${name} ${meta.version}\n`;
    });
  return readFileSync(`${SRC}/copyright`, "utf8").replace("@BUNDLED@\n", `${paragraphs.join("\n")}\n`);
}
