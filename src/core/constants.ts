// Names and defaults shared by the hook and the admin CLI. Several are fixed by outside tests
// (see DESIGN.md "Names"): change them only together with the design.

export const PRODUCT = "nwfilter-hook";
export const DEFAULT_FILTER = "vdsm-no-mac-spoofing";
export const METADATA_NS = "urn:nwfilter-hook:1";

export const DEFAULT_POLICY_PATH = "/etc/nwfilter-hook/policy.ini";
export const DEFAULT_NETWORK_DIRS = ["/run/libvirt/network", "/etc/libvirt/qemu/networks"];
export const DEFAULT_NWFILTER_DIR = "/etc/libvirt/nwfilter";
export const DEFAULT_SYSFS_NET = "/sys/class/net";
/** The admin's own filters, defined by `install` and `define-filter` beside the shipped one. */
export const DEFAULT_FILTERS_DIR = "/etc/nwfilter-hook/filters";

export const ENV_POLICY = "NWFILTER_HOOK_POLICY";
export const ENV_NETWORK_DIRS = "NWFILTER_HOOK_NETWORK_DIRS";
export const ENV_NWFILTER_DIR = "NWFILTER_HOOK_NWFILTER_DIR";
export const ENV_SYSFS_NET = "NWFILTER_HOOK_SYSFS_NET";
export const ENV_FILTERS_DIR = "NWFILTER_HOOK_FILTERS_DIR";
/** Set by the installed hook's shell line: the descriptor of the pipe its syslog lines go to. */
export const ENV_LOG_FD = "NWFILTER_HOOK_LOG_FD";

/** The feature exists from this cluster level on (oVirt's EnableMACAntiSpoofingFilterRules). */
export const MIN_CLUSTER_LEVEL = "3.2";

/** Domain XML larger than this is refused: libvirt's own limit for a domain is far below it. */
export const MAX_XML_BYTES = 16 * 1024 * 1024;

/** Interface types on which libvirt honours a <filterref>. */
export const FILTERABLE_TYPES: ReadonlySet<string> = new Set(["bridge", "ethernet", "network"]);

/** Forward modes of a libvirt network that hand the guest a macvtap device. */
export const MACVTAP_FORWARD_MODES: ReadonlySet<string> = new Set(["bridge", "private", "vepa", "passthrough"]);

/** The libvirt connection the CLI and the watcher use unless told otherwise. */
export const DEFAULT_URI = "qemu:///system";
/** The watcher's status file: read by the hook (OnMissing=watch) and by `check`. */
export const DEFAULT_WATCH_STATUS = "/run/nwfilter-hook/watch.json";
/** The watcher probes libvirt and rewrites its status this often. */
export const WATCH_HEARTBEAT_MS = 5_000;
/** A status older than this means the watcher is stuck or gone. */
export const WATCH_STALE_MS = 20_000;
/**
 * How long a live watcher that waits to (re)connect to libvirt still covers a start under
 * OnMissing=watch (its first act once connected is a resync of every domain): at boot, libvirtd
 * starts autostart domains before it lets any client in.
 */
export const WATCH_CONNECT_GRACE_MS = 120_000;
