"""SIGHUP reloads the config file: new settings for new requests,
listeners added and removed, unchanged ones kept with their sockets, and a
bad config logged with the running one kept.

A listener's socket is known by its inode in /proc/net/{tcp,udp}: the
same inode after a reload is the same socket, not one bound again. Each
reload is awaited on its log line ("reloaded ..." or "reload refused"),
never with a sleep.
"""
import json
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import SOCKIT, sockit, tcp_read_all, udp_ask, wait_log
from test_systemd import Notify, activate, free_port, poke_udp, start, woken


def sockets(proto, port):
    """Inodes of our sockets bound to 127.0.0.1:port (TCP: listening)."""
    want = "0100007F:%04X" % port
    found = []
    with open("/proc/net/%s" % proto) as f:
        next(f)
        for line in f:
            p = line.split()
            if p[1] == want and (proto == "udp" or p[3] == "0A"):
                found.append(int(p[9]))
    return found


OUTCOME = re.compile(r"^sockit: (?:reloaded |reload refused, nothing changed: ).*$",
                     re.M)


def hup(s):
    """SIGHUP, then wait for the reload's outcome in the log; return that
    line."""
    before = len(OUTCOME.findall(s.stderr()))
    s.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while True:
        found = OUTCOME.findall(s.stderr())
        if len(found) > before:
            return found[before]
        assert time.monotonic() < deadline, "no reload in the log:\n" + s.stderr()
        time.sleep(0.05)


def listening(s, name):
    """(host, port) from the log's "NAME HOST:PORT: listening" line."""
    m = wait_log(s, r"^sockit: %s 127\.0\.0\.1:(\d+): listening$" % re.escape(name))
    return "127.0.0.1", int(m.group(1))


def until(f, text, who):
    """Read f's lines until one holds text; fails if who's connection
    closes first."""
    while True:
        line = f.readline()
        assert line, "%s's connection closed" % who
        if text in line:
            return line


def free_tcp_port():
    with socket.socket() as t:
        t.bind(("127.0.0.1", 0))
        return t.getsockname()[1]


def join(addr, nick):
    """A chat member called nick, in the room; returns (socket, its
    reader)."""
    c = socket.create_connection(addr, timeout=10)
    f = c.makefile("rb")
    c.sendall(b"/nick %s\n" % nick)
    while nick not in f.readline():
        pass
    return c, f


def conf(path, text):
    path.write_text(text)
    return str(path)


def test_reload_adds_closes_and_keeps_sockets(serve, tmp_path):
    c = conf(tmp_path / "sockit.conf",
             "[serve]\n"
             "service = welcome/tcp=127.0.0.1:0\n"
             "service = daytime=127.0.0.1:0\n"
             "[welcome]\n"
             "banner = one\n")
    s = serve("-c", c)
    w = s.addr("welcome", "tcp")
    du = s.addr("daytime", "udp")
    dt = s.addr("daytime", "tcp")
    assert tcp_read_all(w) == b"one"
    inode = sockets("tcp", w[1])
    assert len(inode) == 1
    conf(tmp_path / "sockit.conf",
         "[serve]\n"
         "service = welcome/tcp=127.0.0.1:0\n"
         "service = daytime/tcp=127.0.0.1:0\n"
         "service = timefmt/tcp=127.0.0.1:0\n"
         "[welcome]\n"
         "banner = two\n")
    line = hup(s)
    assert line == "sockit: reloaded %s: 3 sockets, 1 new, 1 closed" % c
    assert "sockit: daytime/udp 127.0.0.1:%d: closed\n" % du[1] in s.stderr()
    # Kept: the same sockets (port 0 was asked for: a new bind would
    # have had another port), and the new banner for a new connection.
    assert sockets("tcp", w[1]) == inode
    assert tcp_read_all(w) == b"two"
    assert re.fullmatch(rb"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\r\n",
                        tcp_read_all(dt))
    # Closed: the port is unbound, and a datagram there is refused.
    assert sockets("udp", du[1]) == []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.connect(du)
        u.send(b"x")
        u.settimeout(10)
        with pytest.raises(ConnectionRefusedError):
            u.recv(100)
    # Added, on the service's new settings.
    tf = listening(s, "timefmt/tcp")
    assert tcp_read_all(tf, b"%Y\n").strip().isdigit()


def test_reload_without_a_config_file_rereads_the_command_line(serve):
    s = serve("daytime/udp=127.0.0.1:0")
    du = s.addr("daytime", "udp")
    inode = sockets("udp", du[1])
    assert not os.path.exists(os.environ["SOCKIT_CONFIG"])
    assert hup(s) == "sockit: reloaded (no config file): 1 socket, 0 new, 0 closed"
    assert sockets("udp", du[1]) == inode
    assert udp_ask(du, b"x") is not None


def test_a_connection_outlives_the_listener_that_took_it(serve, tmp_path):
    """Removing a listener ends no conversation: a chat member who came
    in through it stays in the room, and hears one who came in through
    the new one."""
    c = conf(tmp_path / "c", "[serve]\nservice = chat/tcp=127.0.0.1:0\n")
    s = serve("-c", c)
    old = s.addr("chat", "tcp")
    a, f = join(old, b"alice")
    port = free_tcp_port()
    conf(tmp_path / "c", "[serve]\nservice = chat/tcp=127.0.0.1:%d\n" % port)
    assert hup(s) == "sockit: reloaded %s: 1 socket, 1 new, 1 closed" % c
    assert sockets("tcp", old[1]) == []
    b = socket.create_connection(("127.0.0.1", port), timeout=10)
    b.sendall(b"/nick bob\nhello from the new port\n")
    until(f, b"hello from the new port", "alice")
    a.sendall(b"hi bob\n")
    until(b.makefile("rb"), b"hi bob", "bob")
    a.close()
    b.close()


BAD = [
    ("[serve]\nservice = daytime=127.0.0.1:0\nnonsense\n",
     r"%s:3: syntax error: expected KEY = VALUE"),
    ("[serve]\nservice = daytime=127.0.0.1:0\n[daytime]\nrate = many\n",
     r"%s:4: daytime-rate: 'many' is not a whole number from 0 to \d+"),
    ("[serve]\nservice = nosuch\n",
     r"%s:2: 'nosuch': unknown service 'nosuch' \(know [a-z, ]+\)"),
    ("[serve]\nservice = exec=127.0.0.1:0\n[exec]\nraw = 1\n",
     r"exec: raw commands have no authentication: they need insecure = 1"),
    ("[serve]\nservice = daytime/tcp=127.0.0.1:41999\n"
     "service = welcome/tcp=127.0.0.1:41999\n",
     r"'daytime/tcp=127.0.0.1:41999' and 'welcome/tcp=127.0.0.1:41999' both "
     r"listen on tcp 127.0.0.1:41999"),
]


@pytest.mark.parametrize("text,err", BAD)
def test_a_bad_config_is_refused_and_the_running_one_stays(serve, tmp_path, text, err):
    c = conf(tmp_path / "c", "[serve]\nservice = daytime=127.0.0.1:0\n"
             "service = welcome/tcp=127.0.0.1:0\n[welcome]\nbanner = kept\n")
    s = serve("-c", c)
    w = s.addr("welcome", "tcp")
    du = s.addr("daytime", "udp")
    before = sockets("tcp", w[1]) + sockets("udp", du[1])
    conf(tmp_path / "c", text)
    line = hup(s)
    assert re.fullmatch(r"sockit: reload refused, nothing changed: " +
                        (err % re.escape(c) if "%s" in err else err), line), line
    assert sockets("tcp", w[1]) + sockets("udp", du[1]) == before
    assert tcp_read_all(w) == b"kept"
    assert udp_ask(du, b"x") is not None
    # The file fixed, the next reload takes it.
    conf(tmp_path / "c", "[serve]\nservice = daytime=127.0.0.1:0\n"
         "service = welcome/tcp=127.0.0.1:0\n[welcome]\nbanner = fixed\n")
    assert hup(s) == "sockit: reloaded %s: 3 sockets, 0 new, 0 closed" % c
    assert tcp_read_all(w) == b"fixed"


def test_a_listener_that_cannot_bind_refuses_the_whole_reload(serve, tmp_path):
    """Nothing is half done: of two new listeners, the one that could
    bind is closed again when the other cannot, and the old ones stay."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    c = conf(tmp_path / "c", "[serve]\nservice = daytime/udp=127.0.0.1:0\n")
    s = serve("-c", c)
    du = s.addr("daytime", "udp")
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    fport = free.getsockname()[1]
    free.close()
    conf(tmp_path / "c",
         "[serve]\nservice = welcome/tcp=127.0.0.1:%d\n"
         "service = daytime/tcp=127.0.0.1:%d\n" % (fport, port))
    line = hup(s)
    assert line == ("sockit: reload refused, nothing changed: daytime/tcp "
                    "127.0.0.1:%d: address already in use" % port)
    assert sockets("tcp", fport) == []
    assert udp_ask(du, b"x") is not None
    taken.close()


def test_reload_reads_the_exec_keys_again(serve, tmp_path):
    keys = tmp_path / "keys"
    alice = tmp_path / "alice"
    bob = tmp_path / "bob"
    ka, kb = "11" * 32, "22" * 32
    for p, text in ((keys, "alice %s\n" % ka), (alice, "alice %s\n" % ka),
                    (bob, "bob %s\n" % kb)):
        p.write_text(text)
        os.chmod(p, 0o600)
    c = conf(tmp_path / "c", "[serve]\nservice = exec/tcp=127.0.0.1:0\n"
             "[exec]\nkeys = %s\n" % keys)
    s = serve("-c", c)
    hp = s.hostport("exec", "tcp")

    def run(key):
        return subprocess.run([SOCKIT, "exec", "-k", str(key), hp, "--", "echo", "ok"],
                              capture_output=True, timeout=30)

    r = run(alice)
    assert (r.returncode, r.stdout) == (0, b"ok\n"), r.stderr
    # An open connection is not cut by the change: it is proven already.
    keys.write_text("bob %s\n" % kb)
    assert hup(s) == "sockit: reloaded %s: 1 socket, 0 new, 0 closed" % c
    r = run(alice)
    assert r.returncode == 255
    assert r.stderr == ("sockit: exec: %s: authentication failed (identity alice)\n"
                        % hp).encode()
    r = run(bob)
    assert (r.returncode, r.stdout) == (0, b"ok\n"), r.stderr
    # A key file others may read is refused, and bob's key still works.
    os.chmod(keys, 0o644)
    line = hup(s)
    assert line.startswith("sockit: reload refused, nothing changed: exec: %s: " % keys), line
    r = run(bob)
    assert (r.returncode, r.stdout) == (0, b"ok\n"), r.stderr


def test_reload_gives_ntp_workers_new_settings(serve, tmp_path):
    """NTP is served on worker threads, each with its own copy of the
    settings: a reload hands each a new one. Denied requests are counted,
    so a denial is seen without waiting for a reply that never comes."""
    ctl = str(tmp_path / "ctl")
    c = conf(tmp_path / "c", "[serve]\nservice = ntp=127.0.0.1:0\n"
             "[ntp]\nthreads = 2\nallow = 127.0.0.0/8\n")
    s = serve("-c", c, "--control", ctl)
    addr = s.addr("ntp", "udp")
    req = b"\x23" + b"\0" * 47
    assert udp_ask(addr, req) is not None
    conf(tmp_path / "c", "[serve]\nservice = ntp=127.0.0.1:0\n"
         "[ntp]\nthreads = 3\nallow = 10.0.0.0/8\n")
    assert hup(s) == "sockit: reloaded %s: 1 socket, 0 new, 0 closed" % c
    assert "sockit: ntp: threads and busy-poll take a restart; keeping 2 and 0\n" \
        in s.stderr()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.sendto(req, addr)

    def denied():
        r = sockit("status", "--control", ctl, "--json")
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        return sum(l["drops"]["denied"] for l in doc["listeners"])

    deadline = time.monotonic() + 20
    while denied() < 1:
        assert time.monotonic() < deadline, "no denial counted"
        time.sleep(0.05)
    r = sockit("status", "--control", ctl)
    assert "threads = 2" in r.stdout, r.stdout


def test_reload_tells_systemd(serve, tmp_path):
    n = Notify()
    try:
        s = serve("daytime/udp=127.0.0.1:0", env={"NOTIFY_SOCKET": n.name})
        msg, _ = n.recv()
        assert msg.startswith(b"READY=1")
        s.proc.send_signal(signal.SIGHUP)
        msg, cred = n.recv()
        assert msg == b"RELOADING=1\nSTATUS=reloading"
        assert cred[0] == s.proc.pid
        msg, _ = n.recv()
        assert msg == b"READY=1\nSTATUS=serving 1 socket (0 from systemd)"
    finally:
        n.close()


def test_sighup_before_the_daemon_is_ready_does_not_kill_it(tmp_path):
    """A SIGHUP sent while the daemon binds (a logrotate racing a start)
    is ignored with a log line, not the end of the daemon."""
    p = subprocess.Popen([SOCKIT, "serve", "daytime/udp=127.0.0.1:0"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = p.stdout.readline()
        p.send_signal(signal.SIGHUP)
        while b"ready" not in line:
            line = p.stdout.readline()
            assert line, p.stderr.read()
        assert p.poll() is None
    finally:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=20)
    assert p.returncode == 0, err


def unix_inode(path):
    """The inode of the listening unix socket bound at path, or None."""
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            p = line.split()
            if len(p) >= 8 and p[7] == path and p[5] == "01":
                return int(p[6])
    return None


def test_unix_listeners_are_kept_and_handed_on(serve, tmp_path):
    """A unix socket asked for again keeps its socket; one whose path
    another service takes over is closed first, and its file is then the
    new listener's (not removed with the old one)."""
    keep, move = str(tmp_path / "keep.sock"), str(tmp_path / "move.sock")
    c = conf(tmp_path / "c", "[serve]\nservice = welcome=unix:%s\n"
             "service = timefmt=unix:%s\n[welcome]\nbanner = w\n" % (keep, move))
    s = serve("-c", c)
    ik = unix_inode(keep)
    assert ik is not None and unix_inode(move) is not None
    conf(tmp_path / "c", "[serve]\nservice = welcome=unix:%s\n"
         "service = daytime=unix:%s\n[welcome]\nbanner = w\n" % (keep, move))
    assert hup(s) == "sockit: reloaded %s: 2 sockets, 1 new, 1 closed" % c
    assert unix_inode(keep) == ik
    got = tcp_read_all(move, timeout=10, family=socket.AF_UNIX, shut=False)
    assert re.fullmatch(rb"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\r\n", got), got


def test_a_larger_chat_room_keeps_its_members(serve, tmp_path):
    """Room for more members grows chat's nick table; the members already
    in are moved to it, so their nicks are still theirs."""
    c = conf(tmp_path / "c", "[serve]\nservice = chat/tcp=127.0.0.1:0\n"
             "[chat]\nmax-members = 10\nmax-held = 0\n")
    s = serve("-c", c)
    addr = s.addr("chat", "tcp")
    a, _ = join(addr, b"alice")
    conf(tmp_path / "c", "[serve]\nservice = chat/tcp=127.0.0.1:0\n"
         "[chat]\nmax-members = 5000\nmax-held = 0\n")
    assert hup(s) == "sockit: reloaded %s: 1 socket, 0 new, 0 closed" % c
    b = socket.create_connection(addr, timeout=10)
    fb = b.makefile("rb")
    b.sendall(b"/nick alice\n")
    until(fb, b"error: the nick alice is taken", "bob")
    b.close()
    a.close()


def test_reload_keeps_the_sockets_systemd_handed_over(serve, tmp_path):
    """A handed socket is not the config's to close: it stays through a
    reload that adds a listener of the config's own."""
    port = free_port(tcp=False)
    c = conf(tmp_path / "c", "")
    wrap = activate((True, [("127.0.0.1:%d" % port, "daytime")]))
    s = start(serve, wrap, "-c", c)
    assert woken(s, poke_udp(port)) is not None
    inode = sockets("udp", port)
    assert len(inode) == 1
    conf(tmp_path / "c", "[serve]\nservice = timefmt/udp=127.0.0.1:0\n")
    assert hup(s) == "sockit: reloaded %s: 2 sockets, 1 new, 0 closed" % c
    assert sockets("udp", port) == inode
    assert udp_ask(("127.0.0.1", port), b"x") is not None
    tf = wait_log(s, r"^sockit: timefmt/udp 127\.0\.0\.1:(\d+): listening$")
    assert udp_ask(("127.0.0.1", int(tf.group(1))), b"%Y") is not None
