// A throw-away host in a temporary directory (files and empty directories), for the hook's
// warm-up (src/hook/warm-up.ts): the code that reads a policy, filters, networks and sysfs runs
// against it. Removed when the run ends, whatever happens.
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface SampleHost {
  /** The host's directory. */
  dir: string;
  /** Runs `use` with a file of the host open for reading, as the hook's stdin would be. */
  withInput(rel: string, use: (fd: number) => void): void;
}

export function withSampleHost(files: Readonly<Record<string, string>>, dirs: readonly string[], run: (host: SampleHost) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "nwfilter-hook-warm-up-"));
  try {
    for (const [rel, text] of Object.entries(files)) {
      mkdirSync(join(dir, rel, ".."), { recursive: true });
      writeFileSync(join(dir, rel), text, { mode: 0o644 });
    }
    for (const rel of dirs) mkdirSync(join(dir, rel), { recursive: true });
    run({
      dir,
      withInput(rel, use) {
        const fd = openSync(join(dir, rel), "r");
        try {
          use(fd);
        } finally {
          closeSync(fd);
        }
      },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
