// `install`: the hook into the hooks directory, the default policy when there is none, the
// filters into libvirt (the shipped one and the custom ones), a reload so that the daemon
// notices the hook, and a self-test.
// Idempotent: whatever is already as it should be is left alone and reported "unchanged".
import { chmodSync, chownSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { HostError } from "../../core/errors.js";
import { compareVersions } from "../../core/policy.js";
import { settingsFromEnv } from "../../core/settings.js";
import { LibvirtError, type Virsh } from "../../host/virsh.js";
import type { Context } from "../context.js";
import { EXIT, UsageError, fsError } from "../errors.js";
import { hookContent, isOurs, readIfExists, writeAtomically } from "../hook-file.js";
import { BACKUP_SUFFIX, QEMU_D_SINCE, builtHookPath, hookLocations, shippedFilterPath } from "../paths.js";
import { defaultPolicyText, policyLocation, readPolicy } from "../policy.js";
import { leaveFilterForStart } from "../deferred-filter.js";
import { selfTest } from "../self-test.js";
import { recordStartupCache, withStartupCache } from "../startup-cache.js";
import { installWatchService } from "../watch-service.js";
import { packageVersion } from "../version.js";
import { hooksDirProblem, notOnThisHost } from "../daemon.js";
import { defineFilterFile, describeDefine, filtersToDefine } from "./define-filter.js";

export interface InstallOptions {
  hooksDir: string;
  policy: string | undefined;
  reload: boolean;
  force: boolean;
  uri: string;
  /**
   * When the daemon is not running (a package installed before libvirt runs, in an image build
   * or a chroot): install the hook and the policy anyway and leave the filter for the daemon to
   * load when it starts, instead of stopping.
   */
  deferIfDown?: boolean;
}

/** A free name for a backup of `path`. */
function backupName(path: string): string {
  let candidate = `${path}${BACKUP_SUFFIX}`;
  for (let i = 1; existsSync(candidate); i++) candidate = `${path}${BACKUP_SUFFIX}.${i}`;
  return candidate;
}

export async function install(ctx: Context, options: InstallOptions): Promise<number> {
  const say = (line: string) => ctx.stdout(`${line}\n`);
  // The hooks go into this host's files: a URI that leads elsewhere would install them for another daemon.
  const elsewhere = notOnThisHost(options.uri);
  if (elsewhere) throw new UsageError(`install works on this host's libvirt daemon: ${elsewhere}`);
  const virsh = ctx.virsh(options.uri);
  let changed = false;
  /** Whether the hook files changed: only then does the daemon need a reload. */
  let hookChanged = false;

  // Everything that can fail without changing anything comes first.
  const bundlePath = builtHookPath(ctx);
  let bundle: string;
  try {
    bundle = readFileSync(bundlePath, "utf8");
  } catch (error) {
    throw fsError(error, "read the built hook (run: npm run build)", bundlePath);
  }
  const settings = settingsFromEnv(ctx.env);
  // The shipped filter and the admin's custom ones, every file checked before anything changes.
  const filters = filtersToDefine(shippedFilterPath(ctx), settings.filtersDir);
  let down = false;
  let libvirtVersion: string;
  try {
    libvirtVersion = await virsh.daemonVersion();
  } catch (error) {
    if (!options.deferIfDown || !(error instanceof LibvirtError && error.kind === "daemon-down")) throw error;
    // The client's version stands for the libvirt that will run the hook.
    down = true;
    libvirtVersion = await virsh.clientVersion();
  }
  const useQemuD = compareVersions(libvirtVersion, QEMU_D_SINCE) >= 0;
  const where = hookLocations(options.hooksDir);
  const target = useQemuD ? where.qemuD : where.main;
  const location = policyLocation(ctx, options.policy, options.hooksDir);
  const policyExists = existsSync(location.path);
  // A broken policy would make the hook refuse every start: stop before installing it.
  const policy = policyExists ? readPolicy(ctx, location) : undefined;
  const plainContent = hookContent({ bundle, nodePath: ctx.execPath, policyPath: location.path, version: packageVersion(ctx.packageRoot) });
  const existing = readIfExists(target);
  if (existing && !isOurs(existing.text) && !options.force) {
    throw new HostError(`${target} exists and was not installed by nwfilter-hook: use --force to replace it (a backup is kept)`);
  }
  // The daemon the URI reaches, and no other: a hook where it does not look would never run.
  const { daemon, why: noDaemon } = ctx.daemon.locate(options.uri);
  const misplaced = daemon && hooksDirProblem(daemon, options.hooksDir);
  if (misplaced) throw new HostError(misplaced);
  // The snapshot or code cache for the Node the hook names (src/cli/startup-cache.ts).
  const startup = recordStartupCache(ctx, { bundle, bundlePath, nodePath: ctx.execPath, installed: existing?.text });
  const content = withStartupCache(plainContent, startup.cache);

  // 1. The hook.
  const hookLabel = `hook ${target}`;
  if (existing && existing.text === content && (existing.mode & 0o7777) === 0o755) {
    say(`${hookLabel}: unchanged`);
  } else {
    try {
      mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
    } catch (error) {
      throw fsError(error, "create the hooks directory", dirname(target));
    }
    if (existing && !isOurs(existing.text)) {
      const backup = backupName(target);
      try {
        copyFileSync(target, backup);
      } catch (error) {
        throw fsError(error, "back up the existing hook", backup);
      }
      say(`${hookLabel}: the existing hook, not ours, is kept as ${backup} (--force)`);
    }
    // The temporary file goes to the hooks directory itself: libvirt runs only fixed names there.
    writeAtomically(target, content, 0o755, where.dir);
    say(`${hookLabel}: ${existing ? "updated" : "installed"} (interpreter ${ctx.execPath}${location.origin === "default" ? "" : `, policy ${location.path}`})`);
    changed = hookChanged = true;
  }
  if (useQemuD) {
    // An earlier install for libvirt < 6.5 put the hook in hooks/qemu: it would now run twice.
    const old = readIfExists(where.main);
    if (old && isOurs(old.text)) {
      try {
        rmSync(where.main);
        const backup = `${where.main}${BACKUP_SUFFIX}`;
        if (existsSync(backup)) renameSync(backup, where.main);
      } catch (error) {
        throw fsError(error, "remove the older hook", where.main);
      }
      say(`hook ${where.main}: removed (an older install; libvirt ${libvirtVersion} runs qemu.d)`);
      changed = hookChanged = true;
    }
  }

  say(startup.message);
  if (startup.changed) changed = true;

  // 2. The policy: written only when there is none.
  if (policyExists) {
    say(`policy ${location.path}: exists, left alone`);
  } else {
    writeDefaultPolicy(ctx, location.path);
    say(`policy ${location.path}: written (the defaults, every key commented out)`);
    changed = true;
  }

  // 3. The filters: the shipped one and the custom ones.
  if (down) {
    for (const file of filters) {
      const left = leaveFilterForStart(file.path, settings.nwfilterDir);
      say(left.message);
      if (left.written) changed = true;
    }
  } else {
    for (const file of filters) {
      const defined = await defineFilterFile(virsh, file);
      say(describeDefine(defined));
      if (defined.outcome !== "unchanged") changed = true;
    }
    const effective = policy ?? readPolicy(ctx, location);
    const named = [effective.filter, ...effective.sections.map((sec) => sec.filter).filter((f): f is string => typeof f === "string")];
    for (const name of new Set(named)) {
      if (filters.some((f) => f.name === name) || (await virsh.nwfilterXml(name)) !== undefined) continue;
      say(
        `warning: the policy's filter '${name}' is not defined in libvirt: put its definition in ${settings.filtersDir}/${name}.xml and run nwfilter-hook define-filter`,
      );
    }
  }

  // 4. The daemon notices a first hook only when it starts or reloads.
  let status: number = EXIT.OK;
  if (down) {
    say("daemon: not running: libvirt runs the hook and loads the filter when it starts");
  } else if (!hookChanged) {
    say("daemon: no reload needed (the hook is unchanged)");
  } else if (!options.reload) {
    say("daemon: not reloaded (--no-reload): libvirt notices a new hook only after a reload or restart");
  } else {
    if (!daemon) {
      say(`daemon: FAILED: ${noDaemon || "cannot find libvirtd or virtqemud"}: reload it yourself so that it notices the hook`);
      status = EXIT.FINDINGS;
    } else {
      say(`daemon: ${ctx.daemon.reload(daemon)}`);
      await waitForDaemon(ctx, virsh);
    }
  }

  // 5. Run the installed hook the way libvirt will.
  const test = selfTest(ctx, target, location.path);
  say(`self-test: ${test.ok ? "ok" : "FAILED"}: ${test.message}`);
  if (!test.ok) status = EXIT.FINDINGS;

  // 6. The watcher, where systemd runs (src/cli/watch-service.ts).
  if (installWatchService(ctx, say)) changed = true;

  const done = down ? "install: done; takes effect when libvirt starts" : changed ? "install: done" : "install: nothing changed (already installed)";
  say(status !== EXIT.OK ? "install: incomplete (see above)" : done);
  return status;
}

/**
 * The daemon reloads in a thread of its own and says nothing when it is done: wait until it
 * answers again, and a little longer.
 */
export async function waitForDaemon(ctx: Context, virsh: Virsh, timeoutMs = 30_000): Promise<void> {
  ctx.sleep(200);
  for (let waited = 200; ; waited += 250) {
    try {
      await virsh.daemonVersion();
      break;
    } catch (error) {
      if (waited >= timeoutMs) throw error;
      ctx.sleep(250);
    }
  }
  ctx.sleep(300);
}

/** The default policy, created exclusively (never over an existing file), mode 0644, owned by root. */
function writeDefaultPolicy(ctx: Context, path: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    const fd = openSync(path, "wx", 0o644);
    try {
      writeSync(fd, defaultPolicyText());
    } finally {
      closeSync(fd);
    }
    chmodSync(path, 0o644);
    if (ctx.euid === 0) chownSync(path, 0, 0);
  } catch (error) {
    throw fsError(error, "write the default policy", path);
  }
}
