// `define-filter [FILE]`: with FILE, that filter; without, the shipped one and every custom one
// in /etc/nwfilter-hook/filters. The work is in src/host/nwfilter-define.ts, which `install` and
// the watcher share.
import { settingsFromEnv } from "../../core/settings.js";
import { defineFilterFile, describeDefine, filtersToDefine, readFilterFile } from "../../host/nwfilter-define.js";
import type { Context } from "../context.js";
import { EXIT } from "../errors.js";
import { shippedFilterPath } from "../paths.js";

export * from "../../host/nwfilter-define.js";

export interface DefineFilterOptions {
  uri: string;
  file: string | undefined;
}

export async function defineFilterCommand(ctx: Context, options: DefineFilterOptions): Promise<number> {
  // Every file is read and checked before libvirt is asked anything.
  const files = options.file !== undefined ? [readFilterFile(options.file)] : filtersToDefine(shippedFilterPath(ctx), settingsFromEnv(ctx.env).filtersDir);
  const virsh = ctx.virsh(options.uri);
  for (const file of files) ctx.stdout(`${describeDefine(await defineFilterFile(virsh, file))}\n`);
  return EXIT.OK;
}
