// `uninstall [--purge]`: removes only what `install` put there (files marked as ours); with
// --purge also the policy, and the filter when nothing references it any more.
import { basename, dirname } from "node:path";
import { isTimeout, type Virsh } from "../../host/virsh.js";
import { attr, parseXml, type XmlElement } from "../../core/xml.js";
import type { Context } from "../context.js";
import { EXIT, UsageError, fsError } from "../errors.js";
import { collect, lineFinding, rendered, type Emit, type Finding } from "../findings.js";
import { reachOf } from "../../host/daemon.js";
import { findInstalledHooks, isOurs } from "../hook-file.js";
import { BACKUP_SUFFIX, hookLocations, shippedFilterPath } from "../paths.js";
import { policyLocation } from "../policy.js";
import { removeStartupCache } from "../../host/startup-cache.js";
import { readFilterFile } from "./define-filter.js";
import { waitForDaemon } from "./install.js";
import { uninstallWatchService } from "../watch-service.js";

export interface UninstallOptions {
  hooksDir: string;
  policy: string | undefined;
  purge: boolean;
  reload: boolean;
  uri: string;
  json?: boolean;
}

export interface UninstallResult {
  findings: Finding[];
}

/** uninstall's exit code: 1 when something it should remove stayed (the filter), else 0. */
export function uninstallExit(result: UninstallResult): number {
  return result.findings.some((f) => f.status === "failed") ? EXIT.FINDINGS : EXIT.OK;
}

export function uninstallSummary(result: UninstallResult): string {
  if (!result.findings.some((f) => f.changed)) return "uninstall: nothing to remove";
  return uninstallExit(result) === EXIT.OK ? "uninstall: done" : "uninstall: incomplete (see above)";
}

export async function uninstall(ctx: Context, options: UninstallOptions): Promise<number> {
  return rendered<UninstallResult>(ctx, options.json ?? false, (emit) => runUninstall(ctx, options, emit), {
    summary: uninstallSummary,
    exit: uninstallExit,
    json: (r) => ({ changed: r.findings.some((f) => f.changed) }),
  });
}

export async function runUninstall(ctx: Context, options: UninstallOptions, emit: Emit): Promise<UninstallResult> {
  const { findings, add } = collect(emit);
  const done = (code: string, subject: string, message: string) => add({ code, subject, status: "ok", message, changed: true });
  const note = (code: string, subject: string, message: string) => add({ code, subject, status: "info", message });
  const reach = reachOf(options.uri);
  if (reach.elsewhere) throw new UsageError(`uninstall works on this host's libvirt daemon: ${reach.why}`);
  const where = hookLocations(options.hooksDir);
  // Read before the hook goes: it may name the policy it reads.
  const location = policyLocation(ctx, options.policy, options.hooksDir);

  // The watcher first: it would otherwise go on fixing domains (src/cli/watch-service.ts).
  uninstallWatchService(ctx, add);

  for (const hook of findInstalledHooks(ctx.files, options.hooksDir)) {
    try {
      ctx.files.remove(hook.path);
    } catch (error) {
      throw fsError(error, "remove the hook", hook.path);
    }
    done("hook", `hook ${hook.path}`, "removed");
    const cache = removeStartupCache(hook.text);
    if (cache) add(lineFinding("startup-cache", cache, "ok", true));
    const backup = `${hook.path}${BACKUP_SUFFIX}`;
    if (ctx.files.exists(backup)) {
      try {
        ctx.files.rename(backup, hook.path);
      } catch (error) {
        throw fsError(error, "restore the hook that install replaced", hook.path);
      }
      done("hook", `hook ${hook.path}`, "restored the hook that 'install --force' had replaced");
    }
  }
  const foreign = ctx.files.readIfExists(where.qemuD);
  if (foreign && !isOurs(foreign.text)) note("hook", `hook ${where.qemuD}`, "left alone (not installed by nwfilter-hook)");

  if (findings.some((f) => f.changed)) await reloadAfterRemoval(ctx, options, add);
  if (options.purge) await purge(ctx, options, location.path, add);
  return { findings };
}

async function reloadAfterRemoval(ctx: Context, options: UninstallOptions, add: Emit): Promise<void> {
  const say = (status: Finding["status"], message: string) => add({ code: "daemon", subject: "daemon", status, message });
  if (!options.reload) return say("info", "not reloaded (--no-reload)");
  const { daemon, why } = ctx.daemon.locate(options.uri);
  if (!daemon) return say("info", `not reloaded: ${why || "not found"} (a removed hook is simply not run)`);
  say("ok", ctx.daemon.reload(daemon));
  try {
    await waitForDaemon(ctx, ctx.virsh(options.uri));
  } catch {
    // Not needed for the removal; a daemon that does not answer is not ours to fix here.
  }
}

/** --purge: the policy (and its directory when install made it and it is empty), and the filter when nothing uses it. */
async function purge(ctx: Context, options: UninstallOptions, policyPath: string, add: Emit): Promise<void> {
  if (ctx.files.exists(policyPath)) {
    try {
      ctx.files.remove(policyPath);
    } catch (error) {
      throw fsError(error, "remove the policy", policyPath);
    }
    add({ code: "policy", subject: `policy ${policyPath}`, status: "ok", message: "removed", changed: true });
    // The directory install made for it, when it is now empty.
    const dir = dirname(policyPath);
    if (basename(dir) === "nwfilter-hook" && ctx.files.list(dir).length === 0) {
      ctx.files.removeDir(dir);
      add({ code: "policy", subject: `policy directory ${dir}`, status: "ok", message: "removed", changed: true });
    }
  }
  const virsh = ctx.virsh(options.uri);
  const { name } = readFilterFile(shippedFilterPath(ctx));
  if ((await virsh.nwfilterXml(name)) === undefined) return;
  const subject = `nwfilter '${name}'`;
  const users = await filterUsers(virsh, name);
  if (users.length > 0) return add({ code: "nwfilter", subject, status: "info", message: `kept, referenced by ${users.join(", ")}` });
  try {
    await virsh.nwfilterUndefine(name);
    add({ code: "nwfilter", subject, status: "ok", message: "undefined", changed: true });
  } catch (error) {
    // Printed as "FAILED: kept: ..." (it was "kept: ..." alone): the exit code says it failed, and so does the line now.
    add({ code: "nwfilter", subject, status: "failed", message: `kept: ${(error as Error).message}` });
  }
}

/** Domains (persistent or live definitions) and active bindings that reference the filter. */
export async function filterUsers(virsh: Virsh, filter: string): Promise<string[]> {
  const users = new Set<string>();
  for (const d of await virsh.domains()) {
    const views: Array<"config" | "live"> = [];
    if (d.persistent) views.push("config");
    if (d.active) views.push("live");
    for (const view of views) {
      let xml: string;
      try {
        xml = await virsh.dumpxml(d.name, view);
      } catch (error) {
        if (isTimeout(error)) throw error;
        continue; // it went away meanwhile
      }
      if (references(xml, filter, d.name)) users.add(`domain '${d.name}'`);
    }
  }
  for (const b of await virsh.nwfilterBindings()) if (b.filter === filter) users.add(`binding of port ${b.port}`);
  return [...users];
}

function references(xml: string, filter: string, domain: string): boolean {
  const file = `definition of domain '${domain}'`;
  const walk = (e: XmlElement): boolean => (e.name === "filterref" && attr(e, "filter") === filter) || e.children.some(walk);
  return walk(parseXml(xml, file));
}
