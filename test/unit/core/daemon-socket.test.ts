// src/core/daemon-socket.ts: which socket a connection URI leads to, and the listening sockets
// /proc/PID/net/unix lists.
import { describe, expect, it } from "vitest";
import { listeningUnixSockets, socketForUri, socketInode, uriParams } from "../../../src/core/daemon-socket.js";

const LEGACY = "/run/libvirt/libvirt-sock";
const DIRECT = "/run/libvirt/virtqemud-sock";

describe("socketForUri", () => {
  const none = () => false;
  const modular = (p: string) => p === DIRECT;

  it.each([
    // uri, sockets that exist, the socket
    ["qemu:///system", none, LEGACY],
    ["qemu+unix:///system", none, LEGACY],
    ["qemu:///system", modular, DIRECT],
    ["qemu:///system?mode=legacy", modular, LEGACY],
    ["qemu:///system?mode=direct", none, DIRECT],
    ["qemu+unix:///system?socket=/tmp/b/run/libvirt/libvirt-sock", modular, "/tmp/b/run/libvirt/libvirt-sock"],
    ["QEMU+UNIX:///system?socket=/tmp/b/sock", none, "/tmp/b/sock"],
    ["qemu+unix:///system?no_tty=1&socket=%2Ftmp%2Fa%20b%2Fsock&socket=/other", none, "/tmp/a b/sock"],
    ["qemu+unix:///system?socket=", none, LEGACY],
  ] as const)("%s leads to the local socket (%#)", (uri, exists, socket) => {
    expect(socketForUri(uri, exists)).toEqual({ kind: "local", socket, from: socket === LEGACY || socket === DIRECT ? "default" : "socket parameter" });
  });

  it("takes the default sockets from the given directory", () => {
    expect(socketForUri("qemu:///system", (p) => p === "/x/virtqemud-sock", "/x")).toMatchObject({ socket: "/x/virtqemud-sock" });
  });

  it.each([
    ["qemu+ssh://root@host2/system", /over ssh on host2: run nwfilter-hook on that host/],
    ["qemu://host2/system", /over tls on host2/],
    ["qemu+tcp://127.0.0.1:16509/system", /over tcp on 127\.0\.0\.1:16509/],
    ["qemu:///session", /not the system-mode qemu driver/],
    ["qemu:///embed?root=/tmp/x", /not the system-mode qemu driver/],
    ["lxc:///system", /not a qemu connection/],
    ["qemu+unix:///system?socket=relative/sock", /must be an absolute path/],
    ["system", /not a libvirt connection URI/],
  ])("%s reaches no local qemu daemon", (uri, why) => {
    const t = socketForUri(uri, () => true);
    expect(t.kind).toBe("elsewhere");
    expect(t.kind === "elsewhere" && t.why).toMatch(why);
  });
});

describe("uriParams", () => {
  it("decodes names and values, keeps the first of a repeated name, and survives bad escapes", () => {
    expect([...uriParams("a=1&b=%2F&a=2&&c&d=%zz")]).toEqual([
      ["a", "1"],
      ["b", "/"],
      ["c", ""],
      ["d", "%zz"],
    ]);
  });
});

describe("listeningUnixSockets", () => {
  // As the kernel writes it (net/unix/af_unix.c): flags 00010000 is __SO_ACCEPTCON.
  const text = [
    "Num       RefCount Protocol Flags    Type St Inode Path",
    "000000007e761510: 00000002 00000000 00010000 0001 01 114235 /run/libvirt/libvirt-sock",
    "00000000089e33c4: 00000002 00000000 00010000 0001 01 114236 /run/libvirt/libvirt-sock-ro",
    "00000000cf5ae235: 00000003 00000000 00000000 0001 03 114300 /run/libvirt/libvirt-sock",
    "0000000011111111: 00000002 00000000 00010000 0001 01 2000 @/tmp/.X11-unix/X0",
    "0000000022222222: 00000002 00000000 00000000 0002 01 2001",
    "0000000033333333: 00000002 00000000 00010000 0001 01 2002 /tmp/with space/sock",
    "",
  ].join("\n");

  it("lists the listening sockets bound to a path, by inode", () => {
    expect([...listeningUnixSockets(text)]).toEqual([
      [114235, "/run/libvirt/libvirt-sock"],
      [114236, "/run/libvirt/libvirt-sock-ro"],
      [2002, "/tmp/with space/sock"],
    ]);
  });

  it("is empty for an empty or foreign text", () => {
    expect(listeningUnixSockets("").size).toBe(0);
    expect(listeningUnixSockets("garbage\n1: 2\n").size).toBe(0);
  });
});

describe("socketInode", () => {
  it.each([
    ["socket:[115619]", 115619],
    ["pipe:[115619]", undefined],
    ["/dev/null", undefined],
    ["socket:[]", undefined],
  ])("%s -> %s", (link, inode) => {
    expect(socketInode(link)).toBe(inode);
  });
});
