// What the suites ask of any libvirtd they drive through virsh, whatever runs it: a private daemon
// of the machine's libvirt (two-daemons.ts) or Debian 13's in its root (trixie-root.ts). Each says
// how it runs virsh and where its qemu logs are; the rest is shared.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { VirshError } from "./libvirt.js";

/** virsh's ways of saying that a domain is not there (or not running) any more. */
export const GONE = /failed to get domain|Domain not found|domain is not running|no domain with matching/i;

export abstract class VirshHost {
  /** `virsh ARGS` against this daemon; throws VirshError with virsh's stderr. */
  abstract virsh(...args: string[]): string;
  /** Where virsh ran, for messages: "against URI", "inside the trixie root". */
  protected abstract readonly where: string;
  /** The directory of its qemu domains' logs, as this process reaches it. */
  protected abstract readonly qemuLogDir: string;

  /** A virsh command that must fail; returns its error. */
  virshFails(...args: string[]): VirshError {
    try {
      this.virsh(...args);
    } catch (error) {
      if (error instanceof VirshError) return error;
      throw error;
    }
    throw new Error(`virsh ${args.join(" ")} succeeded ${this.where}; it was expected to fail`);
  }

  domState(name: string): string {
    return this.virsh("domstate", name).trim();
  }

  /** The domain's qemu log, as this daemon wrote it. */
  qemuLog(name: string): string {
    return readFileSync(join(this.qemuLogDir, `${name}.log`), "utf8");
  }

  /** Destroys and undefines the domain where it exists. */
  removeDomain(name: string): void {
    for (const args of [
      ["destroy", name],
      ["undefine", "--managed-save", name],
    ]) {
      try {
        this.virsh(...args);
      } catch (error) {
        if (!(error instanceof VirshError && GONE.test(error.stderr))) throw error;
      }
    }
  }
}
