"""Spawner and stopwatch for bench/run.mjs: runs the planned calls one at a time, timing each.

    python3 -I -S bench/timer.py < PLAN.json > RESULTS.jsonl

run.mjs starts this once per benchmark rather than timing spawnSync calls itself: spawning from
a ~50 MB Node process costs about a millisecond per call that is the harness's, not the hook's
(fork of a large process, the event loop, its pipes). glibc's posix_spawn clones vfork-style, so
its cost does not grow with the spawner, and this process stays small besides.

Plan (JSON on stdin):
    {"cwd": DIR, "env": {NAME: VALUE, ...},
     "rounds": [{"label": TEXT, "entries": [{"calls": [{"argv": [...], "stdin": FILE[, "env": {...}]}, ...]}, ...]}, ...]}
Every call gets exactly "env" (with its own "env" on top, when it has one) as its environment and
"cwd" as its working directory, FILE's bytes on its stdin, and pipes for stdout and stderr that
are read to the end. A call with "root": DIR runs in DIR (another system's root, for run.mjs
--root-node): this process chroots into DIR just before the spawn and back just after it, so the
call is spawned as every other one; its argv[0] and "cwd" are paths in DIR, FILE one outside.

Results (JSON lines on stdout, each written as soon as its entry is done):
    {"round": R, "entry": E, "calls": [CALL, ...]}    one line per entry, in plan order
    {"end": true, "spawner_rss_kib": N}               last line; with "error": {"round": R,
                                                      "entry": E, "call": C, "message": TEXT}
                                                      when a call could not be spawned
    CALL = {"ns": wall time from just before posix_spawn to after wait4 with all output read,
            "cpu_ns": user + system CPU time of the child and the children it waited for (wait4),
            "maxrss": ru_maxrss of wait4 (KiB), "status": exit code or null,
            "signal": "SIGxxx" or null, "stdout": OUT, "stderr": OUT[, "floor": true]}
    OUT = {"sha256": HEX, "len": BYTES[, "b64": BASE64]}
The bytes themselves ("b64") come the first time a call (argv and stdin) runs, and whenever they
differ from that first time: enough for every run to be checked, without megabytes of repeats.

A child's ru_maxrss cannot fall below the resident size of the process that spawned it: it runs
in the spawner's memory until its exec, and Linux records the high-water mark of that memory at
exec. So this process resets its own high-water mark before every spawn and keeps little in
memory; "spawner_rss_kib" is the largest resident size it had at a spawn, and a call whose
"maxrss" is not clearly above the resident size at its own spawn has "floor": that figure may
be this process's, the child's own peak is at most that.

Exit status: 0 (a call that could not be spawned ends the run with "error"), 2 a bad plan.
"""

import binascii
import gc
import json
import os
import select
import signal
import sys
import time

# CPython's own SHA-256 rather than hashlib's OpenSSL one: loading libcrypto adds about 4 MB to
# this process's resident size, and with it to the floor of every child's peak memory (below).
try:
    from _sha2 import sha256  # 3.12+
except ImportError:
    try:
        from _sha256 import sha256
    except ImportError:
        from hashlib import sha256

# A child must not inherit what this process ignores (SIGPIPE, SIGXFSZ): libvirt, like libuv,
# resets every disposition before exec.
DEFAULT_SIGNALS = frozenset(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP}
CHUNK = 1 << 16
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
# The resident size read before a spawn is not exactly the high-water mark the child inherits
# (the spawn itself touches a stack, Python allocates in between): a figure this close to it may
# be this process's rather than the child's.
FLOOR_SLACK_KIB = 1024


def which(name, env):
    """argv[0] resolved against the child's PATH, not this process's, as execvpe would."""
    if "/" in name:
        return name
    for d in env.get("PATH", os.defpath).split(os.pathsep):
        p = os.path.join(d or ".", name)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    raise FileNotFoundError(f"{name}: not found on PATH {env.get('PATH', '')}")


def reset_high_water():
    """Lower this process's peak RSS to its current RSS (Linux 4.0+), so that a transient
    allocation, such as a large output read earlier, does not count in the next child."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def resident_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE_KIB


def digest(data, first_hash):
    h = sha256(data).hexdigest()
    out = {"sha256": h, "len": len(data)}
    if h != first_hash:
        out["b64"] = binascii.b2a_base64(data, newline=False).decode("ascii")
    return out


def wait_status(status):
    if os.WIFSIGNALED(status):
        n = os.WTERMSIG(status)
        try:
            return None, signal.Signals(n).name
        except ValueError:
            return None, f"SIG{n}"
    return os.WEXITSTATUS(status), None


def enter(root, cwd):
    """Into `root` for one spawn (the child inherits the root and the working directory)."""
    os.chroot(root)
    os.chdir(cwd)


def leave(real_root, cwd):
    """Back out of a root entered with enter(): a chroot to the real root, through its descriptor."""
    os.fchdir(real_root)
    os.chroot(".")
    os.chdir(cwd)


def run(exe, argv, env, data, root=None, real_root=None, cwd="/"):
    """One call: (ns, resident KiB at spawn, rusage, wait status, stdout, stderr)."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    # os.pipe() makes close-on-exec descriptors: the child keeps only the dup2 copies.
    actions = [(os.POSIX_SPAWN_DUP2, in_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)]
    for fd in (in_w, out_r, err_r):
        os.set_blocking(fd, False)
    poller = select.poll()
    poller.register(out_r, select.POLLIN)
    poller.register(err_r, select.POLLIN)
    chunks = {out_r: [], err_r: []}
    view = memoryview(data)
    written = 0
    reset_high_water()
    floor = resident_kib()

    if root is not None:
        enter(root, cwd)
    t0 = time.perf_counter_ns()
    try:
        pid = os.posix_spawn(exe, argv, env, file_actions=actions, setsigmask=(), setsigdef=DEFAULT_SIGNALS)
    except BaseException:
        for fd in (in_r, in_w, out_r, out_w, err_r, err_w):
            os.close(fd)
        raise
    finally:
        # Three system calls inside the timed span: a few microseconds.
        if root is not None:
            leave(real_root, cwd)
    os.close(in_r)
    os.close(out_w)
    os.close(err_w)
    if data:
        poller.register(in_w, select.POLLOUT)
    else:
        os.close(in_w)
    open_fds = 3 if data else 2
    while open_fds:
        for fd, _ in poller.poll():
            if fd == in_w:
                try:
                    written += os.write(in_w, view[written:])
                except BlockingIOError:
                    continue
                except BrokenPipeError:
                    # The child closed its stdin unread: its right (libvirt ignores it too).
                    written = len(data)
                if written >= len(data):
                    poller.unregister(in_w)
                    os.close(in_w)
                    open_fds -= 1
            else:
                try:
                    chunk = os.read(fd, CHUNK)
                except BlockingIOError:
                    continue
                if chunk:
                    chunks[fd].append(chunk)
                else:
                    poller.unregister(fd)
                    os.close(fd)
                    open_fds -= 1
    _, status, rusage = os.wait4(pid, 0)
    ns = time.perf_counter_ns() - t0

    view.release()
    return ns, floor, rusage, status, b"".join(chunks[out_r]), b"".join(chunks[err_r])


def emit(obj):
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def main():
    try:
        plan = json.loads(sys.stdin.buffer.read())
        env = {str(k): str(v) for k, v in plan["env"].items()}
        cwd = plan["cwd"]
        os.chdir(cwd)
        rounds = plan["rounds"]
        # The way back out of a call's root; os.open makes it close-on-exec.
        real_root = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    except (ValueError, KeyError, TypeError, OSError) as e:
        sys.stderr.write(f"timer: bad plan: {e}\n")
        return 2
    # Whatever this process was given beyond stdio stays here: a child gets fds 0-2 only.
    for name in os.listdir("/proc/self/fd"):
        if int(name) > 2:
            try:
                os.set_inheritable(int(name), False)
            except OSError:
                pass
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # EPIPE as an error, not death
    # No collector pauses inside a timed call; nothing here makes reference cycles.
    gc.collect()
    gc.disable()

    exes = {}
    firsts = {}  # (argv, stdin) -> (stdout sha256, stderr sha256) of its first run
    floor_max = 0
    for r, rnd in enumerate(rounds):
        sys.stderr.write(f"\rbench: {rnd.get('label', f'round {r + 1}')}   ")
        sys.stderr.flush()
        for e, entry in enumerate(rnd["entries"]):
            calls = []
            for c, call in enumerate(entry["calls"]):
                argv = [str(a) for a in call["argv"]]
                root = call.get("root")
                key = json.dumps([argv, call.get("stdin"), root, call.get("env")])
                try:
                    if (root, argv[0]) not in exes:
                        # In a root, argv[0] is already its absolute path there (not looked up here).
                        exes[(root, argv[0])] = argv[0] if root is not None else which(argv[0], env)
                    data = b""
                    if call.get("stdin") is not None:
                        with open(call["stdin"], "rb") as f:
                            data = f.read()
                    call_env = env if "env" not in call else {**env, **{str(k): str(v) for k, v in call["env"].items()}}
                    ns, floor, rusage, status, out, err = run(exes[(root, argv[0])], argv, call_env, data, root, real_root, cwd)
                except OSError as x:
                    sys.stderr.write("\n")
                    emit({"round": r, "entry": e, "calls": calls})
                    emit({"end": True, "spawner_rss_kib": floor_max,
                          "error": {"round": r, "entry": e, "call": c, "message": f"cannot run {' '.join(argv)}: {x}"}})
                    return 0
                del data
                first = firsts.get(key, (None, None))
                code, sig = wait_status(status)
                calls.append({
                    "ns": ns, "cpu_ns": round((rusage.ru_utime + rusage.ru_stime) * 1e9),
                    "maxrss": rusage.ru_maxrss, "status": code, "signal": sig,
                    "stdout": digest(out, first[0]), "stderr": digest(err, first[1]),
                })
                if rusage.ru_maxrss <= floor + FLOOR_SLACK_KIB:
                    calls[-1]["floor"] = True
                del out, err
                firsts.setdefault(key, (calls[-1]["stdout"]["sha256"], calls[-1]["stderr"]["sha256"]))
                floor_max = max(floor_max, floor)
            # Written as they come, so that outputs do not pile up in this process's memory.
            emit({"round": r, "entry": e, "calls": calls})
            del calls
    sys.stderr.write("\n")
    emit({"end": True, "spawner_rss_kib": floor_max})
    return 0


if __name__ == "__main__":
    sys.exit(main())
