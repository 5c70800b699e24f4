// The watcher's Prometheus textfile (`watch --metrics-file`): written whole to a temporary file
// in the same directory and renamed over the target, mode 0644, so that node_exporter never
// reads half a file. Where the directory does not exist (node_exporter not installed), nothing
// is written: one line says so, once.
import { closeSync, existsSync, fchmodSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

export interface MetricsFile {
  write(text: string): void;
}

export function metricsFile(path: string, warn: (message: string) => void): MetricsFile {
  let said = false;
  const sayOnce = (message: string) => {
    if (!said) warn(message);
    said = true;
  };
  return {
    write(text) {
      const dir = dirname(path);
      if (!existsSync(dir)) return sayOnce(`metrics: not written: the directory ${dir} does not exist (is prometheus-node-exporter installed?)`);
      // A name node_exporter skips (it reads *.prom only), in the same directory for the rename.
      const temp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
      try {
        const fd = openSync(temp, "w", 0o644);
        try {
          fchmodSync(fd, 0o644); // whatever the umask: node_exporter reads it as another user
          writeSync(fd, text);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        renameSync(temp, path);
        said = false;
      } catch (error) {
        rmSync(temp, { force: true });
        sayOnce(`metrics: cannot write ${path}: ${(error as Error).message}`);
      }
    },
  };
}
