// HostFacts read from the file system: libvirt's network definitions, sysfs, nwfilter files.
// Reading files only: a hook must never call libvirt, which would deadlock the daemon.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { HostError } from "../core/errors.js";
import type { BridgeKind, HostFacts } from "../core/host-facts.js";
import type { Settings } from "../core/settings.js";

/** A name that is safe to use as one path component (no "/", no "." or ".."). */
function safeName(name: string): boolean {
  return name !== "" && name !== "." && name !== ".." && !name.includes("/") && !name.includes("\0");
}

export function nodeHostFacts(settings: Settings): HostFacts {
  // Many NICs share a few bridges: ask sysfs once per name.
  const bridges = new Map<string, BridgeKind>();
  return {
    network(name) {
      if (!safeName(name)) return undefined;
      for (const dir of settings.networkDirs) {
        const path = join(dir, `${name}.xml`);
        try {
          return { path, text: readFileSync(path, "utf8") };
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === "ENOENT" || code === "ENOTDIR") continue;
          throw new HostError(`cannot read network definition: ${(error as Error).message}`, { file: path });
        }
      }
      return undefined;
    },
    bridge(name): BridgeKind {
      let kind = bridges.get(name);
      if (kind === undefined) {
        kind = bridgeKind(settings.sysfsNet, name);
        bridges.set(name, kind);
      }
      return kind;
    },
    filterDefined(name) {
      return safeName(name) && existsSync(join(settings.nwfilterDir, `${name}.xml`));
    },
    filter(name) {
      if (!safeName(name)) return undefined;
      const path = join(settings.nwfilterDir, `${name}.xml`);
      try {
        return { path, text: readFileSync(path, "utf8") };
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTDIR") return undefined;
        throw new HostError(`cannot read the nwfilter definition: ${(error as Error).message}`, { file: path });
      }
    },
  };
}

function bridgeKind(sysfsNet: string, name: string): BridgeKind {
  // An unsafe or unknown name counts as absent: eligible, and libvirt will judge the rest.
  if (!safeName(name)) return "absent";
  const dev = join(sysfsNet, name);
  if (!statSync(dev, { throwIfNoEntry: false })) return "absent";
  return statSync(join(dev, "bridge"), { throwIfNoEntry: false }) ? "linux" : "other";
}

/** The names of the networks defined here (NAME.xml in the network directories), each once, sorted. */
export function networkNames(settings: Settings): string[] {
  const names = new Set<string>();
  for (const dir of settings.networkDirs) {
    let files: string[];
    try {
      files = readdirSync(dir);
    } catch {
      continue; // a directory that is not there holds no networks
    }
    for (const f of files) if (f.endsWith(".xml") && safeName(f.slice(0, -4))) names.add(f.slice(0, -4));
  }
  return [...names].sort();
}
