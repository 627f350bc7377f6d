"""sockit status: the daemon's counters and settings over its control
socket, and the same on SIGUSR1 in its log."""
import json
import os
import re
import signal
import socket
import stat
import subprocess
import time

import pytest

from conftest import SOCKIT, sockit, udp_ask, tcp_read_all, wait_log


def status(path, *args):
    return sockit("status", "--control", path, *args)


def wait_for(fn, timeout=20):
    """fn() until it is true; return its value (a readiness wait)."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.05)


def test_status_counts_and_settings(serve, tmp_path):
    ctl = str(tmp_path / "ctl")
    s = serve("daytime=127.0.0.1:0", "ntp=127.0.0.1:0", "--control", ctl,
              "--daytime-rate", "7")
    assert "sockit: control socket %s" % ctl in s.stderr()
    st = os.stat(ctl)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_uid == os.geteuid()
    du = s.addr("daytime", "udp")
    dt = s.addr("daytime", "tcp")
    for _ in range(3):
        assert udp_ask(du, b"x") is not None
    assert tcp_read_all(dt) != b""
    r = status(ctl)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert re.match(r"sockit [\d.]+: pid %d, up \d+ s, user \S+ \(%d\), group \S+ \(%d\)$"
                    % (s.proc.pid, os.geteuid(), os.getegid()), lines[0]), lines[0]
    assert "daytime/udp %s:%d: 3 requests, 3 replies; dropped 0 over the rate limit, " \
        "0 malformed or unsendable, 0 from loop-prone ports, 0 over the outbound " \
        "budget" % du in lines
    assert "daytime/tcp %s:%d: 1 connection (0 open), 1 request; closed 1 done, " \
        "0 peer, 0 reset, 0 idle, 0 deadline, 0 overflow, 0 nomem, 0 shutdown; " \
        "refused 0 over the limit, 0 over the per-source limit, 0 out of memory; " \
        "0 failed accepts" % dt in lines
    assert "settings:" in lines
    daytime = [l for l in lines if l.startswith("  [daytime] limits: ")]
    assert len(daytime) == 1 and ", rate = 7, burst = " in daytime[0], daytime
    # The same as JSON, NTP's counts included (its workers publish them
    # within a second).
    ntp = s.addr("ntp", "udp")
    r = sockit("time", "--ntp", "%s:%d" % ntp)

    def ntp_counted():
        doc = json.loads(status(ctl, "--json").stdout)
        l = [x for x in doc["listeners"] if x["name"] == "ntp/udp %s:%d" % ntp][0]
        return doc if l["requests"] >= 1 and l["replies"] >= 1 else None

    doc = wait_for(ntp_counted)
    assert doc["pid"] == s.proc.pid and doc["uid"] == os.geteuid()
    l = [x for x in doc["listeners"] if x["name"] == "daytime/udp %s:%d" % du][0]
    assert (l["service"], l["transport"], l["address"], l["requests"], l["replies"]) == \
        ("daytime", "udp", "%s:%d" % du, 3, 3)
    assert l["drops"] == {"rate": 0, "malformed": 0, "loop": 0, "outbound": 0,
                          "denied": 0, "unsent": 0}
    assert doc["settings"]["daytime"]["limits"]["rate"] == 7
    assert doc["settings"]["ntp"]["settings"]["stratum"] == 2
    assert doc["settings"]["serve"]["log-interval"] == 10


def test_status_counts_drops(serve, tmp_path):
    ctl = str(tmp_path / "ctl")
    s = serve("daytime/udp=127.0.0.1:0", "--control", ctl, "--daytime-rate", "1",
              "--daytime-burst", "1", "--log-interval", "1")
    du = s.addr("daytime", "udp")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        for _ in range(5):
            u.sendto(b"x", du)
    # Drops are counted across the log's summaries too.
    wait_log(s, r"dropped 4 datagrams")
    doc = json.loads(status(ctl, "--json").stdout)
    assert doc["listeners"][0]["requests"] == 5
    assert doc["listeners"][0]["replies"] == 1
    assert doc["listeners"][0]["drops"]["rate"] == 4


def test_sigusr1_logs_the_status(serve, tmp_path):
    s = serve("daytime/udp=127.0.0.1:0", "--control", "none")
    du = s.addr("daytime", "udp")
    assert udp_ask(du, b"x") is not None
    s.proc.send_signal(signal.SIGUSR1)
    wait_log(s, r"^sockit: status: daytime/udp %s:%d: 1 request, 1 reply; dropped 0 "
             r"over the rate limit" % du)
    wait_log(s, r"^sockit: status:   \[daytime\] limits: max-conn = ")


def test_status_errors(serve, tmp_path):
    ctl = str(tmp_path / "ctl")
    r = status(ctl)
    assert r.returncode == 1
    assert r.stderr == "sockit: status: %s: No such file or directory (is sockit serve " \
        "running?)\n" % ctl
    r = sockit("status", "--control", ctl, "extra")
    assert r.returncode == 2
    assert r.stderr.splitlines()[0] == "sockit: status: unexpected argument 'extra'"
    # A stale socket (its daemon gone) is replaced; a live one is not.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as u:
        u.bind(ctl)
    s = serve("daytime/udp=127.0.0.1:0", "--control", ctl)
    assert status(ctl).returncode == 0
    r = sockit("serve", "daytime/udp=127.0.0.1:0", "--control", ctl, timeout=20)
    assert r.returncode == 1
    assert "sockit: serve: control socket %s: another sockit serve answers there " \
        "(give each daemon its own --control)\n" % ctl in r.stderr
    # A request it does not know, and one that never ends its line.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.settimeout(10)
        c.connect(ctl)
        c.sendall(b"reboot\n")
        assert c.recv(4096) == b"error: unknown request (say 'status' or 'status json')\n"
        assert c.recv(4096) == b""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.settimeout(10)
        c.connect(ctl)
        c.sendall(b"s" * 100)
        try:
            assert c.recv(4096) == b""
        except ConnectionResetError:
            pass  # closed with our bytes unread: as good
    # The daemon goes on answering, and removes its socket at the end.
    assert status(ctl).returncode == 0
    assert s.stop() == 0
    assert not os.path.exists(ctl)


def test_only_the_daemons_user_may_ask(serve, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to drop to nobody")
    d = tmp_path / "run"
    ctl = str(d / "control")
    os.chmod(tmp_path, 0o755)
    s = serve("daytime/udp=127.0.0.1:0", "--control", ctl, "-u", "nobody")
    st = os.stat(ctl)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (65534, 0o600)
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700 and os.stat(d).st_uid == 65534
    r = status(ctl)  # root may
    assert r.returncode == 0 and "user nobody (65534)" in r.stdout.splitlines()[0]
    # Another user may not: a process of uid 1 (daemon) connecting.
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(1)
            os.setuid(1)
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(ctl)
            os._exit(0)
        except PermissionError:
            os._exit(13)
        except BaseException:
            os._exit(99)
    _, code = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(code) == 13
