// `uninstall [--purge]`: removes only what `install` put there (files marked as ours); with
// --purge also the policy, and the filter when nothing references it any more.
import { existsSync, readdirSync, renameSync, rmSync, rmdirSync } from "node:fs";
import { basename, dirname } from "node:path";
import { isTimeout, type Virsh } from "../../host/virsh.js";
import { attr, parseXml, type XmlElement } from "../../core/xml.js";
import type { Context } from "../context.js";
import { EXIT, UsageError, fsError } from "../errors.js";
import { notOnThisHost } from "../daemon.js";
import { findInstalledHooks, isOurs, readIfExists } from "../hook-file.js";
import { BACKUP_SUFFIX, hookLocations, shippedFilterPath } from "../paths.js";
import { policyLocation } from "../policy.js";
import { removeStartupCache } from "../startup-cache.js";
import { readFilterFile } from "./define-filter.js";
import { waitForDaemon } from "./install.js";
import { uninstallWatchService } from "../watch-service.js";

export interface UninstallOptions {
  hooksDir: string;
  policy: string | undefined;
  purge: boolean;
  reload: boolean;
  uri: string;
}

export async function uninstall(ctx: Context, options: UninstallOptions): Promise<number> {
  const say = (line: string) => ctx.stdout(`${line}\n`);
  const elsewhere = notOnThisHost(options.uri);
  if (elsewhere) throw new UsageError(`uninstall works on this host's libvirt daemon: ${elsewhere}`);
  const where = hookLocations(options.hooksDir);
  // Read before the hook goes: it may name the policy it reads.
  const location = policyLocation(ctx, options.policy, options.hooksDir);
  let status: number = EXIT.OK;
  let removed = 0;

  // The watcher first: it would otherwise go on fixing domains (src/cli/watch-service.ts).
  if (uninstallWatchService(ctx, say)) removed++;

  for (const hook of findInstalledHooks(options.hooksDir)) {
    try {
      rmSync(hook.path);
    } catch (error) {
      throw fsError(error, "remove the hook", hook.path);
    }
    say(`hook ${hook.path}: removed`);
    removed++;
    const cache = removeStartupCache(hook.text);
    if (cache) say(cache);
    const backup = `${hook.path}${BACKUP_SUFFIX}`;
    if (existsSync(backup)) {
      try {
        renameSync(backup, hook.path);
      } catch (error) {
        throw fsError(error, "restore the hook that install replaced", hook.path);
      }
      say(`hook ${hook.path}: restored the hook that 'install --force' had replaced`);
    }
  }
  const foreign = readIfExists(where.qemuD);
  if (foreign && !isOurs(foreign.text)) say(`hook ${where.qemuD}: left alone (not installed by nwfilter-hook)`);

  if (removed > 0) {
    if (!options.reload) {
      say("daemon: not reloaded (--no-reload)");
    } else {
      const { daemon, why } = ctx.daemon.locate(options.uri);
      if (!daemon) say(`daemon: not reloaded: ${why || "not found"} (a removed hook is simply not run)`);
      else {
        say(`daemon: ${ctx.daemon.reload(daemon)}`);
        try {
          await waitForDaemon(ctx, ctx.virsh(options.uri));
        } catch {
          // Not needed for the removal; a daemon that does not answer is not ours to fix here.
        }
      }
    }
  }

  if (options.purge) {
    if (existsSync(location.path)) {
      try {
        rmSync(location.path);
      } catch (error) {
        throw fsError(error, "remove the policy", location.path);
      }
      say(`policy ${location.path}: removed`);
      removed++;
      // The directory install made for it, when it is now empty.
      const dir = dirname(location.path);
      if (basename(dir) === "nwfilter-hook" && readdirSync(dir).length === 0) {
        rmdirSync(dir);
        say(`policy directory ${dir}: removed`);
      }
    }
    const virsh = ctx.virsh(options.uri);
    const { name } = readFilterFile(shippedFilterPath(ctx));
    if ((await virsh.nwfilterXml(name)) !== undefined) {
      const users = await filterUsers(virsh, name);
      if (users.length > 0) {
        say(`nwfilter '${name}': kept, referenced by ${users.join(", ")}`);
      } else {
        try {
          await virsh.nwfilterUndefine(name);
          say(`nwfilter '${name}': undefined`);
          removed++;
        } catch (error) {
          say(`nwfilter '${name}': kept: ${(error as Error).message}`);
          status = EXIT.FINDINGS;
        }
      }
    }
  }

  say(removed === 0 ? "uninstall: nothing to remove" : status === EXIT.OK ? "uninstall: done" : "uninstall: incomplete (see above)");
  return status;
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
