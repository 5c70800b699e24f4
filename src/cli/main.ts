// nwfilter-hook, the admin CLI: parses the command line with yargs, runs one command from
// commands/, prints, and maps failures to one line and an exit code. Unlike the hook, it may
// call libvirt (through virsh).
import "./cwd.js";
import { realpathSync } from "node:fs";
import { dirname } from "node:path";
import { MAX_XML_BYTES, PRODUCT } from "../core/constants.js";
import { NwfilterHookError, formatError } from "../core/errors.js";
import { readAllLimited, sleep, writeAllSync } from "../host/stdio.js";
import { Virsh } from "../host/virsh.js";
import { processVirshSession } from "../host/virsh-session.js";
import { apply } from "./commands/apply.js";
import { audit } from "./commands/audit.js";
import { check } from "./commands/check.js";
import { defineFilterCommand } from "./commands/define-filter.js";
import { inject } from "./commands/inject.js";
import { install } from "./commands/install.js";
import { uninstall } from "./commands/uninstall.js";
import { watch } from "./commands/watch.js";
import type { Context } from "./context.js";
import { systemDaemonControl } from "../host/daemon.js";
import { nodeHostFiles } from "../host/host-files.js";
import { runFileSync } from "../host/run-file.js";
import { EXIT, UsageError, exitCodeFor, fsError } from "./errors.js";
import { DEFAULT_HOOKS_DIR, DEFAULT_URI } from "./paths.js";
import { packageVersion } from "../host/package-version.js";
import { ENVIRONMENT, EXIT_CODES, epilog } from "./help-text.js";

// yargs through require(): esbuild then bundles its CommonJS build, whose help text wraps at word
// boundaries (the ESM build's cliui breaks words in the middle).
const yargs = require("yargs") as typeof import("yargs").default;

/** Runs the CLI with these arguments; resolves with the exit code. Never rejects. */
export async function runCli(args: readonly string[], ctx: Context): Promise<number> {
  let command: (() => number | Promise<number>) | undefined;
  let failure: unknown;
  // The handlers only pick the command; it runs once yargs is done, so that it may be asynchronous.
  const run = (fn: () => number | Promise<number>) => {
    command = fn;
  };

  const parser = yargs([...args])
    .scriptName(PRODUCT)
    .usage(
      `$0 COMMAND [options]\n\nMakes every VM network interface on this libvirt host reference the anti-MAC-spoofing nwfilter: installs the qemu hook that guards VM starts, and fixes, audits and checks domains.`,
    )
    .option("connect", {
      alias: "c",
      type: "string",
      describe: "libvirt connection URI",
      default: ctx.env.LIBVIRT_DEFAULT_URI || DEFAULT_URI,
      defaultDescription: "$LIBVIRT_DEFAULT_URI or qemu:///system",
      global: true,
    })
    .option("hooks-dir", {
      type: "string",
      describe: "libvirt's hooks directory",
      default: DEFAULT_HOOKS_DIR,
      global: true,
    })
    .option("policy", {
      type: "string",
      describe: "policy file",
      defaultDescription: "see below",
      global: true,
    })
    .command(
      "install",
      "install the hook, the default policy (when there is none) and the filter; reload the daemon; self-test",
      (y) =>
        y
          .option("reload", { type: "boolean", default: true, describe: "make the daemon notice the hook (--no-reload: don't)" })
          .option("force", { type: "boolean", default: false, describe: "replace a hook that is not ours (a backup is kept)" })
          .option("defer-if-down", {
            type: "boolean",
            default: false,
            describe: "when the libvirt daemon is not running, install anyway: the hook and the filter take effect when it starts",
          })
          .option("json", { type: "boolean", default: false, describe: "the findings as one JSON document (as audit --json)" })
          .example("$0 install", "install for the system libvirt")
          .example("$0 install --policy /etc/nwfilter-hook/lab.ini", "install with a policy elsewhere (the hook is told where)")
          .epilog(
            epilog(
              "Copies the built hook to HOOKS-DIR/qemu.d/50-nwfilter-hook (libvirt >= 6.5; older: HOOKS-DIR/qemu), naming the absolute path of this Node as its interpreter. Running it again changes nothing and says so.",
            ),
          ),
      (a) =>
        run(() =>
          install(ctx, {
            hooksDir: a["hooks-dir"],
            policy: a.policy,
            reload: a.reload,
            force: a.force,
            uri: a.connect,
            deferIfDown: a["defer-if-down"],
            json: a.json,
          }),
        ),
    )
    .command(
      "uninstall",
      "remove what install put there",
      (y) =>
        y
          .option("purge", { type: "boolean", default: false, describe: "also remove the policy, and undefine the filter when no domain references it" })
          .option("reload", { type: "boolean", default: true, describe: "reload the daemon (--no-reload: don't)" })
          .option("json", { type: "boolean", default: false, describe: "the findings as one JSON document (as audit --json)" })
          .example("$0 uninstall", "remove the hook; running VMs keep running")
          .example("$0 uninstall --purge", "remove the hook, the policy and the filter")
          .epilog(epilog()),
      (a) => run(() => uninstall(ctx, { hooksDir: a["hooks-dir"], policy: a.policy, purge: a.purge, reload: a.reload, uri: a.connect, json: a.json })),
    )
    .command(
      "define-filter [file]",
      "define or update the nwfilters (the shipped one and the custom ones), reusing the UUID of an existing definition",
      (y) =>
        y
          .positional("file", {
            type: "string",
            describe: "filter definition",
            defaultDescription: "the shipped nwfilter/vdsm-no-mac-spoofing.xml and every /etc/nwfilter-hook/filters/*.xml",
          })
          .example("$0 define-filter", "define vdsm-no-mac-spoofing and the custom filters (each created, updated or unchanged)")
          .example("$0 define-filter my-filter.xml", "define another filter (name it in the policy's Filter or a section)")
          .epilog(epilog("Custom filters: every NAME.xml in /etc/nwfilter-hook/filters (NWFILTER_HOOK_FILTERS_DIR) defining <filter name='NAME'>.")),
      (a) => run(() => defineFilterCommand(ctx, { uri: a.connect, file: a.file })),
    )
    .command(
      "check",
      "validate the policy and print it with what each section chooses; check the hook, the daemon and the filters (exit 0 only when all hold)",
      (y) =>
        y
          .option("json", { type: "boolean", default: false, describe: "the findings as one JSON document (as audit --json)" })
          .example("$0 check", "after editing the policy, like nginx -t")
          .example("$0 check --json | jq '.findings[] | select(.status == \"failed\")'", "what failed, for a script")
          .example("$0 check --policy new.ini", "check a policy file before putting it in place")
          .epilog(epilog()),
      (a) => run(() => check(ctx, { hooksDir: a["hooks-dir"], policy: a.policy, uri: a.connect, json: a.json })),
    )
    .command(
      "inject [file]",
      "add each NIC's chosen filterref to a domain XML (or, with --device, to one <interface>) and print it",
      (y) =>
        y
          .positional("file", { type: "string", describe: "XML file, or - for stdin", defaultDescription: "stdin" })
          .option("device", { type: "boolean", default: false, describe: "the input is one <interface> element (hot-plug)" })
          .option("domain", {
            type: "string",
            describe: "with --device: the domain the NIC is for; its exemptions (name, metadata) then apply (reads its definition with virsh)",
          })
          .option("diff", { type: "boolean", default: false, describe: "print a unified diff instead of the XML" })
          .example("$0 inject --device nic.xml > nic2.xml", "one NIC, for hot-plug (see below)")

          .example("$0 inject --diff web1.xml", "show what would change in a domain XML")
          .example("$0 inject - < web1.xml", "from stdin")
          .epilog(
            epilog(
              "Hot-plug a NIC with the filter:\n" +
                "  nwfilter-hook inject --device --domain DOMAIN nic.xml > nic2.xml\n" +
                "  virsh attach-device DOMAIN nic2.xml --live --config\n\n" +
                "Without --domain, calls no libvirt API: reads network definitions and sysfs, like the hook. The XML goes to stdout, messages to stderr.",
            ),
          ),
      (a) =>
        run(() => inject(ctx, { file: a.file, device: a.device, domain: a.domain, uri: a.connect, diff: a.diff, policy: a.policy, hooksDir: a["hooks-dir"] })),
    )
    .command(
      "audit [domains..]",
      "report every NIC of every (or the named) domain: persistent and live; exit 1 when any is missing the filter",
      (y) =>
        y
          .positional("domains", { type: "string", array: true, describe: "domain names", defaultDescription: "all domains" })
          .option("json", { type: "boolean", default: false, describe: "machine-readable output" })
          .example("$0 audit", "a table of every NIC: compliant, missing, exempt, ineligible, other-filter")
          .example("$0 audit --json web1 | jq '.domains[].live'", "the running NICs of one domain")
          .epilog(epilog()),
      (a) => run(() => audit(ctx, { domains: (a.domains ?? []).map(String), json: a.json, policy: a.policy, hooksDir: a["hooks-dir"], uri: a.connect })),
    )
    .command(
      "apply [domains..]",
      "add the filter to persistent definitions (and with --live to running NICs)",
      (y) =>
        y
          .positional("domains", { type: "string", array: true, describe: "domain names" })
          .option("all", { type: "boolean", default: false, describe: "every domain" })
          .option("live", { type: "boolean", default: false, describe: "also the running NICs (update-device --live), no restart needed" })
          .option("dry-run", { type: "boolean", default: false, describe: "show the diffs, change nothing" })
          .example("$0 apply web1", "fix web1's definition; the next start has the filter")
          .example("$0 apply --all --live", "upgrade a host: every definition and every running NIC")
          .example("$0 apply --all --dry-run", "show what would change")
          .epilog(epilog()),
      (a) =>
        run(() =>
          apply(ctx, {
            domains: (a.domains ?? []).map(String),
            all: a.all,
            live: a.live,
            dryRun: a["dry-run"],
            policy: a.policy,
            hooksDir: a["hooks-dir"],
            uri: a.connect,
          }),
        ),
    )
    .command(
      "watch",
      "keep every domain compliant as libvirt changes it (runs until SIGTERM; SIGHUP re-reads the policy)",
      (y) =>
        y
          .option("status-file", { type: "string", describe: "where the watcher keeps its status", defaultDescription: "/run/nwfilter-hook/watch.json" })
          .option("syslog", { type: "boolean", default: true, describe: "also log to syslog (--no-syslog: stderr only)" })
          .option("metrics-file", {
            type: "string",
            describe: "also write the watcher's state in Prometheus text format there, for node_exporter's textfile collector",
            defaultDescription: "$NWFILTER_HOOK_METRICS_FILE, else none",
          })
          .example("$0 watch", "in the foreground; systemd runs it as nwfilter-hook-watch.service")
          .example("kill -HUP PID", "re-read the policy (a bad one is refused and the last good one kept)")
          .epilog(
            epilog(
              "Resyncs every domain at start, after every reconnect and every ResyncInterval (policy), and follows libvirt's events and the definitions' files in between, fixing what lacks the filter as 'apply --live' does. With OnMissing = watch, the hook lets a start through while this runs and is healthy.",
            ),
          ),
      (a) =>
        run(() =>
          watch(ctx, {
            policy: a.policy,
            hooksDir: a["hooks-dir"],
            uri: a.connect,
            statusFile: a["status-file"],
            syslog: a.syslog,
            metricsFile: a["metrics-file"],
          }),
        ),
    )
    .demandCommand(1, "name a command")
    .strict()
    .recommendCommands()
    .help()
    .alias("help", "h")
    .version(packageVersion(ctx.packageRoot))
    .epilog(`${EXIT_CODES}\n\n${ENVIRONMENT}`)
    .wrap(Math.min(100, ctx.columns ?? 100))
    .showHelpOnFail(false)
    .exitProcess(false)
    .fail((message, error) => {
      // Throwing stops yargs here: it would otherwise go on and run the command.
      throw error ?? new UsageError(`${message} (see ${PRODUCT} --help)`);
    });

  let output = "";
  try {
    // Every command handler is synchronous: parse() returns the arguments, never a promise.
    void parser.parse([...args], {}, (_err, _argv, text) => {
      output = text;
    });
  } catch (error) {
    failure = error;
  }

  if (failure !== undefined) return report(ctx, failure);
  if (command === undefined) {
    if (output) ctx.stdout(`${output}\n`);
    return EXIT.OK;
  }
  try {
    return await command();
  } catch (error) {
    return report(ctx, error);
  }
}

function report(ctx: Context, error: unknown): number {
  let e = error;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (!(e instanceof NwfilterHookError) && typeof code === "string" && /^E[A-Z]+$/.test(code)) {
    e = fsError(e, "complete the operation", (e as NodeJS.ErrnoException).path ?? "?");
  }
  if (e instanceof NwfilterHookError) {
    ctx.stderr(`${PRODUCT}: ${formatError(e)}\n`);
    return exitCodeFor(e);
  }
  const detail = ctx.env.NWFILTER_HOOK_DEBUG ? ((e as Error)?.stack ?? String(e)) : String((e as Error)?.message ?? e);
  ctx.stderr(`${PRODUCT}: internal error: ${detail}\n`);
  return EXIT.INTERNAL;
}

/** Writes everything, synchronously; a closed pipe (`| head`) ends the output quietly. */
function writer(fd: number): (text: string | Uint8Array) => void {
  let closed = false;
  return (text) => {
    if (closed) return;
    try {
      writeAllSync(fd, text);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EPIPE") closed = true;
      else throw error;
    }
  };
}

export function processContext(): Context {
  const entry = process.argv[1];
  const bundleDir = typeof __dirname === "string" ? __dirname : dirname(realpathSync(entry ?? "."));
  return {
    env: process.env,
    stdout: writer(1),
    stderr: writer(2),
    stdoutIsTTY: Boolean(process.stdout.isTTY),
    stderrIsTTY: Boolean(process.stderr.isTTY),
    stdinIsTTY: Boolean(process.stdin.isTTY),
    columns: process.stdout.isTTY ? process.stdout.columns : undefined,
    readStdin: () => readAllLimited(0, MAX_XML_BYTES, "stdin"),
    euid: process.geteuid?.(),
    execPath: process.execPath,
    bundleDir,
    packageRoot: dirname(bundleDir),
    // One virsh session per connection for all of a command's calls (src/host/virsh-session.ts).
    virsh: (uri) => new Virsh(processVirshSession({ uri })),
    daemon: systemDaemonControl(),
    files: nodeHostFiles,
    runFile: runFileSync,
    sleep,
  };
}

// The entry point of the bundle (dist/nwfilter-hook); importing this module runs nothing.
if (typeof require !== "undefined" && typeof module !== "undefined" && require.main === module) {
  void runCli(process.argv.slice(2), processContext()).then((code) => {
    process.exitCode = code;
  });
}
