// `install`: the hook into the hooks directory, the default policy when there is none, the
// filters into libvirt (the shipped one and the custom ones), a reload so that the daemon
// notices the hook, and a self-test.
// Idempotent: whatever is already as it should be is left alone and reported "unchanged".
// Judging (planInstall: everything that can fail without changing anything) comes apart from
// doing (the steps), and each step emits findings (src/cli/findings.ts): text or --json.
import { dirname } from "node:path";
import { HostError } from "../../core/errors.js";
import { compareVersions } from "../../core/policy.js";
import { settingsFromEnv } from "../../core/settings.js";
import { LibvirtError, type Virsh } from "../../host/virsh.js";
import type { Context } from "../context.js";
import { EXIT, UsageError, fsError } from "../errors.js";
import { collect, lineFinding, rendered, type Emit, type Finding } from "../findings.js";
import { hookContent, isOurs } from "../hook-file.js";
import { BACKUP_SUFFIX, QEMU_D_SINCE, builtHookPath, hookLocations, shippedFilterPath } from "../paths.js";
import { defaultPolicyText, policyLocation, readPolicy } from "../policy.js";
import { leaveFilterForStart } from "../../host/deferred-filter.js";
import { selfTest } from "../self-test.js";
import { recordStartupCache, withStartupCache } from "../../host/startup-cache.js";
import type { FilterFile } from "../../host/nwfilter-define.js";
import type { Policy } from "../../core/policy.js";
import type { PolicyLocation } from "../policy.js";
import type { HookLocations } from "../paths.js";
import { installWatchService } from "../watch-service.js";
import { packageVersion } from "../../host/package-version.js";
import { hooksDirPlacement, reachOf } from "../../host/daemon.js";
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
  json?: boolean;
}

export interface InstallResult {
  findings: Finding[];
  /** The daemon was not running: the filters are left for it to load when it starts. */
  deferred: boolean;
}

/** install's exit code: 1 when a step failed (the reload, the self-test), else 0. */
export function installExit(result: Pick<InstallResult, "findings">): number {
  return result.findings.some((f) => f.status === "failed") ? EXIT.FINDINGS : EXIT.OK;
}

export function installSummary(result: InstallResult): string {
  if (installExit(result) !== EXIT.OK) return "install: incomplete (see above)";
  if (result.deferred) return "install: done; takes effect when libvirt starts";
  return result.findings.some((f) => f.changed) ? "install: done" : "install: nothing changed (already installed)";
}

/** A free name for a backup of `path`. */
function backupName(ctx: Context, path: string): string {
  let candidate = `${path}${BACKUP_SUFFIX}`;
  for (let i = 1; ctx.files.exists(candidate); i++) candidate = `${path}${BACKUP_SUFFIX}.${i}`;
  return candidate;
}

export async function install(ctx: Context, options: InstallOptions): Promise<number> {
  return rendered<InstallResult>(ctx, options.json ?? false, (emit) => runInstall(ctx, options, emit), {
    summary: installSummary,
    exit: installExit,
    json: (r) => ({ changed: r.findings.some((f) => f.changed), deferred: r.deferred }),
  });
}

/** What install will do, found out before anything changes. */
interface InstallPlan {
  virsh: Virsh;
  bundle: string;
  bundlePath: string;
  filtersDir: string;
  nwfilterDir: string;
  filters: FilterFile[];
  /** The daemon is not running (--defer-if-down). */
  down: boolean;
  libvirtVersion: string;
  useQemuD: boolean;
  where: HookLocations;
  target: string;
  location: PolicyLocation;
  /** The policy, when there is one (checked before anything changes). */
  policy: Policy | undefined;
  existing: { text: string; mode: number } | undefined;
  daemon: ReturnType<Context["daemon"]["locate"]>;
}

/** Everything that can fail without changing anything; throws what stops install. */
async function planInstall(ctx: Context, options: InstallOptions): Promise<InstallPlan> {
  // The hooks go into this host's files: a URI that leads elsewhere would install them for another daemon.
  const reach = reachOf(options.uri);
  if (reach.elsewhere) throw new UsageError(`install works on this host's libvirt daemon: ${reach.why}`);
  const virsh = ctx.virsh(options.uri);
  const bundlePath = builtHookPath(ctx);
  const bundle = ctx.files.readText(bundlePath, "read the built hook (run: npm run build)");
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
  // A broken policy would make the hook refuse every start: stop before installing it.
  const policy = ctx.files.exists(location.path) ? readPolicy(ctx, location) : undefined;
  const existing = ctx.files.readIfExists(target);
  if (existing && !isOurs(existing.text) && !options.force) {
    throw new HostError(`${target} exists and was not installed by nwfilter-hook: use --force to replace it (a backup is kept)`);
  }
  // The daemon the URI reaches, and no other: a hook where it does not look would never run.
  const daemon = ctx.daemon.locate(options.uri);
  const placement = daemon.daemon ? hooksDirPlacement(daemon.daemon, options.hooksDir) : undefined;
  if (placement?.misplaced) throw new HostError(placement.why);
  const { filtersDir, nwfilterDir } = settings;
  return { virsh, bundle, bundlePath, filtersDir, nwfilterDir, filters, down, libvirtVersion, useQemuD, where, target, location, policy, existing, daemon };
}

export async function runInstall(ctx: Context, options: InstallOptions, emit: Emit): Promise<InstallResult> {
  const { findings, add } = collect(emit);
  const plan = await planInstall(ctx, options);
  const policyExisted = plan.policy !== undefined || ctx.files.exists(plan.location.path);
  const version = packageVersion(ctx.packageRoot);
  const plainContent = hookContent({ bundle: plan.bundle, nodePath: ctx.execPath, policyPath: plan.location.path, version });
  // The snapshot or code cache for the Node the hook names (src/host/startup-cache.ts).
  const startup = recordStartupCache(ctx, { bundle: plan.bundle, bundlePath: plan.bundlePath, nodePath: ctx.execPath, installed: plan.existing?.text });

  // 1. The hook.
  const hookChanged = [installHook(ctx, plan, withStartupCache(plainContent, startup.cache), add), removeOlderHook(ctx, plan, add)].some(Boolean);
  add(lineFinding("startup-cache", startup.message, "ok", startup.changed));

  // 2. The policy: written only when there is none.
  if (policyExisted) {
    add({ code: "policy", subject: `policy ${plan.location.path}`, status: "info", message: "exists, left alone" });
  } else {
    writeDefaultPolicy(ctx, plan.location.path);
    add({ code: "policy", subject: `policy ${plan.location.path}`, status: "ok", message: "written (the defaults, every key commented out)", changed: true });
  }

  // 3. The filters: the shipped one and the custom ones.
  await installFilters(ctx, plan, add);

  // 4. The daemon notices a first hook only when it starts or reloads.
  await reloadDaemon(ctx, plan, options.reload, hookChanged, add);

  // 5. Run the installed hook the way libvirt will.
  const test = selfTest(ctx, plan.target, plan.location.path);
  add({ code: "self-test", subject: "self-test", status: test.ok ? "ok" : "failed", message: test.ok ? `ok: ${test.message}` : test.message });

  // 6. The watcher, where systemd runs (src/cli/watch-service.ts).
  installWatchService(ctx, add);
  return { findings, deferred: plan.down };
}

/** Writes the hook when it is not already as wanted; whether it changed. */
function installHook(ctx: Context, plan: InstallPlan, content: string, add: Emit): boolean {
  const { existing, target } = plan;
  const subject = `hook ${target}`;
  if (existing && existing.text === content && (existing.mode & 0o7777) === 0o755) {
    add({ code: "hook", subject, status: "ok", message: "unchanged" });
    return false;
  }
  try {
    ctx.files.makeDir(dirname(target), 0o755);
  } catch (error) {
    throw fsError(error, "create the hooks directory", dirname(target));
  }
  if (existing && !isOurs(existing.text)) {
    const backup = backupName(ctx, target);
    try {
      ctx.files.copy(target, backup);
    } catch (error) {
      throw fsError(error, "back up the existing hook", backup);
    }
    add({ code: "hook", subject, status: "info", message: `the existing hook, not ours, is kept as ${backup} (--force)`, changed: true });
  }
  // The temporary file goes to the hooks directory itself: libvirt runs only fixed names there.
  ctx.files.writeAtomically(target, content, 0o755, plan.where.dir);
  const policy = plan.location.origin === "default" ? "" : `, policy ${plan.location.path}`;
  add({ code: "hook", subject, status: "ok", message: `${existing ? "updated" : "installed"} (interpreter ${ctx.execPath}${policy})`, changed: true });
  return true;
}

/** An earlier install for libvirt < 6.5 put the hook in hooks/qemu: with qemu.d it would run twice. */
function removeOlderHook(ctx: Context, plan: InstallPlan, add: Emit): boolean {
  const { where } = plan;
  if (!plan.useQemuD) return false;
  const old = ctx.files.readIfExists(where.main);
  if (!old || !isOurs(old.text)) return false;
  try {
    ctx.files.remove(where.main);
    const backup = `${where.main}${BACKUP_SUFFIX}`;
    if (ctx.files.exists(backup)) ctx.files.rename(backup, where.main);
  } catch (error) {
    throw fsError(error, "remove the older hook", where.main);
  }
  const message = `removed (an older install; libvirt ${plan.libvirtVersion} runs qemu.d)`;
  add({ code: "hook", subject: `hook ${where.main}`, status: "ok", message, changed: true });
  return true;
}

async function installFilters(ctx: Context, plan: InstallPlan, add: Emit): Promise<void> {
  if (plan.down) {
    for (const file of plan.filters) {
      const left = leaveFilterForStart(file.path, plan.nwfilterDir);
      add(lineFinding("nwfilter", left.message, left.written ? "ok" : "info", left.written));
    }
    return;
  }
  for (const file of plan.filters) {
    const defined = await defineFilterFile(plan.virsh, file);
    add(lineFinding("nwfilter", describeDefine(defined), "ok", defined.outcome !== "unchanged"));
  }
  const effective = plan.policy ?? readPolicy(ctx, plan.location);
  const named = [effective.filter, ...effective.sections.map((sec) => sec.filter).filter((f): f is string => typeof f === "string")];
  for (const name of new Set(named)) {
    if (plan.filters.some((f) => f.name === name) || (await plan.virsh.nwfilterXml(name)) !== undefined) continue;
    const message = `the policy's filter '${name}' is not defined in libvirt: put its definition in ${plan.filtersDir}/${name}.xml and run nwfilter-hook define-filter`;
    add({ code: "nwfilter", subject: "", status: "warning", message });
  }
}

async function reloadDaemon(ctx: Context, plan: InstallPlan, reload: boolean, hookChanged: boolean, add: Emit): Promise<void> {
  const say = (status: Finding["status"], message: string) => add({ code: "daemon", subject: "daemon", status, message });
  const { daemon, why } = plan.daemon;
  if (plan.down) say("info", "not running: libvirt runs the hook and loads the filter when it starts");
  else if (!hookChanged) say("ok", "no reload needed (the hook is unchanged)");
  else if (!reload) say("info", "not reloaded (--no-reload): libvirt notices a new hook only after a reload or restart");
  else if (!daemon) say("failed", `${why || "cannot find libvirtd or virtqemud"}: reload it yourself so that it notices the hook`);
  else {
    say("ok", ctx.daemon.reload(daemon));
    await waitForDaemon(ctx, plan.virsh);
  }
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
    ctx.files.makeDir(dirname(path), 0o755);
    ctx.files.createExclusive(path, defaultPolicyText(), 0o644, { root: ctx.euid === 0 });
  } catch (error) {
    throw fsError(error, "write the default policy", path);
  }
}
