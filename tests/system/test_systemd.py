"""sockit serve under systemd, without systemd as PID 1.

Socket activation: systemd-socket-activate (Debian's systemd package)
binds the sockets, waits for the first datagram or connection, and execs
the real binary with LISTEN_FDS and LISTEN_FDNAMES, as systemd does for a
.socket unit. One instance binds one type of socket (-d: datagrams), so
UDP and TCP together take two, the outer one passing its sockets through
the inner one. The request that woke the wrapper is queued in the kernel
and must be answered by the daemon.

Readiness: NOTIFY_SOCKET names an abstract unix datagram socket the test
binds, with SO_PASSCRED, so that each message comes with its sender's
pid and uid.

The units shipped in dist/ are checked against the services they name.
"""
import glob
import os
import pwd
import re
import signal
import socket
import struct
import subprocess
import time

import pytest

from conftest import ROOT, SOCKIT, tcp_read_all, udp_ask, wait_log

ACTIVATE = "/usr/bin/systemd-socket-activate"
DAYTIME = re.compile(rb"^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\r\n$")
NAMES = "welcome, chat, exec, timefmt, daytime, time, ntp"
HINT = "Try 'sockit help serve'.\n"

pytestmark = pytest.mark.skipif(not os.access(ACTIVATE, os.X_OK),
                                reason="no systemd-socket-activate")


def free_port(tcp=True, udp=True, low=None):
    """A port of 127.0.0.1 free for TCP and/or UDP now; with low, one
    below 1024 (root binds it to check)."""
    for _ in range(200):
        socks = []
        try:
            if low is None:
                s = socket.socket(socket.AF_INET,
                                  socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
                s.close()
            else:
                port = low + int.from_bytes(os.urandom(2), "big") % 200
            for t, want in ((socket.SOCK_STREAM, tcp), (socket.SOCK_DGRAM, udp)):
                if want:
                    s = socket.socket(socket.AF_INET, t)
                    socks.append(s)
                    s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no free port")


# systemd-socket-activate gives its child TERM, PATH, USER and HOME, and
# only the rest it is told to (-E): the tests' own config file, key
# directory and (no) control socket (conftest), the sanitizers' options,
# NOTIFY_SOCKET.
PASS = ("SOCKIT_CONFIG", "XDG_CONFIG_HOME", "SOCKIT_CONTROL", "ASAN_OPTIONS",
        "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS", "NOTIFY_SOCKET")
# The wrappers say nothing but warnings, so that the daemon's log (the
# same file) holds only its own lines, each with its time (conftest).
QUIET = ["env", "SYSTEMD_LOG_LEVEL=warning"]


def passenv(env=None):
    """-E for each of PASS that the daemon's environment has, and for
    QUIET's level, for a wrapper that runs another."""
    have = set(os.environ) | set(env or {})
    return [a for n in PASS if n in have for a in ("-E", n)] + \
        ["-E", QUIET[1]]


def activate(*groups, env=None):
    """The wrapper command line for groups of (datagram, [(listen,
    name), ...]): one systemd-socket-activate per group, each execing the
    next. Names accumulate, as the inner ones pass the outer sockets
    through. env: variables the test sets for the daemon."""
    cmd, names = list(QUIET), []
    for dgram, socks in groups:
        names += [n for _, n in socks]
        cmd += [ACTIVATE] + (["-d"] if dgram else []) + passenv(env)
        for listen, _ in socks:
            cmd += ["-l", listen]
        cmd += ["--fdname=" + ":".join(names), "--"]
    return cmd


def first_listens(wrap):
    """What the outermost wrapper listens on: the inner ones listen only
    once it has been woken."""
    first = wrap[:wrap.index("--")]
    return [(first[i + 1], "-d" in first)
            for i, a in enumerate(first) if a == "-l"]


def bound(listen, dgram):
    """Is listen (a 127.0.0.1:PORT or a path) bound, listening for a
    stream? From /proc/net, without touching it (a probe would wake the
    wrapper)."""
    if listen.startswith("/"):
        return os.path.exists(listen)
    port = int(listen.rsplit(":", 1)[1])
    want = "0100007F:%04X" % port
    with open("/proc/net/udp" if dgram else "/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == want and (dgram or fields[3] == "0A"):
                return True
    return False


def wait_wrapper(wrap, timeout=20):
    """Wait until the outermost wrapper has bound its sockets."""
    deadline = time.monotonic() + timeout
    for listen, dgram in first_listens(wrap):
        while not bound(listen, dgram):
            assert time.monotonic() < deadline, "%s is not bound" % listen
            time.sleep(0.02)


def woken(s, wake, timeout=20):
    """Wait for the wrapper to listen, call wake() (the first request,
    which starts the daemon) and return its result, then wait for the
    daemon's ready line."""
    wait_wrapper(s.wrap, timeout)
    out = wake()
    s.wait_ready(timeout)
    return out


def start(serve, wrap, *args, env=None):
    s = serve(*args, wrap=wrap, env=env, wait=False)
    s.wrap = wrap
    return s


def refused(wrap, wake, args=(), env=None):
    """The daemon started by wrap (woken by wake()) exits 2; returns its
    stderr without the wrapper's lines."""
    full = dict(os.environ, **(env or {}))
    p = subprocess.Popen(wrap + [SOCKIT, "serve"] + list(args),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=full)
    try:
        wait_wrapper(wrap)
        wake()
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 2, (p.returncode, err)
    assert out == b"", out
    return "".join(l for l in err.decode().splitlines(True)
                   if l.startswith(("sockit:", "Try ")))


def poke_udp(port, payload=b""):
    """Wake the wrapper with a datagram; the daemon's reply to it."""
    return lambda: udp_ask(("127.0.0.1", port), payload)


def knock_udp(port):
    """Wake the wrapper with a datagram, for a daemon that will refuse to
    start (no reply to wait for)."""
    def wake():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.sendto(b"", ("127.0.0.1", port))
    return wake


def knock(family, addr):
    """Wake the wrapper with a connection. The daemon may refuse and exit
    before connect() returns, resetting the connection the kernel had
    already made: that still woke it."""
    def wake():
        with socket.socket(family, socket.SOCK_STREAM) as c:
            c.settimeout(10)
            try:
                c.connect(addr)
            except ConnectionResetError:
                pass
    return wake


def poke_tcp(port):
    return knock(socket.AF_INET, ("127.0.0.1", port))


# ---- socket activation ----

def test_activation_udp_tcp_and_unix(serve, tmp_path):
    """Sockets of three types for three services: each is served where it
    was handed, the datagram that woke the daemon is answered, nothing of
    the defaults is bound, and the unix socket's file stays (it is
    systemd's)."""
    pu, pn, pt = free_port(tcp=False), free_port(tcp=False), free_port(udp=False)
    path = str(tmp_path / "welcome.sock")
    wrap = activate((True, [("127.0.0.1:%d" % pu, "daytime"),
                            ("127.0.0.1:%d" % pn, "ntp")]),
                    (False, [("127.0.0.1:%d" % pt, "daytime"),
                             (path, "welcome")]))
    s = start(serve, wrap, "--ntp-local-stratum", "10")
    first = woken(s, poke_udp(pu))
    assert first is not None and DAYTIME.match(first), first
    assert s.lines == [
        "sockit: daytime/udp 127.0.0.1:%d: listening" % pu,
        "sockit: ntp/udp 127.0.0.1:%d: listening" % pn,
        "sockit: daytime/tcp 127.0.0.1:%d: listening" % pt,
        "sockit: welcome/unix %s: listening" % path,
        "sockit: ready, 4 sockets (4 from systemd), pid %d" % s.proc.pid,
    ]
    assert DAYTIME.match(tcp_read_all(("127.0.0.1", pt)))
    req = bytes([0x23]) + bytes(39) + os.urandom(8)
    reply = udp_ask(("127.0.0.1", pn), req)
    assert len(reply) == 48 and reply[0] & 7 == 4
    assert reply[24:32] == req[40:48]  # the origin echoes our transmit
    with socket.socket(socket.AF_UNIX) as u:
        u.settimeout(10)
        u.connect(path)
        assert u.recv(100) == b"welcome to sockit, unix\r\n"
    assert s.stop() == 0
    assert os.path.exists(path)
    assert "shutting down" in s.stderr()


def test_handed_sockets_have_the_listeners_limits_and_counters(serve):
    """A handed TCP socket is a listener like a bound one: --max-conn
    holds, and its summary line names it."""
    port = free_port(udp=False)
    wrap = activate((False, [("127.0.0.1:%d" % port, "timefmt")]))
    s = start(serve, wrap, "--max-conn", "1", "--log-interval", "1")
    a = woken(s, lambda: socket.create_connection(("127.0.0.1", port),
                                                 timeout=10))
    with a:
        a.sendall(b"%Y\n")
        assert re.match(rb"^\d{4}\n$", a.recv(100))
        with socket.create_connection(("127.0.0.1", port), timeout=10) as b:
            assert b.recv(100) == b""  # closed at once: over the limit
        wait_log(s, r"^sockit: timefmt/tcp 127\.0\.0\.1:%d: refused 1 "
                 r"connections in 1s \(over the limit of 1\)$" % port)


def test_handed_sockets_and_specs(serve):
    """A spec on the command line is bound as well; the defaults are not."""
    port = free_port(tcp=False)
    wrap = activate((True, [("127.0.0.1:%d" % port, "time")]))
    s = start(serve, wrap, "daytime/tcp=127.0.0.1:0")
    first = woken(s, poke_udp(port))
    assert len(first) == 4
    assert [l.split(":")[1] for l in s.lines[:-1]] == [" time/udp 127.0.0.1",
                                                       " daytime/tcp 127.0.0.1"]
    assert s.lines[-1].startswith("sockit: ready, 2 sockets (1 from systemd), ")
    assert DAYTIME.match(tcp_read_all(s.addr("daytime", "tcp")))


def test_a_name_that_is_no_service():
    """FileDescriptorName= unset names every socket after its unit
    (systemd-socket-activate: 'unknown')."""
    port = free_port(udp=False)
    err = refused(QUIET + [ACTIVATE, "-l", "127.0.0.1:%d" % port] +
                  passenv() + ["--"], poke_tcp(port))
    assert err == (
        "sockit: serve: socket 3 from systemd (tcp 127.0.0.1:%d) is named "
        "'unknown', which is no service (know %s): set its "
        "FileDescriptorName= to the service's name\n" % (port, NAMES) + HINT)


@pytest.mark.parametrize("dgram,name,what", [
    (False, "ntp", "tcp"),
    (True, "welcome", "udp"),
])
def test_a_socket_of_a_transport_the_service_lacks(dgram, name, what):
    port = free_port(tcp=not dgram, udp=dgram)
    wrap = activate((dgram, [("127.0.0.1:%d" % port, name)]))
    err = refused(wrap, knock_udp(port) if dgram else poke_tcp(port))
    assert err == (
        "sockit: serve: socket 3 from systemd (%s 127.0.0.1:%d) is named "
        "'%s', but %s has no %s transport\n" % (what, port, name, name, what)
        + HINT)


def test_a_unix_socket_for_a_service_without_tcp(tmp_path):
    path = str(tmp_path / "ntp.sock")
    err = refused(activate((False, [(path, "ntp")])),
                  knock(socket.AF_UNIX, path))
    assert err == (
        "sockit: serve: socket 3 from systemd (unix %s) is named 'ntp', but "
        "ntp has no stream (tcp) transport\n" % path + HINT)


def test_a_unix_datagram_socket(tmp_path):
    path = str(tmp_path / "d.sock")

    def wake():
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as u:
            u.sendto(b"x", path)
    err = refused(activate((True, [(path, "daytime")])), wake)
    assert err == (
        "sockit: serve: socket 3 from systemd ('daytime'): a unix datagram "
        "socket (sockit serves TCP, UDP and unix stream sockets)\n" + HINT)


def test_accept_yes_is_refused():
    """--accept (Accept=yes) hands over one connection, not the listener."""
    port = free_port(udp=False)
    p = subprocess.Popen([ACTIVATE, "-a", "-l", "127.0.0.1:%d" % port,
                          "--fdname=daytime"] + passenv() +
                         ["--", SOCKIT, "serve"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert p.stderr.readline().startswith(b"Listening on")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
            c.settimeout(20)
            assert c.recv(100) == b""  # the child exits at once
        # The wrapper reports its child's exit; then it is stopped.
        err = b""
        while b"died with code 2" not in err:
            line = p.stderr.readline()
            assert line, err
            err += line
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=20)
    assert (b"sockit: serve: socket 3 from systemd ('daytime'): a connected "
            b"stream socket, not a listening one (Accept=yes is not "
            b"supported)\n" + HINT.encode()) in err


def test_names_that_do_not_match_the_sockets():
    """LISTEN_FDNAMES with fewer names than LISTEN_FDS (the inner wrapper
    names its own two sockets, not the one passed through) is refused as
    systemd's sd_listen_fds_with_names() refuses it."""
    pu, pt, pt2 = free_port(tcp=False), free_port(udp=False), free_port(udp=False)
    wrap = QUIET + [ACTIVATE, "-d", "-l", "127.0.0.1:%d" % pu, "--fdname=daytime"] + \
        passenv() + ["--", ACTIVATE, "-l", "127.0.0.1:%d" % pt, "-l",
            "127.0.0.1:%d" % pt2, "--fdname=daytime:daytime"] + passenv() + ["--"]
    err = refused(wrap, knock_udp(pu))
    assert err == ("sockit: serve: the sockets systemd handed over "
                   "(LISTEN_FDS, LISTEN_FDNAMES): Invalid argument\n" + HINT)


def test_options_of_a_service_handed_no_socket():
    """With sockets handed over, a service none names is not served, so
    its options are a usage error as without systemd."""
    port = free_port(udp=False)
    wrap = activate((False, [("127.0.0.1:%d" % port, "daytime")]))
    err = refused(wrap, poke_tcp(port), args=["--ntp-threads", "2"])
    assert err == "sockit: serve: --ntp-threads: ntp is not being served\n" + HINT


def test_a_spec_on_a_handed_socket_clashes():
    port = free_port(udp=False)
    wrap = activate((False, [("127.0.0.1:%d" % port, "daytime")]))
    err = refused(wrap, poke_tcp(port),
                  args=["welcome=127.0.0.1:%d" % port])
    assert err == (
        "sockit: serve: 'daytime (socket 3 from systemd)' and "
        "'welcome=127.0.0.1:%d' both listen on tcp 127.0.0.1:%d\n"
        % (port, port) + HINT)


# ---- readiness ----

class Notify:
    """An abstract unix datagram socket for NOTIFY_SOCKET; each message
    comes with the sender's (pid, uid, gid)."""

    def __init__(self):
        self.name = "@sockit-test-notify-%s" % os.urandom(8).hex()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind("\0" + self.name[1:])

    def recv(self, timeout=20):
        self.sock.settimeout(timeout)
        data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        cred = None
        for level, kind, val in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                cred = struct.unpack("iII", val[:12])
        return data, cred

    def close(self):
        self.sock.close()


@pytest.fixture
def notify():
    n = Notify()
    yield n
    n.close()


def test_ready_after_every_listener_and_stopping(serve, notify):
    """READY=1 comes once the socket accepts (the port is asked for
    before the daemon starts, so that the test can connect as soon as it
    hears READY); STOPPING=1 when shutdown begins."""
    port = free_port(udp=False)
    s = serve("daytime/tcp=127.0.0.1:%d" % port,
              env={"NOTIFY_SOCKET": notify.name}, wait=False)
    msg, cred = notify.recv()
    assert msg == b"READY=1\nSTATUS=serving 1 socket (0 from systemd)"
    assert cred[0] == s.proc.pid
    assert DAYTIME.match(tcp_read_all(("127.0.0.1", port)))
    s.wait_ready()
    s.proc.send_signal(signal.SIGTERM)
    msg, cred = notify.recv()
    assert msg == b"STOPPING=1\nSTATUS=shutting down"
    assert cred[0] == s.proc.pid
    assert s.stop() == 0


def test_ready_with_handed_sockets(serve, notify):
    port = free_port(tcp=False)
    env = {"NOTIFY_SOCKET": notify.name}
    wrap = activate((True, [("127.0.0.1:%d" % port, "daytime")]), env=env)
    s = start(serve, wrap, env=env)
    woken(s, poke_udp(port))
    msg, cred = notify.recv()
    assert msg == b"READY=1\nSTATUS=serving 1 socket (1 from systemd)"
    assert cred[0] == s.proc.pid


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch user")
def test_ready_after_dropping_privileges(serve, notify):
    """--user: READY=1 is sent by the daemon as the user it became."""
    s = serve("daytime/tcp=127.0.0.1:0", "--user", "nobody",
              env={"NOTIFY_SOCKET": notify.name})
    msg, cred = notify.recv()
    assert msg.startswith(b"READY=1\n")
    assert cred[:2] == (s.proc.pid, pwd.getpwnam("nobody").pw_uid)


def test_no_notify_socket_there(serve, tmp_path):
    """A NOTIFY_SOCKET nobody listens on: the daemon says so once and
    serves anyway."""
    path = str(tmp_path / "nobody-listens")
    s = serve("daytime/tcp=127.0.0.1:0", env={"NOTIFY_SOCKET": path})
    assert DAYTIME.match(tcp_read_all(s.addr("daytime", "tcp")))
    assert ("sockit: serve: cannot tell systemd that we are ready "
            "(NOTIFY_SOCKET): no such file or directory\n") in s.stderr()


# ---- capabilities ----

@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start as nobody "
                    "with a capability")
def test_ambient_capability_is_dropped_once_bound(serve):
    """As systemd's User= with AmbientCapabilities=CAP_NET_BIND_SERVICE:
    the port below 1024 is bound, then every capability is gone, so the
    commands exec runs inherit none."""
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    if subprocess.run(drop + [SOCKIT, "--version"],
                      capture_output=True).returncode != 0:
        pytest.skip("nobody cannot run %s" % SOCKIT)
    port = free_port(udp=False, low=600)
    # The tests' config directory is root's own (mode 0700): read none.
    env = {"SOCKIT_CONFIG": ""}
    s = serve("daytime/tcp=127.0.0.1:%d" % port, env=env, wrap=drop + [
        "--inh-caps=+net_bind_service", "--ambient-caps=+net_bind_service"])
    with open("/proc/%d/status" % s.proc.pid) as f:
        status = f.read()
    caps = dict(re.findall(r"^(Cap(?:Inh|Prm|Eff|Amb)):\s+([0-9a-f]+)$",
                           status, re.M))
    assert caps == {"CapInh": "0" * 16, "CapPrm": "0" * 16,
                    "CapEff": "0" * 16, "CapAmb": "0" * 16}, caps
    assert re.search(r"^Uid:\s+65534\s+65534\s+65534", status, re.M)
    assert DAYTIME.match(tcp_read_all(("127.0.0.1", port)))
    # Without the capability the same port is refused.
    r = subprocess.run(drop + [SOCKIT, "serve", "daytime/tcp=127.0.0.1:%d"
                               % free_port(udp=False, low=600)],
                       capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, **env))
    assert r.returncode == 1 and "permission denied" in r.stderr, r.stderr


# ---- the units ----

def units():
    return sorted(glob.glob(os.path.join(ROOT, "dist", "*.socket")))


def services():
    """{name: (transports, port)} from `sockit help serve`."""
    out = subprocess.run([SOCKIT, "help", "serve"], capture_output=True,
                         text=True).stdout
    table = out.split("services:\n", 1)[1].split("\n\n", 1)[0]
    found = {}
    for line in table.splitlines():
        name, transports, port = line.split()[:3]
        found[name] = (set(transports.split(",")), int(port))
    return found


def test_one_socket_unit_per_service():
    """Each service has a socket unit (sockit-SERVICE.socket) with its
    default ports on 127.0.0.1 and ::1 over each of its transports, named
    for it, for sockit.service, which asks for every one."""
    svcs = services()
    assert sorted(os.path.basename(u) for u in units()) == sorted(
        "sockit-%s.socket" % n for n in svcs)
    with open(os.path.join(ROOT, "dist", "sockit.service.in")) as f:
        service = f.read()
    wanted = " ".join(re.findall(r"^Sockets=(.*)$", service, re.M)).split()
    assert sorted(wanted) == sorted("sockit-%s.socket" % n for n in svcs)
    for u in units():
        name = os.path.basename(u)[len("sockit-"):-len(".socket")]
        # systemd allows repeated keys: keep them all, in order.
        with open(u) as f:
            lines = f.read().splitlines()
        sock = {}
        section = None
        for line in lines:
            if line.startswith("["):
                section = line.strip("[]")
            elif "=" in line and not line.startswith("#") and section == "Socket":
                k, v = line.split("=", 1)
                sock.setdefault(k, []).append(v)
        transports, port = svcs[name]
        want = {"ListenStream": ["127.0.0.1:%d" % port, "[::1]:%d" % port]
                if "tcp" in transports else [],
                "ListenDatagram": ["127.0.0.1:%d" % port, "[::1]:%d" % port]
                if "udp" in transports else []}
        assert sock.get("ListenStream", []) == want["ListenStream"], u
        assert sock.get("ListenDatagram", []) == want["ListenDatagram"], u
        assert sock["FileDescriptorName"] == [name], u
        assert sock["Service"] == ["sockit.service"], u


def test_units_verify(tmp_path):
    """systemd-analyze verify finds nothing wrong with the units, once
    configured for a prefix (its ExecStart must exist: the binary under
    test stands in for it)."""
    analyze = "/usr/bin/systemd-analyze"
    if not os.access(analyze, os.X_OK):
        pytest.skip("no systemd-analyze")
    d = tmp_path / "system"
    d.mkdir()
    with open(os.path.join(ROOT, "dist", "sockit.service.in")) as f:
        text = f.read().replace("@SK_BINDIR@", os.path.dirname(SOCKIT))
    (d / "sockit.service").write_text(text)
    for u in units():
        (d / os.path.basename(u)).write_text(open(u).read())
    r = subprocess.run([analyze, "verify", "--man=no", "--recursive-errors=no",
                        str(d / "sockit.service")] +
                       [str(d / os.path.basename(u)) for u in units()],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, SYSTEMD_LOG_LEVEL="warning"))
    assert r.returncode == 0, r.stderr
    assert "sockit" not in r.stderr, r.stderr


def test_sample_config(serve, tmp_path):
    """The sample /etc/sockit/sockit.conf, every setting uncommented (but
    user, which only root may use), is a configuration the daemon
    takes; as shipped, it sets nothing."""
    with open(os.path.join(ROOT, "dist", "sockit.conf")) as f:
        text = f.read()
    assert not [l for l in text.splitlines()
                if l.strip() and not l.startswith(("#", ";", "["))]
    on = "\n".join(l[1:] if re.match(r"^;[a-z_-]+ = ", l) else l
                   for l in text.splitlines()
                   if not l.startswith(";user ="))
    assert on.count("\nservice = ") == 3
    cfg = tmp_path / "sockit.conf"
    cfg.write_text(on)
    # The command line's listener replaces the file's.
    s = serve("-c", str(cfg), "daytime/tcp=127.0.0.1:0")
    assert DAYTIME.match(tcp_read_all(s.addr("daytime", "tcp")))
