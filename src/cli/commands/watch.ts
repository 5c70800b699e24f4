// `watch`: runs the watcher (src/watch/) in the foreground until SIGTERM; SIGHUP re-reads the
// policy. A policy that does not parse at start-up is refused here with the usual one line.
import { settingsFromEnv } from "../../core/settings.js";
import { sleep } from "../../host/stdio.js";
import { Watcher } from "../../watch/watcher.js";
import { watchLogger } from "../../watch/log.js";
import { countingLogger, renderMetrics } from "../../watch/metrics.js";
import { metricsFile } from "../../host/metrics-file.js";
import { defaultConfigDir, systemWatcherDeps } from "../../watch/watcher-deps.js";
import type { Context } from "../context.js";
import { EXIT, UsageError } from "../errors.js";
import { shippedFilterPath } from "../paths.js";
import { policyLocation, readPolicy } from "../policy.js";
import { watchStatusPath } from "../watch-service.js";

export interface WatchOptions {
  policy: string | undefined;
  hooksDir: string;
  uri: string;
  statusFile: string | undefined;
  syslog: boolean;
  /** Where to write the Prometheus textfile (--metrics-file, else NWFILTER_HOOK_METRICS_FILE); none when unset. */
  metricsFile?: string | undefined;
}

/** The Prometheus textfile's path, when --metrics-file is not given; unset (or empty): none. */
export const ENV_METRICS_FILE = "NWFILTER_HOOK_METRICS_FILE";

/** Environment variable for tests: hold each define this many ms after reading the definition. */
export const ENV_TEST_DEFINE_DELAY = "NWFILTER_HOOK_TEST_DEFINE_DELAY_MS";
/** Environment variable for tests: this many ms after start, block the event loop for good (a hung watcher). */
export const ENV_TEST_BLOCK_LOOP = "NWFILTER_HOOK_TEST_BLOCK_LOOP_AFTER_MS";

function milliseconds(ctx: Context, name: string): number | undefined {
  const value = ctx.env[name];
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`${name}: expected milliseconds, got '${value}'`);
  return Number(value);
}

export async function watch(ctx: Context, options: WatchOptions): Promise<number> {
  const location = policyLocation(ctx, options.policy, options.hooksDir);
  const policy = readPolicy(ctx, location);
  const delay = milliseconds(ctx, ENV_TEST_DEFINE_DELAY);
  const blockAfter = milliseconds(ctx, ENV_TEST_BLOCK_LOOP);
  const metricsPath = options.metricsFile ?? (ctx.env[ENV_METRICS_FILE] || undefined);
  const writer = watchLogger({ syslog: options.syslog });
  // The errors counter comes from what the watcher logs, the rest from its status (src/watch/metrics.ts).
  const log = Object.assign(countingLogger(writer), { close: () => writer.close() });
  const env = { ...ctx.env };
  const deps = systemWatcherDeps(env, ctx.euid, log);
  if (metricsPath !== undefined) {
    const file = metricsFile(metricsPath, (message) => log("warning", message));
    const writeStatus = deps.writeStatus.bind(deps);
    deps.writeStatus = (path, status) => {
      writeStatus(path, status);
      file.write(renderMetrics({ status, ...log.counts() }));
    };
  }
  const watcher = new Watcher(
    {
      uri: options.uri,
      policyPath: location.path,
      policy,
      settings: settingsFromEnv(ctx.env),
      statusPath: options.statusFile ?? watchStatusPath(ctx),
      shippedFilter: shippedFilterPath(ctx),
      configDir: ctx.env.NWFILTER_HOOK_QEMU_CONFIG_DIR || defaultConfigDir(options.uri, env),
      env,
      log,
      defineDelayMs: delay,
    },
    deps,
  );
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => void watcher.stop(signal));
  process.on("SIGHUP", () => watcher.reload());
  // A crash must not leave `virsh event` behind (systemd's cgroup would, a plain shell not).
  process.on("exit", () => watcher.abandon());
  if (blockAfter !== undefined) {
    setTimeout(() => {
      log("warning", `blocking the event loop for good (${ENV_TEST_BLOCK_LOOP})`);
      for (;;) sleep(60_000);
    }, blockAfter).unref();
  }
  try {
    return await watcher.start();
  } catch (error) {
    // A bug: the watcher's own failures are logged and retried inside it, never thrown here.
    ctx.stderr(`nwfilter-hook: internal error in the watcher: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.INTERNAL;
  } finally {
    log.close();
  }
}
