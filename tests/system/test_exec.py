"""The exec service: framed remote commands (docs/PROTOCOL.md, "exec").

Most tests speak plaintext frames over a unix socket or loopback with
--exec-insecure 1, through the small client below, so that every byte on
the wire is the test's own; TLS is checked against OpenSSL's s_client."""
import fcntl
import hashlib
import os
import re
import signal
import socket
import struct
import subprocess
import time

import pytest

from conftest import read_line, sockit

HELLO = struct.pack("!BBHI", 1, 0, 6, 0) + b"\x89SKX\x00\x01"
T_HELLO, T_ERROR, T_EXEC, T_EXEC_OK, T_STDIN, T_STDOUT, T_STDERR, T_EXIT, \
    T_SIGNAL, T_WINDOW, T_RESET = range(1, 12)
WINDOW = 256 * 1024


def frame(t, stream, payload=b"", flags=0):
    return struct.pack("!BBHI", t, flags, len(payload), stream) + payload


def s16(b):
    return struct.pack("!H", len(b)) + b


def exec_frame(stream, argv, env=(), cwd=b"", timeout_ms=0, shell=False):
    p = struct.pack("!IHH", timeout_ms, len(argv), len(env)) + s16(cwd)
    for a in argv + list(env):
        p += s16(a)
    return frame(T_EXEC, stream, p, 1 if shell else 0)


class Client:
    """Plaintext frames over a socket; collects what arrives per stream."""

    def __init__(self, addr, family=socket.AF_UNIX, hello=True):
        self.s = socket.socket(family, socket.SOCK_STREAM)
        self.s.settimeout(20)
        self.s.connect(addr)
        self.buf = b""
        if hello:
            self.s.sendall(HELLO)
            t, _, st, p = self.next()
            assert (t, st, p) == (T_HELLO, 0, b"\x89SKX\x00\x01")

    def send(self, data):
        self.s.sendall(data)

    def next(self):
        """The next frame (type, flags, stream, payload), or None at EOF."""
        while True:
            if len(self.buf) >= 8:
                t, fl, n, st = struct.unpack("!BBHI", self.buf[:8])
                if len(self.buf) >= 8 + n:
                    p = self.buf[8:8 + n]
                    self.buf = self.buf[8 + n:]
                    return t, fl, st, p
            d = self.s.recv(65536)
            if not d:
                return None
            self.buf += d

    def run(self, stream, credit=True):
        """Collect a stream to its end: (out, err, end frame)."""
        out, err = b"", b""
        while True:
            f = self.next()
            assert f is not None, "EOF before the stream ended"
            t, fl, st, p = f
            if st != stream:
                continue
            if t in (T_STDOUT, T_STDERR):
                if t == T_STDOUT:
                    out += p
                else:
                    err += p
                if credit:
                    self.send(frame(T_WINDOW, stream, struct.pack("!I", len(p))))
            elif t == T_EXEC_OK:
                continue
            elif t == T_WINDOW:
                continue
            else:
                return out, err, (t, p)

    def close(self):
        self.s.close()


def exit_code(n):
    return (T_EXIT, bytes([0, n]))


def exit_signal(name, core=0):
    return (T_EXIT, bytes([1, core]) + name)


def error(code, text=None):
    return code, text


@pytest.fixture
def ex(serve, tmp_path):
    """An exec server on a unix socket, plaintext; returns (server, path)."""
    path = str(tmp_path / "exec.sock")
    s = serve("exec=unix:" + path, "--exec-insecure", "1")
    return s, path


def procs_with(marker):
    """PIDs whose command line holds marker."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def wait_gone(marker, timeout=10):
    deadline = time.monotonic() + timeout
    while procs_with(marker):
        assert time.monotonic() < deadline, "still running: %s" % marker
        time.sleep(0.05)


def zombies_of(pid):
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/status" % p) as f:
                st = f.read()
        except OSError:
            continue
        if re.search(r"^PPid:\s+%d$" % pid, st, re.M) and \
                re.search(r"^State:\s+Z", st, re.M):
            out.append(int(p))
    return out


# ---- commands ----

def test_argv_stdout_stderr_and_exit_code_exact(ex):
    s, path = ex
    c = Client(path)
    c.send(exec_frame(1, [b"sh", b"-c", b'printf "%s|" "$@"; printf E >&2; exit 3',
                          b"sh", b"a b", b"", b"c"]) + frame(T_STDIN, 1, flags=1))
    assert c.next()[:3] == (T_EXEC_OK, 0, 1)
    out, err, end = c.run(1)
    assert out == b"a b||c|"
    assert err == b"E"
    assert end == exit_code(3)
    assert zombies_of(s.proc.pid) == []


def test_shell_line_and_policy(serve, tmp_path):
    path = str(tmp_path / "e.sock")
    serve("exec=unix:" + path, "--exec-insecure", "1")
    c = Client(path)
    c.send(exec_frame(1, [b"echo $((6*7)) | tr 4 X"], shell=True))
    assert c.run(1) == (b"X2\n", b"", exit_code(0))
    path2 = str(tmp_path / "e2.sock")
    serve("exec=unix:" + path2, "--exec-insecure", "1", "--exec-shell", "0")
    c2 = Client(path2)
    c2.send(exec_frame(1, [b"echo hi"], shell=True))
    t, fl, st, p = c2.next()
    assert (t, st) == (T_ERROR, 1)
    assert p == struct.pack("!H", 9) + b"this server runs no shell lines"
    # The connection goes on.
    c2.send(exec_frame(2, [b"echo", b"argv ok"]))
    assert c2.run(2) == (b"argv ok\n", b"", exit_code(0))


def test_killed_by_signal_and_not_found(ex):
    s, path = ex
    c = Client(path)
    c.send(exec_frame(1, [b"sh", b"-c", b"kill -TERM $$"]))
    assert c.run(1)[2] == exit_signal(b"TERM")
    c.send(exec_frame(2, [b"no-such-command-xyz"]))
    t, fl, st, p = c.next()
    assert (t, st) == (T_ERROR, 2)
    assert p == struct.pack("!H", 7) + b"no-such-command-xyz: No such file or directory"
    c.send(exec_frame(3, [b"/etc/passwd"]))
    t, fl, st, p = c.next()
    assert (t, st) == (T_ERROR, 3) and p[:2] == struct.pack("!H", 8)  # PERMISSION


def test_binary_output_and_stdin(ex):
    s, path = ex
    c = Client(path)
    data = bytes(range(256)) * 4096  # 1 MiB with every byte value, NULs too
    c.send(exec_frame(1, [b"cat"]))
    # Send stdin within the server's credit, as a client must.
    credit, sent, out = WINDOW, 0, b""
    while sent < len(data):
        n = min(16384, credit, len(data) - sent)
        if n > 0:
            c.send(frame(T_STDIN, 1, data[sent:sent + n]))
            sent += n
            credit -= n
            continue
        t, fl, st, p = c.next()
        if t == T_WINDOW:
            credit += struct.unpack("!I", p)[0]
        elif t == T_STDOUT:
            out += p
            c.send(frame(T_WINDOW, 1, struct.pack("!I", len(p))))
    c.send(frame(T_STDIN, 1, flags=1))
    rest, err, end = c.run(1)
    assert hashlib.sha256(out + rest).hexdigest() == hashlib.sha256(data).hexdigest()
    assert (err, end) == (b"", exit_code(0))


def test_stdin_beyond_credit_is_a_flow_error(ex):
    s, path = ex
    c = Client(path)
    c.send(exec_frame(1, [b"sleep", b"5"]))
    assert c.next()[0] == T_EXEC_OK
    # sleep reads nothing: the credit that comes back is what the pipe
    # absorbs (64 KiB here), so twice the window is surely over it.
    chunk = b"x" * 16384
    for _ in range(2 * WINDOW // 16384):
        c.send(frame(T_STDIN, 1, chunk))
    while True:
        f = c.next()
        if f[0] == T_ERROR:
            break
    assert f[2] == 0 and f[3][:2] == struct.pack("!H", 5)  # FLOW
    assert c.next() is None


def test_many_commands_on_one_connection(ex):
    s, path = ex
    c = Client(path)
    for i in range(1, 9):
        c.send(exec_frame(i, [b"sh", b"-c", b"for j in 1 2 3; do echo %d.$j; done" % i]))
    outs = {i: b"" for i in range(1, 9)}
    ends = {}
    while len(ends) < 8:
        t, fl, st, p = c.next()
        if t == T_STDOUT:
            outs[st] += p
            c.send(frame(T_WINDOW, st, struct.pack("!I", len(p))))
        elif t == T_EXIT:
            ends[st] = p
    for i in range(1, 9):
        assert outs[i] == b"%d.1\n%d.2\n%d.3\n" % (i, i, i)
        assert ends[i] == b"\x00\x00"


def test_too_many_commands_is_an_error_not_a_disconnect(serve, tmp_path):
    path = str(tmp_path / "e.sock")
    serve("exec=unix:" + path, "--exec-insecure", "1", "--exec-max-per-conn", "2")
    c = Client(path)
    c.send(exec_frame(1, [b"sleep", b"30"]) + exec_frame(2, [b"sleep", b"30"]) +
           exec_frame(3, [b"true"]))
    got = [c.next() for _ in range(3)]
    assert (T_ERROR, 3) in [(f[0], f[2]) for f in got]
    err = [f for f in got if f[0] == T_ERROR][0]
    assert err[3][:2] == struct.pack("!H", 6)  # TOO_MANY
    c.send(frame(T_RESET, 1, struct.pack("!H", 12)))
    c.send(exec_frame(4, [b"echo", b"four"]))
    assert c.run(4) == (b"four\n", b"", exit_code(0))
    c.send(frame(T_RESET, 2, struct.pack("!H", 12)))


# ---- processes never outlive their command ----

def test_timeout_kills_a_grandchild(ex):
    s, path = ex
    c = Client(path)
    c.send(exec_frame(1, [b"sh", b"-c", b"sleep 913417 & wait"], timeout_ms=300))
    t0 = time.monotonic()
    out, err, end = c.run(1)
    assert end[0] == T_ERROR and end[1][:2] == struct.pack("!H", 10)  # TIMEOUT
    assert time.monotonic() - t0 < 10
    wait_gone("913417")


def test_background_processes_go_with_their_command(ex):
    s, path = ex
    c = Client(path)
    c.send(exec_frame(1, [b"sh", b"-c", b"sleep 913418 >/dev/null 2>&1 & echo started"]))
    assert c.run(1) == (b"started\n", b"", exit_code(0))
    wait_gone("913418")


def test_client_killed_mid_stream_takes_its_commands(ex):
    s, path = ex
    c = Client(path)
    c.send(exec_frame(1, [b"sh", b"-c", b"echo up; exec sleep 913419"]))
    assert c.next()[0] == T_EXEC_OK
    assert c.next()[3] == b"up\n"
    c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()  # a reset, as a killed client gives
    wait_gone("913419")
    # The server serves the others.
    c2 = Client(path)
    c2.send(exec_frame(1, [b"echo", b"still here"]))
    assert c2.run(1) == (b"still here\n", b"", exit_code(0))
    assert zombies_of(s.proc.pid) == []


def test_client_leaving_with_commands_ending_leaves_the_server_up(ex):
    """A connection that closes while its commands end: once closing, the
    connection is no longer found by its id, and a command ending in that
    window must still leave its list (it was freed on it, and the server
    crashed when the connection's close walked the list)."""
    s, path = ex
    for _ in range(40):
        c = Client(path)
        c.send(b"".join(exec_frame(i, [b"true"]) + frame(T_STDIN, i, flags=1)
                        for i in range(1, 33, 2)))
        while c.next()[0] != T_EXIT:
            pass
        c.close()
    c = Client(path)
    c.send(exec_frame(1, [b"echo", b"still here"]))
    assert c.run(1) == (b"still here\n", b"", exit_code(0))


def test_shutdown_kills_commands_and_says_so(serve, tmp_path):
    path = str(tmp_path / "e.sock")
    s = serve("exec=unix:" + path, "--exec-insecure", "1")
    c = Client(path)
    c.send(exec_frame(1, [b"sleep", b"913420"]))
    assert c.next()[0] == T_EXEC_OK
    s.proc.send_signal(signal.SIGTERM)
    t, fl, st, p = c.next()
    assert (t, st) == (T_ERROR, 1) and p[:2] == struct.pack("!H", 13)  # SHUTDOWN
    assert c.next() is None
    assert s.proc.wait(10) == 0
    wait_gone("913420")


def stdout_until_quiet(c):
    """STDOUT payload bytes the server sends until 2 s pass without a
    frame: all of it, for a client that grants no credit."""
    got = 0
    c.s.settimeout(2)
    try:
        while True:
            t, fl, st, p = c.next()
            if t == T_STDOUT:
                got += len(p)
    except socket.timeout:
        pass
    return got


def test_flow_control_stops_a_command_the_client_does_not_read(ex):
    """`yes` against a client that never grants credit: the server sends
    one window and stops reading the pipe, so yes blocks in its write and
    the server's memory stays put."""
    s, path = ex
    c = Client(path)
    c.send(exec_frame(1, [b"sh", b"-c", b"exec yes 913421"]))
    assert stdout_until_quiet(c) == WINDOW
    pids = procs_with("913421")
    assert len(pids) == 1
    with open("/proc/%d/stat" % pids[0]) as f:
        state = f.read().rsplit(")", 1)[1].split()[0]
    assert state == "S"  # blocked in write, not spinning
    with open("/proc/%d/status" % s.proc.pid) as f:
        rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
    assert rss < 64 * 1024
    c.s.settimeout(20)
    c.send(frame(T_RESET, 1, struct.pack("!H", 12)))
    wait_gone("913421")


def test_a_client_that_grants_nothing_keeps_the_small_pipe(ex):
    """A command that fills its pipe in one write (a read finds it full)
    for a client that never grants credit: the server sends the initial
    window and stops, and the pipe is not grown for output nobody asked
    for (SK_EXEC_PIPE_MAX is for a client that granted more)."""
    s, path = ex
    c = Client(path)
    c.send(exec_frame(1, [b"python3", b"-c",
                          b"import os\nwhile True: os.write(1, bytes(65536))",
                          b"917311"]))
    assert stdout_until_quiet(c) == WINDOW
    pids = procs_with("917311")
    assert len(pids) == 1
    fd = os.open("/proc/%d/fd/1" % pids[0], os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert fcntl.fcntl(fd, 1032) == 65536  # F_GETPIPE_SZ
    finally:
        os.close(fd)
    c.s.settimeout(20)
    c.send(frame(T_RESET, 1, struct.pack("!H", 12)))
    wait_gone("917311")


# ---- hostile peers ----

@pytest.mark.parametrize("data,code", [
    (frame(99, 1), 2),                             # unknown type
    (frame(T_STDOUT, 1, b"x"), 1),                 # a server's type from a client
    (exec_frame(0, [b"true"]), 3),                 # stream 0
    (struct.pack("!BBHI", T_STDIN, 0, 20000, 1), 1),  # over 16384
    (frame(T_HELLO, 0, b"\x89SKX\x00\x01"), 1),    # a second HELLO
    (frame(T_STDIN, 7, b"x"), 3),                  # a stream never opened
])
def test_bad_frames_are_connection_errors(ex, data, code):
    s, path = ex
    c = Client(path)
    c.send(data)
    t, fl, st, p = c.next()
    assert (t, st) == (T_ERROR, 0)
    assert p[:2] == struct.pack("!H", code), p
    assert c.next() is None
    c2 = Client(path)
    c2.send(exec_frame(1, [b"true"]))
    assert c2.run(1)[2] == exit_code(0)


def test_stream_ids_must_grow(ex):
    s, path = ex
    c = Client(path)
    c.send(exec_frame(5, [b"true"]))
    assert c.run(5)[2] == exit_code(0)
    c.send(exec_frame(5, [b"true"]))
    t, fl, st, p = c.next()
    assert (t, st, p[:2]) == (T_ERROR, 0, struct.pack("!H", 3))


def test_not_our_protocol_and_truncation(ex):
    s, path = ex
    # A typed command line: closed at once, no reply.
    c = Client(path, hello=False)
    c.send(b"ls -la\n")
    assert c.next() is None
    # A wrong version.
    c = Client(path, hello=False)
    c.send(struct.pack("!BBHI", 1, 0, 6, 0) + b"\x89SKX\x00\x02")
    t, fl, st, p = c.next()
    assert (t, st, p) == (T_ERROR, 0, struct.pack("!H", 4) + b"this server speaks version 1")
    # A peer that disappears mid-frame.
    for cut in (3, 10, 20):
        c = Client(path)
        c.send(exec_frame(1, [b"true"])[:cut])
        c.close()
    c = Client(path)
    c.send(exec_frame(1, [b"echo", b"fine"]))
    assert c.run(1) == (b"fine\n", b"", exit_code(0))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_partial_frame_waits_without_spinning(ex):
    """A frame cut short waits for its bytes in poll, not in a loop: the
    server burnt all of a core while one was pending."""
    s, path = ex
    c = Client(path)
    whole = exec_frame(1, [b"echo", b"whole"])
    c.send(whole[:5])
    before, t0 = cpu_seconds(s.proc.pid), time.monotonic()
    time.sleep(1.0)
    used = cpu_seconds(s.proc.pid) - before
    assert used < 0.5 * (time.monotonic() - t0), used
    c.send(whole[5:])
    assert c.run(1) == (b"whole\n", b"", exit_code(0))


# ---- TLS ----

def keyfile(tmp_path, ident="alice", key=bytes(range(32)), mode=0o600):
    p = tmp_path / "keys"
    p.write_text("%s %s\n" % (ident, key.hex()))
    os.chmod(p, mode)
    return str(p)


def test_tls_only_by_default_and_openssl_interop(serve, tmp_path):
    keys = keyfile(tmp_path)
    s = serve("exec=127.0.0.1:0", "--exec-keys", keys)
    host, port = s.addr("exec", "tcp")
    # Plaintext frames are not accepted over TCP without --exec-insecure.
    with socket.create_connection((host, port), timeout=5) as c:
        c.sendall(HELLO)
        try:
            assert c.recv(100)[:1] != b"\x01"
        except ConnectionResetError:
            pass
    r = subprocess.run(["openssl", "s_client", "-tls1_3", "-psk", bytes(range(32)).hex(),
                        "-psk_identity", "alice", "-connect", "%s:%d" % (host, port)],
                       input=b"", capture_output=True, timeout=20)
    # A resumption of the external PSK, with a SHA-256 suite.
    assert re.search(rb"Reused, TLSv1\.3, Cipher is TLS_(AES_128_GCM|CHACHA20_POLY1305)_SHA256",
                     r.stdout), r.stdout + r.stderr
    r = subprocess.run(["openssl", "s_client", "-tls1_3", "-psk", "ff" * 32,
                        "-psk_identity", "alice", "-connect", "%s:%d" % (host, port)],
                       input=b"", capture_output=True, timeout=20)
    assert b"Cipher is (NONE)" in r.stdout, r.stdout + r.stderr


def test_key_file_others_may_read_is_refused(tmp_path):
    keys = keyfile(tmp_path, mode=0o644)
    r = sockit("serve", "exec=127.0.0.1:0", "--exec-keys", keys, timeout=20)
    assert r.returncode == 1
    assert "sockit: exec: %s: mode 644 lets others read the keys; use chmod 600" % keys \
        in r.stderr


def test_first_start_makes_a_key_file(serve, tmp_path):
    home = tmp_path / "cfg"
    s = serve("exec=127.0.0.1:0", env={"XDG_CONFIG_HOME": str(home)})
    f = home / "sockit" / "exec.keys"
    assert oct(os.stat(f).st_mode & 0o777) == "0o600"
    assert oct(os.stat(home / "sockit").st_mode & 0o777) == "0o700"
    assert re.match(r"^[A-Za-z0-9._@+-]+ [0-9a-f]{64}\n$", f.read_text())
    assert "exec: made key file %s" % f in s.stderr()


def test_100_mb_of_output_is_byte_exact(ex):
    """The command hashes what it writes (to stderr); the client hashes
    what it got: every byte arrived, once, in order."""
    s, path = ex
    c = Client(path)
    c.send(exec_frame(1, [b"sh", b"-c",
                          b"{ head -c 100000000 /dev/urandom | tee /dev/fd/3 "
                          b"| sha256sum >&2; } 3>&1"]))
    h = hashlib.sha256()
    n = 0
    err = b""
    while True:
        t, fl, st, p = c.next()
        if t == T_STDOUT:
            h.update(p)
            n += len(p)
            c.send(frame(T_WINDOW, 1, struct.pack("!I", len(p))))
        elif t == T_STDERR:
            err += p
        elif t in (T_EXIT, T_ERROR):
            break
    assert (t, p) == exit_code(0)
    assert n == 100000000
    assert err.split()[0].decode() == h.hexdigest()


def test_per_client_limit_spans_connections(serve, tmp_path):
    path = str(tmp_path / "e.sock")
    serve("exec=unix:" + path, "--exec-insecure", "1", "--exec-max-per-client", "2")
    a, b = Client(path), Client(path)
    a.send(exec_frame(1, [b"sleep", b"30"]) + exec_frame(2, [b"sleep", b"30"]))
    assert [a.next()[0] for _ in range(2)] == [T_EXEC_OK, T_EXEC_OK]
    b.send(exec_frame(1, [b"true"]))
    t, fl, st, p = b.next()
    assert (t, st) == (T_ERROR, 1)
    assert p == struct.pack("!H", 6) + b"too many commands for this client"
    # A place frees when a command ends.
    a.send(frame(T_RESET, 1, struct.pack("!H", 12)))
    deadline = time.monotonic() + 10
    while True:
        b.send(exec_frame(st + 1, [b"echo", b"in"]))
        st += 1
        out, err, end = b.run(st)
        if end == exit_code(0):
            assert out == b"in\n"
            break
        assert end[0] == T_ERROR and time.monotonic() < deadline
        time.sleep(0.05)
    a.send(frame(T_RESET, 2, struct.pack("!H", 12)))


# ---- the real client against the real server ----

@pytest.fixture
def tls_ex(serve, tmp_path):
    """An exec server on loopback, TLS only, with a key made by keygen;
    returns (server, HOST:PORT, key file)."""
    keys = str(tmp_path / "keys")
    r = sockit("keygen", "-i", "tester", keys)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "sockit: keygen: added identity tester to %s\n" % keys
    s = serve("exec=127.0.0.1:0", "--exec-keys", keys,
              "--exec-max-per-client", "256", "--exec-max-commands", "256",
              "--exec-max-per-conn", "16")
    return s, s.hostport("exec", "tcp"), keys


def run_exec(*args, input=None, timeout=30):
    from conftest import SOCKIT
    return subprocess.run([SOCKIT, "exec"] + list(args), capture_output=True,
                          input=input, timeout=timeout)


def test_client_streams_exact_bytes_and_exit_codes(tls_ex):
    s, hp, keys = tls_ex
    r = run_exec("-k", keys, hp, "--", "sh", "-c", "printf 'a\\000b'; printf E >&2; exit 7")
    assert (r.returncode, r.stdout, r.stderr) == (7, b"a\x00b", b"E")
    r = run_exec("-k", keys, hp, "-c", "echo $((2+3))")
    assert (r.returncode, r.stdout) == (0, b"5\n")
    r = run_exec("-k", keys, hp, "--", "cat", input=b"through stdin\n")
    assert (r.returncode, r.stdout) == (0, b"through stdin\n")
    r = run_exec("-k", keys, hp, "--", "sh", "-c", "kill -TERM $$")
    assert r.returncode == 128 + signal.SIGTERM
    assert r.stderr == b"sockit: exec: remote command killed by SIGTERM\n"
    r = run_exec("-k", keys, hp, "--", "no-such-command-xyz")
    assert r.returncode == 127
    assert b"no-such-command-xyz: command not found on" in r.stderr


def test_a_pipe_found_full_grows(tls_ex):
    """A command that writes faster than the client takes it finds its
    stdout pipe grown to 1 MiB (SK_EXEC_PIPE_MAX); a quiet one keeps the
    64 KiB a pipe starts with. The command reports its own pipe's size."""
    s, hp, keys = tls_ex
    size = "import fcntl, sys; sys.stderr.write('%d' % fcntl.fcntl(1, 1032))"
    r = run_exec("-k", keys, hp, "--", "python3", "-c", size)
    assert (r.returncode, r.stdout, r.stderr) == (0, b"", b"65536")
    r = run_exec("-k", keys, hp, "--", "python3", "-c",
                 "import os\nfor _ in range(64): os.write(1, bytes(65536))\n" + size)
    assert (r.returncode, r.stdout, r.stderr) == (0, bytes(64 * 65536), b"1048576")


def test_client_wrong_key_runs_nothing(tls_ex, tmp_path):
    s, hp, keys = tls_ex
    bad = tmp_path / "bad"
    bad.write_text("tester " + "ab" * 32 + "\n")
    os.chmod(bad, 0o600)
    marker = tmp_path / "ran"
    r = run_exec("-k", str(bad), hp, "--", "touch", str(marker))
    assert r.returncode == 255
    assert r.stderr == ("sockit: exec: %s: authentication failed (identity tester)\n" % hp).encode()
    assert not marker.exists()


def test_client_ctrl_c_reaches_the_command(tls_ex):
    from conftest import SOCKIT
    s, hp, keys = tls_ex
    p = subprocess.Popen([SOCKIT, "exec", "-k", keys, hp, "--", "sh", "-c",
                          "trap 'echo got INT; exit 5' INT; echo ready; "
                          "sleep 913422 & wait"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout.readline() == b"ready\n"
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=20)
    assert (p.returncode, out) == (5, b"got INT\n"), err
    wait_gone("913422")


def test_200_concurrent_clients(tls_ex):
    from conftest import SOCKIT
    s, hp, keys = tls_ex
    procs = [subprocess.Popen([SOCKIT, "exec", "-k", keys, hp, "--", "echo", "n%d" % i],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for i in range(200)]
    for i, p in enumerate(procs):
        out, err = p.communicate(timeout=60)
        assert (p.returncode, out) == (0, b"n%d\n" % i), err
    assert zombies_of(s.proc.pid) == []


def test_repl_piped_against_the_real_server(tls_ex):
    """Lines on stdin, one command each on one connection: exact stdout
    and stderr, and the last status."""
    s, hp, keys = tls_ex
    r = run_exec("-k", keys, hp, input=b"echo one\nprintf two >&2\n"
                 b"printf 'a\\000b'\nexit_code() { return 6; }; exit_code\n")
    assert (r.returncode, r.stdout, r.stderr) == (6, b"one\na\x00b", b"two")


def test_repl_on_a_terminal(tls_ex, tmp_path):
    """The REPL under tmux: a prompt, output, stderr in red, a failure's
    status shown, Ctrl-C wiping the line being typed and interrupting a
    command, history with Up, and Ctrl-D leaving with the last status."""
    from conftest import SOCKIT, Tmux
    s, hp, keys = tls_ex
    t = Tmux(tmp_path, [SOCKIT, "exec", "-k", keys, hp],
             env={"XDG_STATE_HOME": str(tmp_path / "state")})
    try:
        t.wait(r"^127\.0\.0\.1>$")
        t.keys("echo hello", "Enter")
        t.wait(r"^hello\n127\.0\.0\.1>$")
        t.keys("ls /nonexistent-dir", "Enter")
        scr = t.wait(r"\[exit 2\]\n127\.0\.0\.1>$")
        esc = t.screen(escapes=True)
        assert re.search(r"\x1b\[31mls: cannot access '/nonexistent-dir'", esc), esc
        t.keys("half typed")
        t.wait(r"> half typed$")
        t.keys("C-c")
        t.wait(r"> half typed\^C\n127\.0\.0\.1>$")
        t.keys("echo after", "Enter")
        t.wait(r"^after\n127\.0\.0\.1>$")
        t.keys("trap 'echo caught; exit 9' INT; echo armed; sleep 913423 & wait",
               "Enter")
        t.wait(r"^armed$")
        t.keys("C-c")
        scr = t.wait(r"^\^C\ncaught\n\[exit 9\]\n127\.0\.0\.1>$")
        wait_gone("913423")
        t.keys("Up", "Up")
        t.wait(r"> echo after$")
        t.keys("C-u", "C-d")
        scr = t.wait(r"^\[\[status \d+\]\]")
        assert "[[status 9]]" in scr, scr
    finally:
        t.close()
    hist = (tmp_path / "state" / "sockit" / "exec_history")
    assert oct(hist.stat().st_mode & 0o777) == "0o600"
    assert "echo\\040after" in hist.read_text()


def test_key_file_that_is_a_fifo_is_refused_at_once(tmp_path):
    fifo = str(tmp_path / "keys")
    os.mkfifo(fifo, 0o600)
    r = sockit("serve", "exec=127.0.0.1:0", "--exec-keys", fifo, timeout=20)
    assert r.returncode == 1
    assert "sockit: exec: %s: not a regular file" % fifo in r.stderr
    r = sockit("exec", "-k", fifo, "127.0.0.1:1", "--", "true", timeout=20)
    assert r.returncode == 255
    assert r.stderr == "sockit: exec: %s: not a regular file\n" % fifo
