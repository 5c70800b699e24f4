// Which local socket a libvirt connection URI leads to, and which listening UNIX sockets a
// process holds: the pure half of finding the daemon that a `-c URI` reaches (src/host/daemon.ts
// does the looking in /proc). A pid file cannot answer that question: a private daemon in its
// own mount namespace may see the system daemon's /run/libvirtd.pid.

/** Where libvirt's system-mode daemons put their sockets. */
export const DEFAULT_SOCKET_DIR = "/run/libvirt";

export type UriTarget =
  /** The URI reaches a daemon on this host through the UNIX socket `socket` (as this process sees it). */
  | { kind: "local"; socket: string; from: "socket parameter" | "default" }
  /** It reaches no daemon on this host whose hooks we could install: `why` says so to an admin. */
  | { kind: "elsewhere"; why: string };

// driver[+transport]://[user@]host[:port]/path[?query]; libvirt's own URI grammar.
const URI = /^([A-Za-z][A-Za-z0-9.-]*?)(?:\+([A-Za-z0-9-]+))?:\/\/([^/?#]*)(\/[^?#]*)?(?:\?([^#]*))?(?:#.*)?$/;

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The URI's query parameters, decoded; the first of a repeated name wins. */
export function uriParams(query: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const part of query.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const name = decode(eq < 0 ? part : part.slice(0, eq));
    if (!params.has(name)) params.set(name, decode(eq < 0 ? "" : part.slice(eq + 1)));
  }
  return params;
}

/**
 * The socket `virsh -c uri` connects to, following libvirt's remote driver: `?socket=PATH`
 * when given; otherwise, for `qemu:///system`, the modular daemon's `virtqemud-sock` when it
 * exists (or `?mode=direct`), else the monolithic daemon's `libvirt-sock` (or `?mode=legacy`).
 * (libvirt.conf's `remote_mode`, rarely set, is not consulted.)
 */
export function socketForUri(uri: string, socketExists: (path: string) => boolean, socketDir = DEFAULT_SOCKET_DIR): UriTarget {
  const m = URI.exec(uri.trim());
  if (!m) return { kind: "elsewhere", why: `'${uri}' is not a libvirt connection URI` };
  const [, driver = "", explicitTransport, authority = "", path = "", query = ""] = m;
  const host = authority.replace(/^[^@]*@/, "");
  const transport = (explicitTransport ?? (host === "" ? "unix" : "tls")).toLowerCase();
  if (transport !== "unix")
    return { kind: "elsewhere", why: `${uri} reaches a daemon over ${transport}${host ? ` on ${host}` : ""}: run nwfilter-hook on that host` };
  if (driver.toLowerCase() !== "qemu") return { kind: "elsewhere", why: `${uri} is not a qemu connection (qemu hooks are run by the qemu driver)` };
  if (path !== "/system") {
    return { kind: "elsewhere", why: `${uri} is not the system-mode qemu driver (qemu:///system): its daemon's hooks are not in a system hooks directory` };
  }
  const params = uriParams(query);
  const socket = params.get("socket");
  if (socket !== undefined && socket !== "") {
    if (!socket.startsWith("/")) return { kind: "elsewhere", why: `${uri}: the socket parameter must be an absolute path` };
    return { kind: "local", socket, from: "socket parameter" };
  }
  const direct = `${socketDir}/virtqemud-sock`;
  const legacy = `${socketDir}/libvirt-sock`;
  const mode = params.get("mode") ?? "auto";
  if (mode === "direct") return { kind: "local", socket: direct, from: "default" };
  if (mode === "legacy") return { kind: "local", socket: legacy, from: "default" };
  return { kind: "local", socket: socketExists(direct) ? direct : legacy, from: "default" };
}

/**
 * The listening sockets bound to a path, from the text of /proc/PID/net/unix: inode -> path.
 * A listening socket has __SO_ACCEPTCON (0x10000) in its flags; abstract ones (`@...`) and
 * unbound ones have no path and are left out.
 */
export function listeningUnixSockets(procNetUnix: string): Map<number, string> {
  const sockets = new Map<number, string>();
  for (const line of procNetUnix.split("\n")) {
    // Num: RefCount Protocol Flags Type St Inode Path (the path may hold spaces).
    const m = /^\s*[0-9a-fA-F]+:\s+[0-9a-fA-F]+\s+[0-9a-fA-F]+\s+([0-9a-fA-F]+)\s+[0-9a-fA-F]+\s+[0-9a-fA-F]+\s+(\d+)\s(\/.*)$/.exec(line);
    if (!m) continue;
    const [, flags = "0", inode = "0", path = ""] = m;
    if ((Number.parseInt(flags, 16) & 0x10000) === 0) continue;
    sockets.set(Number(inode), path);
  }
  return sockets;
}

/** The socket inode of a /proc/PID/fd/N link target (`socket:[12345]`), if it is a socket. */
export function socketInode(linkTarget: string): number | undefined {
  const m = /^socket:\[(\d+)\]$/.exec(linkTarget);
  return m ? Number(m[1]) : undefined;
}
