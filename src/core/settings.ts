// Where the hook and the CLI find the policy, the host facts and the custom filters: the
// defaults, or the NWFILTER_HOOK_* overrides for tests and unusual installs.
import {
  DEFAULT_FILTERS_DIR,
  DEFAULT_NETWORK_DIRS,
  DEFAULT_NWFILTER_DIR,
  DEFAULT_POLICY_PATH,
  DEFAULT_SYSFS_NET,
  ENV_FILTERS_DIR,
  ENV_NETWORK_DIRS,
  ENV_NWFILTER_DIR,
  ENV_POLICY,
  ENV_SYSFS_NET,
} from "./constants.js";

export interface Settings {
  policyPath: string;
  networkDirs: string[];
  nwfilterDir: string;
  sysfsNet: string;
  /** The admin's custom filters (/etc/nwfilter-hook/filters). */
  filtersDir: string;
}

export type Env = Readonly<Record<string, string | undefined>>;

export function settingsFromEnv(env: Env): Settings {
  const set = (name: string) => {
    const v = env[name];
    return v === undefined || v === "" ? undefined : v;
  };
  return {
    policyPath: set(ENV_POLICY) ?? DEFAULT_POLICY_PATH,
    networkDirs:
      set(ENV_NETWORK_DIRS)
        ?.split(":")
        .filter((d) => d !== "") ?? DEFAULT_NETWORK_DIRS,
    nwfilterDir: set(ENV_NWFILTER_DIR) ?? DEFAULT_NWFILTER_DIR,
    sysfsNet: set(ENV_SYSFS_NET) ?? DEFAULT_SYSFS_NET,
    filtersDir: set(ENV_FILTERS_DIR) ?? DEFAULT_FILTERS_DIR,
  };
}
