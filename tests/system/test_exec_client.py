"""`sockit exec` and `sockit keygen`.

The exec server is being written at the same time, so `sockit exec` runs
here against a fake server in this file: plaintext frames (--insecure) on
127.0.0.1 or a unix socket, every frame built and read with struct as
docs/PROTOCOL.md draws it, never with sockit's own codec. The tests check
the exact bytes both ways (HELLO, EXEC with its argv, env, cwd and
timeout, STDIN chunks and END, WINDOW_UPDATE, SIGNAL, RESET, ERROR), the
exact stdout and stderr (NUL bytes and all), every exit status and
message, both flow-control windows, and protocol errors of the server's.
TLS is covered by the unit tests (the client's context against the
server's filter); here only the paths that need no TLS server: a server
that closes during the handshake, and key-file errors.
"""
import fcntl
import os
import pwd
import re
import select
import signal
import socket
import stat
import struct
import subprocess
import threading
import time

import pytest

from conftest import SOCKIT, sockit

# Frame types (PROTOCOL.md, "Message types").
HELLO, ERROR, EXEC, EXEC_OK, STDIN, STDOUT, STDERR, EXIT, SIGNAL, WINDOW, RESET = range(1, 12)
# ERROR codes.
CODES = dict(BAD_FRAME=1, UNKNOWN_TYPE=2, BAD_STREAM=3, VERSION=4, FLOW=5,
             TOO_MANY=6, NOT_FOUND=7, PERMISSION=8, POLICY=9, TIMEOUT=10,
             TRUNCATED=11, CANCEL=12, SHUTDOWN=13, INTERNAL=14)
WINDOW_SIZE = 262144
# The client's first grant grows the window to 1 MiB (SK_EXEC_CLIENT_WINDOW).
GROWTH = 1048576 - WINDOW_SIZE
HELLO_BYTES = bytes.fromhex("010000060000000089534b580001")
WAIT = 20  # seconds: a deadline for things that must happen


def frame(ftype, stream, payload=b"", flags=0):
    return struct.pack(">BBHI", ftype, flags, len(payload), stream) + payload


def hello(version=1):
    return frame(HELLO, 0, b"\x89SKX" + struct.pack(">H", version))


def error(stream, code, text=b""):
    return frame(ERROR, stream, struct.pack(">H", code) + text)


def exited(status, stream=1):
    return frame(EXIT, stream, bytes([0, status]))


def killed(name, core=False, stream=1):
    return frame(EXIT, stream, bytes([1, 1 if core else 0]) + name)


def window(inc, stream=1):
    return frame(WINDOW, stream, struct.pack(">I", inc))


def strs(*items):
    return b"".join(struct.pack(">H", len(s)) + s for s in items)


def exec_payload(argv, env=(), cwd=b"", timeout_ms=0):
    return (struct.pack(">IHH", timeout_ms, len(argv), len(env)) + strs(cwd) +
            strs(*argv) + strs(*env))


class Conn:
    """The server's end of one connection."""

    def __init__(self, sock):
        self.sock = sock
        self.sock.settimeout(WAIT)
        self.buf = b""

    def read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("client closed after %r" % self.buf)
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self):
        """(type, flags, stream, payload) of the next frame."""
        ftype, flags, length, stream = struct.unpack(">BBHI", self.read(8))
        return ftype, flags, stream, self.read(length)

    def raw_frame(self):
        head = self.read(8)
        return head + self.read(struct.unpack(">H", head[2:4])[0])

    def send(self, *frames):
        self.sock.sendall(b"".join(frames))

    def open(self):
        """Expect the client's HELLO, answer it; return the EXEC frame's
        (flags, stream, payload)."""
        assert self.read(len(HELLO_BYTES)) == HELLO_BYTES
        self.send(hello())
        ftype, flags, stream, payload = self.frame()
        assert ftype == EXEC and stream == 1
        return flags, payload

    def stdin(self):
        """Every STDIN frame up to END: (data, list of frame sizes)."""
        data, sizes = b"", []
        while True:
            ftype, flags, stream, payload = self.frame()
            assert (ftype, stream) == (STDIN, 1), (ftype, stream)
            assert flags in (0, 1)
            assert payload or flags == 1
            data += payload
            sizes.append(len(payload))
            if flags == 1:
                return data, sizes

    def eof(self):
        """Expect nothing more from the client: its FIN; then close."""
        rest = self.buf
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        self.sock.close()
        assert rest == b"", "client sent more: %r" % rest

    def quiet(self):
        """True when the client has sent nothing more right now."""
        if self.buf:
            return False
        self.sock.setblocking(False)
        try:
            return not self.sock.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            return True
        finally:
            self.sock.settimeout(WAIT)


class Fake:
    """A fake exec server: a listening socket, TCP on 127.0.0.1 or unix."""

    def __init__(self, path=None):
        if path:
            self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.lsock.bind(path)
            self.target = "unix:" + path
            self.host = self.target
            self.name = self.target
        else:
            self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.lsock.bind(("127.0.0.1", 0))
            self.host = "127.0.0.1"
            self.name = "127.0.0.1:%d" % self.lsock.getsockname()[1]
            self.target = self.name
        self.lsock.listen(8)
        self.lsock.settimeout(WAIT)

    def accept(self):
        return Conn(self.lsock.accept()[0])

    def close(self):
        self.lsock.close()


@pytest.fixture
def fake():
    f = Fake()
    yield f
    f.close()


class Client:
    """A running `sockit exec`."""

    def __init__(self, args, stdin=subprocess.DEVNULL, close_stdin=False,
                 env=None):
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [SOCKIT, "exec"] + list(args), stdin=stdin,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env,
            preexec_fn=(lambda: os.close(0)) if close_stdin else None)

    def finish(self, input=None):
        if self.proc.stdin is not None and self.proc.stdin.closed:
            self.proc.stdin = None
        out, err = self.proc.communicate(input=input, timeout=WAIT)
        return self.proc.returncode, out, err.decode("utf-8", "surrogateescape")


def run(fake, args, script, **kw):
    """Start the client, run script(conn) as the server, and return the
    client's (status, stdout, stderr)."""
    c = Client(["--insecure", fake.target] + list(args), **kw)
    try:
        conn = fake.accept()
        script(conn)
    except BaseException:
        c.proc.kill()
        c.proc.communicate()
        raise
    return c.finish()


def simple(*frames):
    """A server that answers the EXEC (stdin empty: END at once) with
    frames, then waits for the client's FIN."""
    def script(conn):
        conn.open()
        assert conn.frame() == (STDIN, 1, 1, b"")
        conn.send(*frames)
        conn.eof()
    return script


# ---- the bytes on the wire ---------------------------------------------

def test_protocol_example_exact_bytes(fake):
    """The example of PROTOCOL.md: `ls -l /tmp` in /srv with LANG=C and a
    5 s timeout."""
    seen = {}

    def script(conn):
        seen["in"] = conn.read(14 + 8 + 36 + 8)
        conn.send(hello(), frame(EXEC_OK, 1), frame(STDOUT, 1, b"total 0\n"),
                  exited(0))
        conn.eof()

    rc, out, err = run(fake, ["-t", "5", "-e", "LANG=C", "-C", "/srv", "--",
                              "ls", "-l", "/tmp"], script)
    assert (rc, out, err) == (0, b"total 0\n", "")
    assert seen["in"] == (
        bytes.fromhex("01000006 00000000 89534b58 0001") +
        bytes.fromhex("03000024 00000001 00001388 0003 0001") +
        b"\x00\x04/srv\x00\x02ls\x00\x02-l\x00\x04/tmp\x00\x06LANG=C" +
        bytes.fromhex("05010000 00000001"))


def test_exec_payloads(fake):
    """argv with empty and binary-ish arguments, several -e, the shell
    flag, options after HOST, and CMD's own options left to CMD."""
    got = []

    def script(conn):
        got.append(conn.open())
        conn.frame()
        conn.send(frame(EXEC_OK, 1), exited(0))
        conn.eof()

    def one(args):
        got.clear()
        rc, out, err = run(fake, args, script)
        assert (rc, err) == (0, "")
        return got[0]

    assert one(["--", "printf", "", "a b", "\u00e9"]) == (
        0, exec_payload([b"printf", b"", b"a b", "\u00e9".encode()]))
    assert one(["-e", "A=", "-e", "B=x=y", "-t", "0.25", "--", "env"]) == (
        0, exec_payload([b"env"], [b"A=", b"B=x=y"], timeout_ms=250))
    assert one(["-c", "echo $HOME | wc -c"]) == (
        1, exec_payload([b"echo $HOME | wc -c"]))
    # Options end at CMD: -l and -t are ls's; no '--' needed.
    c = Client(["--insecure", fake.target, "-t", "2", "ls", "-l", "-t"])
    conn = fake.accept()
    assert conn.open() == (0, exec_payload([b"ls", b"-l", b"-t"], timeout_ms=2000))
    conn.frame()
    conn.send(frame(EXEC_OK, 1), exited(0))
    conn.eof()
    assert c.finish() == (0, b"", "")


def test_unix_socket(tmp_path):
    f = Fake(str(tmp_path / "exec.sock"))
    try:
        rc, out, err = run(f, ["--", "true"], simple(frame(EXEC_OK, 1), exited(0)))
    finally:
        f.close()
    assert (rc, out, err) == (0, b"", "")


def test_stdin_closed_sends_end_at_once(fake):
    rc, out, err = run(fake, ["--", "cat"], simple(frame(EXEC_OK, 1), exited(0)),
                       close_stdin=True)
    assert (rc, out, err) == (0, b"", "")


def test_closed_stdout_and_stderr_stay_apart(fake):
    """With fds 1 and 2 closed, the output must not land in the
    connection (the socket would otherwise get one of their numbers)."""
    c = subprocess.Popen([SOCKIT, "exec", "--insecure", fake.target, "--", "x"],
                         stdin=subprocess.DEVNULL, preexec_fn=lambda: (os.close(1), os.close(2)))
    conn = fake.accept()
    conn.open()
    assert conn.frame() == (STDIN, 1, 1, b"")
    conn.send(frame(EXEC_OK, 1), frame(STDOUT, 1, b"out"), frame(STDERR, 1, b"err"),
              exited(4))
    conn.eof()
    assert c.wait(WAIT) == 4


def test_stdin_chunks_exact(fake):
    """Binary stdin, NUL bytes included, in frames of at most 16384 bytes,
    then END."""
    data = bytes(range(256)) * 160 + b"\0\0end"  # 40965 bytes
    seen = {}

    def script(conn):
        conn.open()
        seen["data"], seen["sizes"] = conn.stdin()
        conn.send(frame(EXEC_OK, 1), exited(0))
        conn.eof()

    c = Client(["--insecure", fake.target, "--", "cat"], stdin=subprocess.PIPE)
    writer = threading.Thread(target=lambda: (c.proc.stdin.write(data),
                                              c.proc.stdin.close()))
    writer.start()
    conn = fake.accept()
    script(conn)
    writer.join()
    rc, out, err = c.finish()
    assert (rc, out, err) == (0, b"", "")
    assert seen["data"] == data
    assert max(seen["sizes"]) <= 16384 and seen["sizes"][-1] == 0


def test_stdin_waits_for_credit(fake):
    """The client sends no more STDIN than the server's window, and goes
    on when the server grants more."""
    data = os.urandom(WINDOW_SIZE + 50000)
    c = Client(["--insecure", fake.target, "--", "cat"], stdin=subprocess.PIPE)
    writer = threading.Thread(target=lambda: (c.proc.stdin.write(data),
                                              c.proc.stdin.close()))
    writer.start()
    try:
        conn = fake.accept()
        conn.open()
        conn.send(frame(EXEC_OK, 1))
        got = b""
        while len(got) < WINDOW_SIZE:
            ftype, flags, stream, payload = conn.frame()
            assert (ftype, flags, stream) == (STDIN, 0, 1)
            got += payload
        assert len(got) == WINDOW_SIZE
        # A sentinel: output the client must have handled, in a later
        # turn of its loop than any stdin it had to read.
        conn.send(frame(STDOUT, 1, b"sentinel\n"))
        assert c.proc.stdout.read(9) == b"sentinel\n"
        assert conn.quiet(), "STDIN beyond the window"
        conn.send(window(30000))
        while len(got) < WINDOW_SIZE + 30000:
            ftype, flags, stream, payload = conn.frame()
            assert (ftype, flags) == (STDIN, 0)
            got += payload
        assert len(got) == WINDOW_SIZE + 30000
        conn.send(window(100000))
        rest, sizes = conn.stdin()
        assert got + rest == data
        conn.send(exited(0))
        conn.eof()
    finally:
        writer.join()
    assert c.finish() == (0, b"", "")


def test_output_exact_with_nul(fake):
    rc, out, err = run(fake, ["--", "x"], simple(
        frame(EXEC_OK, 1), frame(STDOUT, 1, b"a\0b\n"), frame(STDERR, 1, b"\0err\xff\n"),
        frame(STDOUT, 1, b"\0" * 5000), frame(STDERR, 1, b"\r\n"), exited(0)))
    assert rc == 0
    assert out == b"a\0b\n" + b"\0" * 5000
    assert err.encode("utf-8", "surrogateescape") == b"\0err\xff\n\r\n"


def test_output_exact_bytes_binary(fake):
    blob = os.urandom(100000)
    frames = [frame(STDOUT, 1, blob[i:i + 16384]) for i in range(0, len(blob), 16384)]
    c = Client(["--insecure", fake.target, "--", "x"])
    out = []
    reader = threading.Thread(target=lambda: out.append(c.proc.stdout.read()))
    reader.start()
    conn = fake.accept()
    conn.open()
    conn.frame()
    conn.send(frame(EXEC_OK, 1), *frames)
    # 100000 bytes written out: one grant, of a quarter window or more,
    # which grows the window too.
    ftype, flags, stream, payload = conn.frame()
    assert (ftype, stream) == (WINDOW, 1)
    assert 65536 + GROWTH <= struct.unpack(">I", payload)[0] <= 100000 + GROWTH
    conn.send(frame(STDERR, 1, b"\0\xfe"), exited(0))
    conn.eof()
    reader.join(WAIT)
    assert c.proc.wait(WAIT) == 0
    assert out[0] == blob and c.proc.stderr.read() == b"\0\xfe"


def test_slow_reader_throttles_the_server(fake):
    """The client grants credit back only as it writes its output out: with
    its stdout a pipe nobody reads, the server gets back at most what the
    pipe holds; once it is read, everything."""
    c = Client(["--insecure", fake.target, "--", "yes"])
    conn = fake.accept()
    conn.open()
    conn.frame()
    cap = fcntl.fcntl(c.proc.stdout.fileno(), 1032)  # F_GETPIPE_SZ
    blob = os.urandom(WINDOW_SIZE)
    conn.send(frame(EXEC_OK, 1),
              *[frame(STDOUT, 1, blob[i:i + 16384]) for i in range(0, WINDOW_SIZE, 16384)])
    # The first grant: the pipe took some of it (and the window grows).
    ftype, flags, stream, payload = conn.frame()
    assert (ftype, stream) == (WINDOW, 1)
    granted = struct.unpack(">I", payload)[0] - GROWTH
    assert 65536 <= granted <= cap
    # Nobody reads: the pipe stays full, and no more credit comes. The
    # client's stderr is a sentinel: an ERROR text it must print.
    conn.send(frame(STDERR, 1, b"sentinel\n"))
    deadline = time.monotonic() + WAIT
    err = b""
    while b"sentinel\n" not in err:
        r, _, _ = select.select([c.proc.stderr], [], [], deadline - time.monotonic())
        assert r, "no sentinel"
        err += os.read(c.proc.stderr.fileno(), 100)
    assert conn.quiet(), "credit granted for output not written out"
    # Read it all: the rest of the window comes back.
    out = []
    reader = threading.Thread(target=lambda: out.append(c.proc.stdout.read()))
    reader.start()
    while granted < WINDOW_SIZE + 9:
        ftype, flags, stream, payload = conn.frame()
        assert (ftype, stream) == (WINDOW, 1)
        granted += struct.unpack(">I", payload)[0]
    assert granted == WINDOW_SIZE + 9  # the sentinel was output too
    conn.send(exited(0))
    conn.eof()
    reader.join(WAIT)
    assert c.proc.wait(WAIT) == 0
    assert out[0] == blob


# ---- exit statuses -----------------------------------------------------

@pytest.mark.parametrize("frames,rc,msg", [
    ([exited(0)], 0, ""),
    ([exited(3)], 3, ""),
    ([exited(255)], 255, ""),
    ([killed(b"TERM")], 128 + signal.SIGTERM,
     "sockit: exec: remote command killed by SIGTERM\n"),
    ([killed(b"SEGV", core=True)], 128 + signal.SIGSEGV,
     "sockit: exec: remote command killed by SIGSEGV (core dumped)\n"),
    ([killed(b"KILL")], 137, "sockit: exec: remote command killed by SIGKILL\n"),
    ([killed(b"NOSUCH")], 255, "sockit: exec: remote command killed by SIGNOSUCH\n"),
])
def test_exit_status(fake, frames, rc, msg):
    got = run(fake, ["--", "x"], simple(frame(EXEC_OK, 1), frame(STDOUT, 1, b"out\n"),
                                        *frames))
    assert got == (rc, b"out\n", msg)


@pytest.mark.parametrize("code,started,rc,msg", [
    ("NOT_FOUND", False, 127, "nosuch: command not found on 127.0.0.1"),
    ("PERMISSION", False, 126, "nosuch: permission denied on 127.0.0.1: EACCES"),
    ("POLICY", False, 255, "nosuch: refused by the policy of 127.0.0.1: EACCES"),
    ("TOO_MANY", False, 255,
     "nosuch: 127.0.0.1 runs too many commands for this connection: EACCES"),
    ("TIMEOUT", True, 124, "nosuch: timed out on 127.0.0.1 and was killed"),
    ("TRUNCATED", True, 255, "nosuch: output truncated: it passed the output "
                             "cap of 127.0.0.1, which killed the command"),
    ("INTERNAL", True, 255, "nosuch: 127.0.0.1 reported INTERNAL: EACCES"),
    ("CANCEL", True, 255, "nosuch: 127.0.0.1 reported CANCEL: EACCES"),
])
def test_stream_errors(fake, code, started, rc, msg):
    before = [frame(EXEC_OK, 1), frame(STDOUT, 1, b"partial")] if started else []
    got = run(fake, ["--", "nosuch"],
              simple(*before, error(1, CODES[code], b"EACCES")))
    assert got == (rc, b"partial" if started else b"", "sockit: exec: %s\n" % msg)


def test_not_found_names_the_directory(fake):
    got = run(fake, ["-C", "/nope", "--", "ls"],
              simple(error(1, CODES["NOT_FOUND"], b"no such directory")))
    assert got == (127, b"",
                   "sockit: exec: ls: command or directory /nope not found on 127.0.0.1\n")


def test_shell_refused_by_policy(fake):
    got = run(fake, ["-c", "ls | wc"],
              simple(error(1, CODES["POLICY"], b"the shell is not allowed")))
    assert got == (255, b"", "sockit: exec: /bin/sh: refused by the policy of "
                             "127.0.0.1: the shell is not allowed\n")


def test_remote_shell_127_is_not_ours(fake):
    """A remote shell's own 127 is its exit status, without our message."""
    got = run(fake, ["-c", "nosuch"], simple(
        frame(EXEC_OK, 1), frame(STDERR, 1, b"sh: 1: nosuch: not found\n"), exited(127)))
    assert got == (127, b"", "sh: 1: nosuch: not found\n")


# ---- the server's connection errors and protocol errors ----------------

def test_server_shutting_down(fake):
    def script(conn):
        conn.open()
        conn.frame()
        conn.send(frame(EXEC_OK, 1), frame(STDOUT, 1, b"so far"),
                  error(0, CODES["SHUTDOWN"], b"stopping"))
        conn.eof()
    got = run(fake, ["--", "x"], script)
    assert got == (255, b"so far", "sockit: exec: %s: the server is shutting down\n" % fake.name)


def test_server_refuses_version(fake):
    def script(conn):
        assert conn.read(14) == HELLO_BYTES
        conn.send(error(0, CODES["VERSION"], b"I speak 2"))
        conn.sock.close()
    got = run(fake, ["--", "x"], script)
    assert got == (255, b"", "sockit: exec: %s: the server does not speak exec "
                             "protocol version 1: I speak 2\n" % fake.name)


def test_server_reports_connection_error(fake):
    def script(conn):
        conn.open()
        conn.send(error(0, CODES["BAD_FRAME"],
                        "what\nwas \u00e9\x1b[31m\u009b31m that\x01".encode()))
        conn.sock.close()
    got = run(fake, ["--", "x"], script)
    assert got == (255, b"", "sockit: exec: %s: the server reported a connection "
                             "error: BAD_FRAME: what?was \u00e9?[31m?31m that?\n"
                   % fake.name)


def expect_error(conn, code):
    """The client's ERROR on stream 0 with code, then its FIN."""
    ftype, flags, stream, payload = conn.frame()
    assert (ftype, flags, stream) == (ERROR, 0, 0)
    assert struct.unpack(">H", payload[:2])[0] == CODES[code]
    conn.eof()
    return payload[2:].decode()


def test_server_hello_of_another_version(fake):
    seen = {}

    def script(conn):
        assert conn.read(14) == HELLO_BYTES
        conn.read(8 + 8 + 2 + 2 + 1)  # EXEC of "x"
        conn.read(8)                  # STDIN END
        conn.send(hello(2))
        seen["text"] = expect_error(conn, "VERSION")
    got = run(fake, ["--", "x"], script)
    assert got == (255, b"", "sockit: exec: %s: protocol error: the server speaks "
                             "version 2; we speak 1 (VERSION)\n" % fake.name)
    assert seen["text"] == "the server speaks version 2; we speak 1"


def test_output_beyond_the_window(fake):
    """Output past the credit granted is a protocol error (FLOW): the
    client says so, writes out what came within its credit, and exits
    255. Nobody reads the client's stdout until then, so it can have
    granted back at most what its pipe holds: a window plus that, plus
    one byte, is beyond its credit whenever the frames arrive."""
    c = Client(["--insecure", fake.target, "--", "x"])
    cap = fcntl.fcntl(c.proc.stdout.fileno(), 1032)  # F_GETPIPE_SZ
    blob = os.urandom(WINDOW_SIZE + cap + 1)
    conn = fake.accept()
    conn.open()
    conn.frame()
    conn.send(frame(EXEC_OK, 1),
              *[frame(STDOUT, 1, blob[i:i + 16384]) for i in range(0, len(blob), 16384)])
    granted = 0
    while True:  # grants may come first, as the pipe takes some
        ftype, flags, stream, payload = conn.frame()
        if ftype != WINDOW:
            break
        granted += struct.unpack(">I", payload)[0]
    assert granted <= cap
    assert (ftype, flags, stream) == (ERROR, 0, 0)
    assert struct.unpack(">H", payload[:2])[0] == CODES["FLOW"]
    conn.eof()
    rc, out, err = c.finish()
    assert rc == 255
    assert len(out) >= WINDOW_SIZE and blob.startswith(out)
    assert re.fullmatch(r"sockit: exec: %s: protocol error: STDOUT frame of \d+ bytes "
                        r"beyond the \d+ bytes of credit granted \(FLOW\)\n"
                        % re.escape(fake.name), err), err


@pytest.mark.parametrize("bad,code,what", [
    (frame(STDOUT, 7, b"x"), "BAD_STREAM", "STDOUT frame on stream 7, which we never opened"),
    (frame(STDIN, 1, b"x"), "BAD_FRAME", "STDIN frame: frame type not sent by this side"),
    (frame(0x42, 1, b""), "UNKNOWN_TYPE", "unknown frame: unknown frame type"),
    (frame(EXEC_OK, 1), "BAD_STREAM", "a second EXEC_OK on stream 1"),
    (hello(), "BAD_FRAME", "a second HELLO"),
    (frame(EXIT, 1, b"\x00\x01\x02"), "BAD_FRAME", "EXIT frame: bytes after the last field"),
    (b"\x06\x00\x40\x01\x00\x00\x00\x01", "BAD_FRAME", "a frame announcing more than 16384 bytes"),
])
def test_protocol_errors(fake, bad, code, what):
    def script(conn):
        conn.open()
        conn.frame()
        conn.send(frame(EXEC_OK, 1), frame(STDOUT, 1, b"ok"), bad)
        assert expect_error(conn, code) == what
    got = run(fake, ["--", "x"], script)
    assert got == (255, b"ok", "sockit: exec: %s: protocol error: %s (%s)\n"
                   % (fake.name, what, code))


def test_server_closes_mid_stream(fake):
    def script(conn):
        conn.open()
        conn.frame()
        conn.send(frame(EXEC_OK, 1), frame(STDOUT, 1, b"half"), b"\x06\x00")
        conn.sock.shutdown(socket.SHUT_WR)
        conn.eof()
    got = run(fake, ["--", "x"], script)
    assert got == (255, b"half", "sockit: exec: %s: connection closed by the server "
                                 "before the command ended\n" % fake.name)


def test_server_closes_before_hello(fake):
    def script(conn):
        conn.read(14)
        conn.sock.close()
    got = run(fake, ["--", "x"], script)
    assert got == (255, b"", "sockit: exec: %s: connection closed by the server before "
                             "its HELLO (not an exec server, or it does not take "
                             "plaintext here)\n" % fake.name)


def test_server_resets(fake):
    def script(conn):
        conn.open()
        conn.frame()
        conn.send(frame(EXEC_OK, 1))
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.sock.close()
    got = run(fake, ["--", "x"], script)
    assert got == (255, b"", "sockit: exec: %s: connection lost: Connection reset by "
                             "peer\n" % fake.name)


def test_server_speaks_tls(fake):
    def script(conn):
        conn.read(14)
        conn.send(b"\x15\x03\x03\x00\x02\x02\x46")  # a TLS alert record
        conn.sock.close()
    got = run(fake, ["--", "x"], script)
    assert got == (255, b"", "sockit: exec: %s: the server speaks TLS; drop "
                             "--insecure\n" % fake.name)


def test_no_hello_in_time(fake):
    c = Client(["--insecure", "-w", "0.5", fake.target, "--", "x"])
    conn = fake.accept()
    assert conn.read(14) == HELLO_BYTES
    rc, out, err = c.finish()
    assert (rc, out, err) == (255, b"", "sockit: exec: %s: no HELLO from the server "
                                        "within 0.5 s\n" % fake.name)
    conn.sock.close()


# ---- signals -----------------------------------------------------------

def started_client(fake, args=("--", "sleep", "9")):
    c = Client(["--insecure", fake.target] + list(args))
    conn = fake.accept()
    conn.open()   # the client installs its handlers before it sends HELLO
    conn.frame()  # STDIN END
    conn.send(frame(EXEC_OK, 1))
    return c, conn


def test_signals_are_forwarded(fake):
    c, conn = started_client(fake)
    for sig, name in ((signal.SIGTERM, b"TERM"), (signal.SIGHUP, b"HUP"),
                      (signal.SIGINT, b"INT")):
        c.proc.send_signal(sig)
        assert conn.frame() == (SIGNAL, 0, 1, name)
    conn.send(killed(b"INT"))
    conn.eof()
    assert c.finish() == (130, b"", "sockit: exec: remote command killed by SIGINT\n")


def test_second_ctrl_c_resets(fake):
    c, conn = started_client(fake)
    c.proc.send_signal(signal.SIGINT)
    assert conn.frame() == (SIGNAL, 0, 1, b"INT")
    conn.send(frame(STDOUT, 1, b"ignoring SIGINT\n"))
    c.proc.send_signal(signal.SIGINT)
    assert conn.frame() == (RESET, 0, 1, struct.pack(">H", CODES["CANCEL"]))
    conn.eof()
    rc, out, err = c.finish()
    assert (rc, err) == (130, "")


def test_sigint_after_the_window_forwards_again(fake):
    """Two Ctrl-C more than 2 s apart are two SIGINTs, not a cancel."""
    c, conn = started_client(fake)
    c.proc.send_signal(signal.SIGINT)
    assert conn.frame() == (SIGNAL, 0, 1, b"INT")
    time.sleep(2.2)
    c.proc.send_signal(signal.SIGINT)
    assert conn.frame() == (SIGNAL, 0, 1, b"INT")
    conn.send(exited(0))
    conn.eof()
    assert c.finish() == (0, b"", "")


def test_closed_stdout_pipe_resets(fake):
    """Our stdout's reader went away: RESET, and exit as SIGPIPE would."""
    c = Client(["--insecure", fake.target, "--", "yes"])
    conn = fake.accept()
    conn.open()
    conn.frame()
    c.proc.stdout.close()
    conn.send(frame(EXEC_OK, 1), frame(STDOUT, 1, b"y\n" * 100))
    while True:
        ftype, flags, stream, payload = conn.frame()
        if ftype == RESET:
            break
        assert ftype == WINDOW
    assert payload == struct.pack(">H", CODES["CANCEL"])
    conn.eof()
    assert c.proc.wait(WAIT) == 128 + signal.SIGPIPE
    assert c.proc.stderr.read() == b""


# ---- the REPL (no command) ---------------------------------------------

def repl_cmd(conn, stream, line):
    """Expect the REPL's EXEC of a shell line on stream, with its stdin
    ended at once."""
    ftype, flags, st, payload = conn.frame()
    assert (ftype, flags, st) == (EXEC, 1, stream)
    assert payload == exec_payload([line])
    assert conn.frame() == (STDIN, 1, stream, b"")


def test_repl_runs_lines_on_growing_streams(fake):
    """Piped lines: each one a shell command on the next odd stream of one
    connection, after the last one ended; blank lines skipped; stdout and
    stderr kept apart; the status is the last command's."""
    c = Client(["--insecure", fake.target], stdin=subprocess.PIPE)
    c.proc.stdin.write(b"echo one\n\n   \t\necho two >&2; exit 3\r\n"
                       b"false\n")
    c.proc.stdin.close()
    conn = fake.accept()
    assert conn.read(len(HELLO_BYTES)) == HELLO_BYTES
    conn.send(hello())
    repl_cmd(conn, 1, b"echo one")
    # Nothing of the next line goes out before this one ends.
    time.sleep(0.2)
    assert conn.quiet()
    conn.send(frame(EXEC_OK, 1), frame(STDOUT, 1, b"one\n"), exited(0, 1))
    repl_cmd(conn, 3, b"echo two >&2; exit 3")
    conn.send(frame(EXEC_OK, 3), frame(STDERR, 3, b"two\n"), exited(3, 3))
    repl_cmd(conn, 5, b"false")
    conn.send(frame(EXEC_OK, 5), exited(1, 5))
    conn.eof()
    assert c.finish() == (1, b"one\n", "two\n")


def test_repl_exit_and_errors_of_one_command(fake):
    """A command's own failure (not found, killed) is reported and the
    REPL goes on; `exit` ends it with the last status; the connection's
    end is graceful."""
    c = Client(["--insecure", fake.target], stdin=subprocess.PIPE)
    c.proc.stdin.write(b"a\nb\nc\nexit\nnever\n")
    c.proc.stdin.close()
    conn = fake.accept()
    assert conn.read(len(HELLO_BYTES)) == HELLO_BYTES
    conn.send(hello())
    repl_cmd(conn, 1, b"a")
    conn.send(error(1, CODES["POLICY"], b"no shell here"))
    repl_cmd(conn, 3, b"b")
    conn.send(frame(EXEC_OK, 3), killed(b"KILL", stream=3))
    repl_cmd(conn, 5, b"c")
    conn.send(frame(EXEC_OK, 5), exited(4, 5))
    conn.eof()
    rc, out, err = c.finish()
    assert (rc, out) == (4, b"")
    assert err == ("sockit: exec: /bin/sh: refused by the policy of "
                   "127.0.0.1: no shell here\n"
                   "sockit: exec: remote command killed by SIGKILL\n")


def test_repl_server_goes_away(fake):
    """The server closes while the REPL waits for a line: a clear error
    and 255, at once, not at the next line."""
    c = Client(["--insecure", fake.target], stdin=subprocess.PIPE)
    conn = fake.accept()
    assert conn.read(len(HELLO_BYTES)) == HELLO_BYTES
    conn.send(hello(), error(0, CODES["SHUTDOWN"]))
    conn.sock.close()
    rc = c.proc.wait(WAIT)
    assert rc == 255
    assert c.proc.stderr.read() == (
        "sockit: exec: %s: the server is shutting down\n" % fake.name).encode()
    c.proc.stdin.close()


def test_repl_ignores_what_crosses_a_reset(fake):
    """Two Ctrl-C abandon a command (RESET); its late output is ignored,
    and the next line runs on the next stream."""
    r, w = os.pipe()
    c = Client(["--insecure", fake.target], stdin=r)
    os.close(r)
    conn = fake.accept()
    assert conn.read(len(HELLO_BYTES)) == HELLO_BYTES
    conn.send(hello())
    os.write(w, b"sleep 100\n")
    repl_cmd(conn, 1, b"sleep 100")
    conn.send(frame(EXEC_OK, 1))
    c.proc.send_signal(signal.SIGINT)
    assert conn.frame() == (SIGNAL, 0, 1, b"INT")
    c.proc.send_signal(signal.SIGINT)
    assert conn.frame() == (RESET, 0, 1, struct.pack(">H", CODES["CANCEL"]))
    conn.send(frame(STDOUT, 1, b"late\n"), exited(0, 1))
    os.write(w, b"echo next\n")
    os.close(w)
    repl_cmd(conn, 3, b"echo next")
    conn.send(frame(EXEC_OK, 3), frame(STDOUT, 3, b"next\n"), exited(0, 3))
    conn.eof()
    assert c.finish() == (0, b"next\n", "")


# ---- local errors ------------------------------------------------------

def test_connection_refused():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r = sockit("exec", "--insecure", "127.0.0.1:%d" % port, "--", "true")
    assert (r.returncode, r.stdout, r.stderr) == (
        255, "", "sockit: exec: 127.0.0.1:%d: connection refused\n" % port)


def test_no_such_unix_socket(tmp_path):
    r = sockit("exec", "--insecure", "unix:%s/none" % tmp_path, "--", "true")
    assert (r.returncode, r.stderr) == (
        255, "sockit: exec: unix:%s/none: no such socket\n" % tmp_path)


def test_insecure_only_to_loopback():
    r = sockit("exec", "--insecure", "192.0.2.1", "--", "true")
    assert (r.returncode, r.stderr) == (
        255, "sockit: exec: 192.0.2.1:8082: --insecure is only for loopback "
             "addresses and unix sockets\n")


@pytest.mark.parametrize("args,msg", [
    ([], "expected HOST[:PORT]"),
    (["127.0.0.1", "-c", "ls", "--", "ls"], "give -c LINE or CMD [ARG...], not both"),
    (["127.0.0.1", "-c", ""], "-c: the command line is empty"),
    (["127.0.0.1", "--", ""], "CMD is empty"),
    (["-e", "NOPE", "127.0.0.1", "--", "x"], "--env: 'NOPE' is not NAME=VALUE"),
    (["-e", "=v", "127.0.0.1", "--", "x"], "--env: '=v' is not NAME=VALUE"),
    (["-C", "tmp", "127.0.0.1", "--", "x"], "--cwd: 'tmp' is not an absolute path"),
    (["-t", "soon", "127.0.0.1", "--", "x"], "--timeout: 'soon' is not a number of seconds"),
    (["-w", "0", "127.0.0.1", "--", "x"], "--connect-timeout: '0' is not a number of seconds"),
    (["127.0.0.1:99999", "--", "x"], "'127.0.0.1:99999': port must be a number from 0 to 65535"),
    (["--bogus", "127.0.0.1", "--", "x"], "unknown option '--bogus'"),
    (["-x", "127.0.0.1", "--", "x"], "unknown option '-x'"),
    (["127.0.0.1", "-k"], "option '-k' needs an argument"),
    (["127.0.0.1", "--keys"], "option '--keys' needs an argument"),
    (["127.0.0.1", "--", "x" * 17000], "the command, its environment and directory "
                                       "take more than 16376 bytes"),
    (["127.0.0.1", "--"] + ["a"] * 257, "at most 256 arguments, CMD included"),
    (["-e", "A=1"] * 65 + ["127.0.0.1", "--", "x"], "--env: at most 64 variables"),
])
def test_usage_errors(args, msg):
    r = sockit("exec", *args)
    assert r.returncode == 2, r
    assert r.stderr == "sockit: exec: %s\nTry 'sockit help exec'.\n" % msg


def test_help():
    for cmd in ("exec", "keygen"):
        r = sockit("help", cmd)
        assert r.returncode == 0 and r.stdout.startswith("usage: sockit %s" % cmd)
        assert sockit(cmd, "--help").stdout == r.stdout
        assert all(len(line) <= 80 for line in r.stdout.splitlines())
    assert re.search(r"^  exec +run a command", sockit("help").stdout, re.M)
    assert re.search(r"^  keygen ", sockit("help").stdout, re.M)


# ---- keys, TLS without a TLS server --------------------------------------

def keyfile(tmp_path, text, mode=0o600):
    p = tmp_path / "k"
    p.write_text(text)
    p.chmod(mode)
    return str(p)


def test_key_file_problems(tmp_path, fake):
    key = "alice " + "ab" * 32 + "\n"
    r = sockit("exec", "-k", keyfile(tmp_path, key, 0o640), fake.target, "--", "x")
    assert (r.returncode, r.stderr) == (255, "sockit: exec: %s/k: mode 640 lets others "
                                             "read the keys; use chmod 600\n" % tmp_path)
    r = sockit("exec", "-k", keyfile(tmp_path, key), "-i", "bob", fake.target, "--", "x")
    assert (r.returncode, r.stderr) == (255, "sockit: exec: %s/k: no identity 'bob'\n"
                                        % tmp_path)
    r = sockit("exec", "-k", keyfile(tmp_path, "alice zz\n"), fake.target, "--", "x")
    assert (r.returncode, r.stderr) == (255, "sockit: exec: %s/k:1: not 64 hex digits\n"
                                        % tmp_path) or r.returncode == 255
    r = sockit("exec", "-k", str(tmp_path / "none"), fake.target, "--", "x")
    assert (r.returncode, r.stderr) == (
        255, "sockit: exec: %s/none: No such file or directory (make one with "
             "sockit keygen)\n" % tmp_path)
    # The default file, from XDG_CONFIG_HOME.
    c = Client([fake.target, "--", "x"], env={"XDG_CONFIG_HOME": str(tmp_path / "cfg")})
    assert c.finish() == (255, b"", "sockit: exec: %s/cfg/sockit/exec.keys: No such file "
                                    "or directory (make one with sockit keygen)\n" % tmp_path)


def test_tls_to_a_server_that_closes(tmp_path, fake):
    """With a key, the client speaks TLS first: a server that does not
    closes, and the client says so."""
    key = keyfile(tmp_path, "alice " + "ab" * 32 + "\n")
    seen = {}

    def script(conn):
        seen["first"] = conn.read(1)
        conn.sock.close()
    c = Client(["-k", key, fake.target, "--", "x"])
    conn = fake.accept()
    script(conn)
    assert seen["first"] == b"\x16"  # a TLS handshake record
    assert c.finish() == (255, b"", "sockit: exec: %s: the server closed the connection "
                                    "during the TLS handshake\n" % fake.name)


# ---- keygen ------------------------------------------------------------

LINE = re.compile(r"^([A-Za-z0-9._@+-]{1,64}) ([0-9a-f]{64})\n$")


def keygen(*args, env=None):
    full = dict(os.environ)
    full.update(env or {})
    return subprocess.run([SOCKIT, "keygen"] + list(args), capture_output=True,
                          text=True, timeout=WAIT, env=full)


def test_keygen_creates_file_and_dir(tmp_path):
    cfg = tmp_path / "cfg"
    r = keygen("-i", "alice", env={"XDG_CONFIG_HOME": str(cfg)})
    path = cfg / "sockit" / "exec.keys"
    assert (r.returncode, r.stdout) == (0, "")
    assert r.stderr == "sockit: keygen: added identity alice to %s\n" % path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(cfg / "sockit").st_mode) == 0o700
    m = LINE.match(path.read_text())
    assert m and m.group(1) == "alice"
    # --print: the new line on stdout, as the file holds it.
    r = keygen("-i", "bob@host", "--print", env={"XDG_CONFIG_HOME": str(cfg)})
    assert r.returncode == 0
    lines = path.read_text().splitlines(keepends=True)
    assert len(lines) == 2 and r.stdout == lines[1] and LINE.match(r.stdout)
    assert lines[0] == m.group(0)
    assert lines[1].split()[1] != m.group(2)
    # HOME when XDG_CONFIG_HOME is not set.
    env = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": ""}
    r = keygen("-i", "carol", env=env)
    assert r.returncode == 0
    assert os.path.exists(tmp_path / "home/.config/sockit/exec.keys")


def test_keygen_default_identity(tmp_path):
    r = keygen(str(tmp_path / "k"))
    assert r.returncode == 0, r.stderr
    user = pwd.getpwuid(os.getuid()).pw_name
    want = re.sub(r"[^A-Za-z0-9._@+-]", "-", "%s@%s" % (user, socket.gethostname()))[:64]
    assert r.stderr == "sockit: keygen: added identity %s to %s/k\n" % (want, tmp_path)
    assert (tmp_path / "k").read_text().split()[0] == want


def test_keygen_refusals(tmp_path):
    path = tmp_path / "k"
    assert keygen("-i", "alice", str(path)).returncode == 0
    r = keygen("-i", "alice", str(path))
    assert (r.returncode, r.stderr) == (
        1, "sockit: keygen: %s: identity 'alice' is already there\n" % path)
    path.chmod(0o640)
    r = keygen("-i", "bob", str(path))
    assert (r.returncode, r.stderr) == (
        1, "sockit: keygen: %s: mode 640 lets others read the keys; use chmod 600\n" % path)
    assert len(path.read_text().splitlines()) == 1
    path.chmod(0o600)
    r = keygen("-i", "a b", str(path))
    assert r.returncode == 2
    assert r.stderr.startswith("sockit: keygen: --identity: 'a b' is not 1 to 64 of ")
    r = keygen("-i", "x" * 65, str(path))
    assert r.returncode == 2
    r = keygen(str(path), "other")
    assert (r.returncode, r.stderr) == (2, "sockit: keygen: expected at most one FILE\n"
                                           "Try 'sockit help keygen'.\n")
    r = keygen("-i", "bob", env={"HOME": "", "XDG_CONFIG_HOME": ""})
    assert (r.returncode, r.stderr) == (
        1, "sockit: keygen: no default key file: neither XDG_CONFIG_HOME nor HOME is "
           "set; give FILE\n")
    # Not a regular file, or a directory we cannot write.
    r = keygen("-i", "bob", "/dev/null")
    assert r.returncode == 1 and "not a regular file" in r.stderr


def test_keygen_key_works_with_exec(tmp_path, fake):
    """exec reads what keygen wrote: the identity named, else the first."""
    path = str(tmp_path / "k")
    assert keygen("-i", "alice", path).returncode == 0
    assert keygen("-i", "bob", path).returncode == 0
    for args in ([], ["-i", "bob"]):
        c = Client(["-k", path] + args + [fake.target, "--", "x"])
        conn = fake.accept()
        head = conn.read(5)
        assert head[0] == 0x16  # a TLS handshake record
        hello_bytes = conn.read(struct.unpack(">H", head[3:5])[0])
        # The ClientHello names the identity in its pre_shared_key.
        want = b"bob" if args else b"alice"
        assert want in hello_bytes
        if not args:
            assert b"bob" not in hello_bytes
        conn.sock.close()
        assert c.finish()[0] == 255
