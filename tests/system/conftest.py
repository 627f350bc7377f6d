"""Fixtures for sockit's system tests.

The `serve` and `srv` fixtures start the real `sockit` binary (SOCKIT_BIN,
default build/sockit) on ports the kernel picks (port 0), wait for its
"ready" line instead of sleeping, stop it with SIGTERM in a finalizer (also
when the test failed), check that it exited 0, and scan its log for
sanitizer reports.

The daemon's log is a file here, so each of its lines starts with the time
("2026-11-25T22:24:05.123+00:00 sockit: ..."; --log-time auto). The
harness checks that stamp on every line (the format, and a time between
the daemon's start and the reading) and takes it off, so that tests match
the text after it exactly: Server.stderr() and unstamp(). When stopped, a
server must have stamped every line.

Waits for something to happen have generous deadlines (they return as soon
as it happens, so a long deadline costs nothing on a pass); checks that
something does not happen use a sentinel (a later request whose answer
proves the earlier one was handled) rather than a short timeout.
"""
import datetime
import math
import os
import re
import select
import signal
import socket
import struct
import subprocess
import tempfile
import time

import pytest

# exec makes a key file under the config directory on first start: keep
# the tests' own, away from the user's.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="sockit-test-config-")
# Many daemons run at once: none takes the default control socket
# (/run/sockit/control as root); test_status.py gives each its own.
os.environ["SOCKIT_CONTROL"] = ""
# `sockit serve` reads /etc/sockit/sockit.conf when it exists; the tests
# never read the machine's: SOCKIT_CONFIG names the default file instead,
# one that does not exist unless a test writes it.
os.environ["SOCKIT_CONFIG"] = os.path.join(os.environ["XDG_CONFIG_HOME"],
                                           "sockit.conf")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SOCKIT = os.environ.get("SOCKIT_BIN", os.path.join(ROOT, "build", "sockit"))

LISTEN_RE = re.compile(r"^sockit: (\w+)/(tcp|udp) (\S+): listening$")
# The time a daemon's log line starts with when its stderr is a file or a
# pipe: ISO 8601 with milliseconds and the UTC offset, then a space.
STAMP_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d) ")
BAD_LOG = re.compile(r"AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error:|"
                     r"handles left open")

# Every service on both loopbacks, ports picked by the kernel.
ALL = ["welcome=:0", "timefmt=:0", "daytime=:0", "time=:0", "ntp=:0"]


def unstamp(text, since, strict=True, our_tz=True):
    """text, a daemon's log, with the time taken off the start of each
    line. Each time must be well formed and between since (the wall clock
    before the daemon started) and now, its UTC offset included; with
    our_tz, the offset must also be our time zone's (a daemon given a TZ of
    its own has another). strict: every whole line must have one (a last
    line without its LF yet may be cut anywhere, and is left as it is)."""
    now = time.time()
    out = []
    for line in text.splitlines(keepends=True):
        m = STAMP_RE.match(line)
        if not m:
            assert not strict or not line.endswith("\n"), \
                "log line without a time: %r\n%s" % (line, text)
            out.append(line)
            continue
        t = datetime.datetime.fromisoformat(m.group(1))
        stamp = t.timestamp()
        assert math.floor(since * 1000) / 1000 <= stamp <= now, (line, since, now)
        assert not our_tz or \
            t.utcoffset().total_seconds() == time.localtime(stamp).tm_gmtoff, line
        out.append(line[m.end():])
    return "".join(out)


def split_hostport(s):
    if s.startswith("["):
        host, port = s[1:].split("]:")
    else:
        host, port = s.rsplit(":", 1)
    return host, int(port)


class Server:
    """A running `sockit serve`."""

    def __init__(self, args, env=None, timeout=20, stdin=None, wrap=(),
                 stamps=True, log=None, wait=True, binary=SOCKIT):
        """stamps: the log's lines carry the time (the default for a
        file); a test that logs otherwise reads raw_stderr(). log: the
        file (w+) to be the daemon's stderr, if the test needs to know it
        first; a temporary file otherwise. wait=False returns once the
        process is started; the caller then calls wait_ready() (after
        waking a socket-activation wrapper, say). binary: another sockit
        than SOCKIT_BIN (a packaged one)."""
        self.args = args
        self.stamps = stamps
        self.our_tz = "TZ" not in (env or {})
        # The wall clock before the daemon exists: nothing it stamps from
        # its clock can be earlier.
        self.started = time.time()
        self.log = log if log is not None else tempfile.TemporaryFile(mode="w+")
        full_env = dict(os.environ)
        full_env.update(env or {})
        # wrap: a command that execs the rest (nsenter into a network
        # namespace), so that proc is still the daemon.
        self.proc = subprocess.Popen(
            list(wrap) + [binary, "serve"] + list(args),
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=full_env,
        )
        self.addrs = {}
        self.lines = []  # what it printed on stdout before "ready"
        self.rest = b""  # what followed "ready" in the same read
        self.stopped = False
        if wait:
            self.wait_ready(timeout)

    def wait_ready(self, timeout=20):
        """Read stdout until the "ready" line, keeping the listeners."""
        buf = b""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError("sockit serve not ready: %r" % self.stderr())
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if not r:
                continue
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                self.proc.wait()
                raise RuntimeError(
                    "sockit serve exited %s: %s" % (self.proc.returncode, self.stderr()))
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                line = line.decode()
                self.lines.append(line)
                m = LISTEN_RE.match(line)
                if m:
                    self.addrs.setdefault((m.group(1), m.group(2)), []).append(
                        split_hostport(m.group(3)))
                elif line.startswith("sockit: ready"):
                    self.rest = buf
                    return

    def addr(self, service, proto, family=socket.AF_INET):
        """(host, port) of a listener, by address family."""
        for host, port in self.addrs[(service, proto)]:
            if (":" in host) == (family == socket.AF_INET6):
                return host, port
        raise KeyError((service, proto, family))

    def hostport(self, service, proto, family=socket.AF_INET):
        host, port = self.addr(service, proto, family)
        return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)

    def raw_stderr(self):
        """The log as the daemon wrote it."""
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stderr(self):
        """The log, each line's time checked and taken off (if stamps),
        lines without one left as they are (sanitizer reports; stop()
        fails on them)."""
        if not self.stamps:
            return self.raw_stderr()
        return unstamp(self.raw_stderr(), self.started, strict=False,
                       our_tz=self.our_tz)

    def stop(self, sig=signal.SIGTERM):
        """Stop it; return its exit code. Fails on sanitizer reports and
        (if stamps) on a log line without the time."""
        if self.stopped:
            return self.proc.returncode
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("sockit serve did not stop on %s" % sig)
        log = self.raw_stderr()
        assert not BAD_LOG.search(log), log
        if self.stamps:
            unstamp(log, self.started, our_tz=self.our_tz)
        return rc


@pytest.fixture
def serve():
    """serve(*args, env=None, stamps=True, log=None, wait=True) starts a
    server (see Server). After the test, passed or failed, every server it started is
    stopped and its log scanned, and each must have exited 0. A test may
    stop a server itself (to check its exit code or last log lines); the
    finalizer then only checks the exit code."""
    started = []

    def start(*args, env=None, stdin=None, wrap=(), stamps=True, log=None,
              wait=True):
        s = Server(args, env=env, stdin=stdin, wrap=wrap, stamps=stamps,
                   log=log, wait=wait)
        started.append(s)
        return s

    yield start
    # Stop them all before failing on any, so that no daemon outlives the
    # test.
    errors = []
    for s in started:
        try:
            rc = s.stop()
        except Exception as e:  # a sanitizer report, or it would not stop
            errors.append("sockit serve %s: %s" % (" ".join(s.args), e))
            continue
        if rc != 0:
            errors.append("sockit serve %s exited %d: %s" %
                          (" ".join(s.args), rc, s.stderr()))
    assert not errors, "\n".join(errors)


@pytest.fixture(scope="module")
def srv():
    """One server per module with every service; a high rate limit so that
    functional tests are not throttled."""
    s = Server(ALL + ["--rate", "100000", "--burst", "100000",
                      "--global-rate", "0"])
    yield s
    rc = s.stop()
    assert rc == 0, s.stderr()


class Window:
    """Our wall clock read before and after an exchange (use it as a
    context manager around the exchange; inside it, "after" is now). A
    time a server read from the same clock during the exchange, truncated
    to whole seconds, lies in [floor(before), after], however slow the
    machine; unlike a fixed slack around one later reading, this never
    fails on a slow run and is tight on a quick one."""

    def __enter__(self):
        self.before = time.time()
        self.after = None
        return self

    def __exit__(self, *exc):
        self.after = time.time()

    def _after(self):
        return self.after if self.after is not None else time.time()

    def contains(self, t, slack=0.0):
        """slack widens both ends, for a reader that adds its own estimate
        of the offset (at most half the round trip, itself at most the
        window)."""
        return math.floor(self.before - slack) <= t <= self._after() + slack

    def width(self):
        return self._after() - self.before

    def strftime(self, fmt):
        """fmt in local time at both ends: for fields that only grow, such
        as %Y, the server's reply is one of these (a year may turn during
        the exchange)."""
        return {time.strftime(fmt, time.localtime(t)) for t in (self.before, self._after())}


def sockit(*args, timeout=30, input=None):
    """Run the sockit client; returns CompletedProcess with text output."""
    return subprocess.run([SOCKIT] + list(args), capture_output=True,
                          text=True, timeout=timeout, input=input)


def wait_log(s, pattern, timeout=20):
    """Wait until the daemon's log matches pattern (re.M); return the match.
    A readiness wait: it returns as soon as the line is there."""
    deadline = time.monotonic() + timeout
    while True:
        m = re.search(pattern, s.stderr(), re.M)
        if m:
            return m
        assert time.monotonic() < deadline, "no %r in the log:\n%s" % (pattern, s.stderr())
        time.sleep(0.05)


def udp_ask(addr, payload, timeout=10.0, family=socket.AF_INET):
    """One datagram out, one back (or None on timeout). The default timeout
    is for replies that must come; to show that none comes, prefer a
    sentinel (see the module comment) to a short timeout."""
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(payload, addr)
        try:
            return s.recvfrom(65536)[0]
        except socket.timeout:
            return None


def tcp_read_all(addr, send=b"", timeout=5.0, family=socket.AF_INET, shut=True):
    """Connect, send, optionally half-close, read to EOF."""
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(addr)
        if send:
            s.sendall(send)
        if shut:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def read_line(sock, buf=b""):
    """Read from sock until LF; returns (line incl. LF, rest)."""
    while b"\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError(buf)
        buf += chunk
    line, rest = buf.split(b"\n", 1)
    return line + b"\n", rest


def tcp_queues(local, remote):
    """(send queue, receive queue) in bytes of the IPv4 TCP socket from
    local to remote, as the kernel reports them in /proc/net/tcp: what it
    holds for the socket's owner to send or to read. None if no such
    socket."""
    def hexaddr(a):
        return "%08X:%04X" % (struct.unpack("=I", socket.inet_aton(a[0]))[0], a[1])
    want = (hexaddr(local), hexaddr(remote))
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if (fields[1], fields[2]) == want:
                tx, rx = fields[4].split(":")
                return int(tx, 16), int(rx, 16)
    return None


class Tmux:
    """A program on a terminal of its own: a tmux server on a private
    socket (so nothing touches the user's), one window of a fixed size.
    keys() types with send-keys, screen() reads it with capture-pane, and
    wait() polls the screen until a pattern shows (never a bare sleep)."""

    def __init__(self, tmpdir, argv, env=None, width=100, height=30):
        self.sock = os.path.join(str(tmpdir), "tmux.sock")
        full_env = dict(os.environ)
        full_env.update(env or {})
        full_env.setdefault("TERM", "xterm")
        # The pane's shell-less command: argv, quoted for tmux's sh -c,
        # then a marker with its status, and a pause to read it.
        quoted = " ".join("'%s'" % a.replace("'", "'\\''") for a in argv)
        cmd = "%s; echo \"[[status $?]]\"; sleep 60" % quoted
        subprocess.run(["tmux", "-S", self.sock, "-f", "/dev/null",
                        "new-session", "-d", "-x", str(width), "-y",
                        str(height), cmd], check=True, env=full_env)

    def tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.sock] + list(args),
                              capture_output=True, text=True, check=True).stdout

    def keys(self, *keys):
        self.tmux("send-keys", *keys)

    def screen(self, escapes=False):
        return self.tmux("capture-pane", "-p", *(["-e"] if escapes else []))

    def wait(self, pattern, timeout=20, escapes=False):
        """The screen, once pattern (a regex) matches it."""
        deadline = time.monotonic() + timeout
        while True:
            s = self.screen(escapes)
            if re.search(pattern, s, re.M):
                return s
            if time.monotonic() > deadline:
                raise AssertionError("%r not on the screen:\n%s" % (pattern, s))
            time.sleep(0.05)

    def close(self):
        subprocess.run(["tmux", "-S", self.sock, "kill-server"],
                       capture_output=True)
