// `watch`: runs the watcher (src/watch/) in the foreground until SIGTERM; SIGHUP re-reads the
// policy. A policy that does not parse at start-up is refused here with the usual one line.
import { settingsFromEnv } from "../../core/settings.js";
import { Watcher, defaultConfigDir } from "../../watch/watcher.js";
import { watchLogger } from "../../watch/log.js";
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
}

/** Environment variable for tests: hold each define this many ms after reading the definition. */
export const ENV_TEST_DEFINE_DELAY = "NWFILTER_HOOK_TEST_DEFINE_DELAY_MS";

export function watch(ctx: Context, options: WatchOptions): number {
  const location = policyLocation(ctx, options.policy, options.hooksDir);
  const policy = readPolicy(ctx, location);
  const delay = ctx.env[ENV_TEST_DEFINE_DELAY];
  if (delay !== undefined && !/^\d+$/.test(delay)) throw new UsageError(`${ENV_TEST_DEFINE_DELAY}: expected milliseconds, got '${delay}'`);
  const log = watchLogger({ syslog: options.syslog });
  const watcher = new Watcher({
    uri: options.uri,
    policyPath: location.path,
    policy,
    settings: settingsFromEnv(ctx.env),
    statusPath: options.statusFile ?? watchStatusPath(ctx),
    shippedFilter: shippedFilterPath(ctx),
    configDir: ctx.env.NWFILTER_HOOK_QEMU_CONFIG_DIR || defaultConfigDir(options.uri),
    env: { ...ctx.env },
    euid: ctx.euid,
    log,
    defineDelayMs: delay === undefined ? undefined : Number(delay),
  });
  watcher.start().then(
    (code) => {
      log.close();
      process.exitCode = code;
    },
    (error: unknown) => {
      // A bug: the watcher's own failures are logged and retried inside it, never thrown here.
      log.close();
      ctx.stderr(`nwfilter-hook: internal error in the watcher: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = EXIT.INTERNAL;
    },
  );
  return EXIT.OK;
}
