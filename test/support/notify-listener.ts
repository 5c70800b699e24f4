// A stand-in for systemd's notification socket (sd_notify(3)), for tests: a python3 script that
// binds a unix datagram socket at argv[1], prints "listening", then one JSON line per message:
// the sender's pid (SCM_CREDENTIALS, as systemd reads it), the text, and when it came (ms since
// the epoch). File descriptors that come with a message (systemd-notify's barrier) are closed at
// once, as systemd does once it has read the message: that is what systemd-notify waits for.
export const NOTIFY_LISTENER = `
import array, json, os, socket, struct, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    msg, anc, _flags, _addr = s.recvmsg(4096, socket.CMSG_SPACE(12) + socket.CMSG_SPACE(64))
    pid = None
    for level, kind, data in anc:
        if kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", data[:12])[0]
        elif kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(data[: len(data) - len(data) % 4])
            for fd in fds:
                os.close(fd)
    print(json.dumps({"pid": pid, "text": msg.decode(), "at": int(time.time() * 1000)}), flush=True)
`;
