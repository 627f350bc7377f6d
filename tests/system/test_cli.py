"""The sockit command: help, version, exit codes, error messages, serve's
arguments and config file, privileges, signals, SO_REUSEADDR, and the
clients against the real server."""
import json
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import SOCKIT, sockit, tcp_read_all, unstamp


def test_version_and_help():
    r = sockit("--version")
    assert r.returncode == 0 and re.match(r"^sockit \d+\.\d+\.\d+\n$", r.stdout)
    r = sockit("help")
    assert r.returncode == 0
    for cmd in ("serve", "welcome", "time", "bench", "help"):
        assert re.search(r"^  %s " % cmd, r.stdout, re.M), cmd
    for cmd in ("serve", "welcome", "time", "bench"):
        r = sockit("help", cmd)
        assert r.returncode == 0 and r.stdout.startswith("usage: sockit %s" % cmd)
        assert sockit(cmd, "--help").stdout == r.stdout


def test_usage_errors_exit_2():
    r = sockit()
    assert r.returncode == 2
    r = sockit("frobnicate")
    assert r.returncode == 2
    assert r.stderr == "sockit: unknown command 'frobnicate'\nTry 'sockit help'.\n"
    r = sockit("help", "frobnicate")
    assert r.returncode == 2
    r = sockit("time", "--tries", "0", "127.0.0.1")
    assert r.returncode == 2 and "--tries: '0'" in r.stderr
    r = sockit("time", "127.0.0.1", "%Q")
    assert r.returncode == 2
    assert r.stderr.startswith("sockit: time: FORMAT: unknown conversion in format\n")
    r = sockit("time", "--tcp", "127.0.0.1", "a\nb")
    assert r.returncode == 2
    assert r.stderr.startswith("sockit: time: FORMAT: a line break cannot be sent over TCP\n")
    r = sockit("welcome")
    assert r.returncode == 2


@pytest.mark.parametrize("arg,msg", [
    ("nosuch", "sockit: serve: 'nosuch': unknown service 'nosuch' "
               "(know welcome, chat, exec, timefmt, daytime, time, ntp)"),
    ("welcome/udp", "sockit: serve: 'welcome/udp': welcome has no udp transport"),
    ("daytime/sctp", "sockit: serve: 'daytime/sctp': expected SERVICE[/tcp|/udp][=[ADDR]:PORT]"),
    ("daytime=127.0.0.1:99999", "sockit: serve: 'daytime=127.0.0.1:99999': port must be a number from 0 to 65535"),
    ("daytime=::1:13", "sockit: serve: 'daytime=::1:13': write IPv6 addresses as [ADDR]:PORT"),
])
def test_serve_bad_arguments(arg, msg):
    r = sockit("serve", arg)
    assert r.returncode == 2, r
    assert r.stderr.startswith(msg + "\n"), r.stderr


def test_serve_bad_address_is_named():
    # Malformed: a usage error, checked before anything is bound.
    r = sockit("serve", "daytime=256.1.1.1:0")
    assert (r.returncode, r.stderr) == (
        2, "sockit: serve: 'daytime=256.1.1.1:0': not an IPv4 address (four "
           "numbers from 0 to 255)\nTry 'sockit help serve'.\n")


def test_serve_bad_option_value():
    r = sockit("serve", "--rate", "lots")
    assert r.returncode == 2
    assert "rate: 'lots' is not a whole number" in r.stderr
    r = sockit("serve", "--banner", "{nope}")
    assert r.returncode == 2
    assert "banner: unknown or unterminated {field}" in r.stderr


def test_address_in_use(serve):
    s = serve("welcome=127.0.0.1:0")
    port = s.addr("welcome", "tcp")[1]
    before = time.time()
    r = sockit("serve", "welcome=127.0.0.1:%d" % port, timeout=10)
    assert r.returncode == 1
    # A pipe: the line starts with the time.
    assert unstamp(r.stderr, before) == \
        "sockit: welcome/tcp 127.0.0.1:%d: address already in use\n" % port


def test_serve_picks_services_and_transports(serve):
    s = serve("daytime/udp=127.0.0.1:0", "timefmt=[::1]:0", "welcome=0")
    assert sorted(s.addrs) == [("daytime", "udp"), ("timefmt", "tcp"),
                               ("timefmt", "udp"), ("welcome", "tcp")]
    assert s.addrs[("timefmt", "tcp")][0][0] == "::1"
    # An empty address means both loopbacks.
    assert sorted(h for h, _ in s.addrs[("welcome", "tcp")]) == ["127.0.0.1", "::1"]


def test_serve_defaults_listen_on_documented_ports(serve):
    """No arguments: every service on its default port (skipped when one of
    them is taken on this machine)."""
    for port in (8080, 8081, 8082, 8083, 10013, 10037, 10123):
        with socket.socket() as t:
            if t.connect_ex(("127.0.0.1", port)) == 0:
                pytest.skip("port %d is in use here" % port)
    s = serve()
    got = {k: sorted(p for _, p in v) for k, v in s.addrs.items()}
    assert got == {
        ("welcome", "tcp"): [8080, 8080],
        ("chat", "tcp"): [8081, 8081], ("chat", "udp"): [8081, 8081],
        ("exec", "tcp"): [8082, 8082], ("exec", "udp"): [8082, 8082],
        ("timefmt", "tcp"): [8083, 8083], ("timefmt", "udp"): [8083, 8083],
        ("daytime", "tcp"): [10013, 10013], ("daytime", "udp"): [10013, 10013],
        ("time", "tcp"): [10037, 10037], ("time", "udp"): [10037, 10037],
        ("ntp", "udp"): [10123, 10123],
    }


def test_config_file(serve, tmp_path):
    cfg = tmp_path / "sockit.ini"
    cfg.write_text("; a comment\n[serve]\nservice = welcome=127.0.0.1:0\n"
                   "service = time/udp=127.0.0.1:0\nbanner = from file\\n\n"
                   "idle_timeout = 30\nrate = 5\n")
    s = serve("--config", str(cfg))
    assert sorted(s.addrs) == [("time", "udp"), ("welcome", "tcp")]
    assert tcp_read_all(s.addr("welcome", "tcp")) == b"from file\n"
    # The command line wins over the file.
    s2 = serve("--config", str(cfg), "--banner", "from argv\\n", "welcome=127.0.0.1:0")
    assert sorted(s2.addrs) == [("welcome", "tcp")]
    assert tcp_read_all(s2.addr("welcome", "tcp")) == b"from argv\n"


@pytest.mark.parametrize("text,msg", [
    ("[serve]\nbogus = 1\n", ":2: unknown setting 'bogus'"),
    ("[serve]\nrate = 1\nservice = nosuch\n", ":3: 'nosuch': unknown service"),
    ("[other]\nrate = 1\n", ":2: unknown section [other]"),
    ("[serve]\nthis is not ini\n", ":2: syntax error"),
])
def test_config_file_errors(tmp_path, text, msg):
    cfg = tmp_path / "bad.ini"
    cfg.write_text(text)
    r = sockit("serve", "--config", str(cfg))
    assert r.returncode == 2
    assert r.stderr.startswith("sockit: serve: %s%s" % (cfg, msg)), r.stderr


def test_config_file_missing(tmp_path):
    r = sockit("serve", "--config", str(tmp_path / "nope.ini"))
    assert r.returncode == 2
    assert r.stderr == "sockit: serve: %s: No such file or directory\n" % (tmp_path / "nope.ini")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signals_stop_cleanly(serve, sig):
    s = serve("daytime=127.0.0.1:0")
    assert tcp_read_all(s.addr("daytime", "tcp"))
    assert s.stop(sig) == 0
    assert "sockit: shutting down" in s.stderr()


def test_restart_binds_at_once(serve):
    """SO_REUSEADDR: connections the server closed first leave TIME_WAIT
    sockets on its port; a new server binds it straight away."""
    s = serve("daytime/tcp=127.0.0.1:0")
    port = s.addr("daytime", "tcp")[1]
    for _ in range(5):
        assert tcp_read_all(("127.0.0.1", port))
    assert s.stop() == 0
    s2 = serve("daytime/tcp=127.0.0.1:%d" % port)
    assert s2.addr("daytime", "tcp") == ("127.0.0.1", port)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch user")
def test_user_drops_privileges(serve):
    import grp
    import pwd
    s = serve("daytime=127.0.0.1:0", "--user", "nobody")
    with open("/proc/%d/status" % s.proc.pid) as f:
        status = f.read()
    uid = re.search(r"^Uid:\s+(\d+)\s+(\d+)\s+(\d+)", status, re.M).groups()
    assert uid == ("65534",) * 3
    # Said once switched, before the ready line.
    gid = pwd.getpwnam("nobody").pw_gid
    assert s.stderr() == "sockit: running as user nobody (65534), group %s (%d)\n" % (
        grp.getgrgid(gid).gr_name, gid)
    assert tcp_read_all(s.addr("daytime", "tcp"))
    # -q keeps it to itself.
    s = serve("daytime=127.0.0.1:0", "--user", "nobody", "-q")
    assert s.stop() == 0 and s.stderr() == ""


def test_user_unknown():
    # A usage error, found before binding (issue 10, part 7; it was exit 1,
    # after binding).
    r = sockit("serve", "daytime=127.0.0.1:0", "--user", "no-such-user-xyz")
    assert r.returncode == 2
    assert "sockit: serve: --user no-such-user-xyz: no such user" in r.stderr


# ---- the clients ----

def test_client_welcome(srv):
    for fam in (socket.AF_INET, socket.AF_INET6):
        r = subprocess.run([SOCKIT, "welcome", srv.hostport("welcome", "tcp", fam)],
                           capture_output=True, timeout=30)
        assert r.returncode == 0
        assert re.match(rb"^welcome to sockit, (127\.0\.0\.1|\[::1\]):\d+\r\n$", r.stdout), r.stdout


def test_client_welcome_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = sockit("welcome", "127.0.0.1:%d" % port)
    assert r.returncode == 1
    assert r.stderr == "sockit: welcome 127.0.0.1:%d: Connection refused\n" % port


def test_client_time_protocols(srv):
    # The year read before and after (either, should it turn meanwhile).
    before = time.time()
    r = sockit("time", srv.hostport("timefmt", "udp"), "%Y")
    r6 = sockit("time", "--tcp", srv.hostport("timefmt", "tcp", socket.AF_INET6), "%Y")
    years = {time.strftime("%Y\n", time.localtime(t)) for t in (before, time.time())}
    assert r.returncode == 0 and r.stdout in years, (r, years)
    assert r6.returncode == 0 and r6.stdout in years, (r6, years)
    r = sockit("time", srv.hostport("timefmt", "udp"))
    assert r.returncode == 0 and re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n$", r.stdout)
    for proto in ("udp", "tcp"):
        r = sockit("time", "--daytime", "--" + proto, srv.hostport("daytime", proto))
        assert r.returncode == 0
        assert re.match(r"^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n$", r.stdout), r.stdout
        t0 = time.monotonic()
        r = sockit("time", "--rfc868", "--" + proto, srv.hostport("time", proto))
        rtt = time.monotonic() - t0
        assert r.returncode == 0
        m = re.match(r"^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} \S+ "
                     r"\(offset ([-+]\d+\.\d) s from the local clock\)\n$", r.stdout)
        assert m, r.stdout
        # The server reads the same clock at some instant of the exchange
        # and truncates it to the second; the client takes the reply plus
        # half a second for the exchange's midpoint. So |offset| is at most
        # half a second plus half the round trip (which the whole run
        # bounds), plus 0.05 for the one-decimal print. A server or client
        # a second or more off fails this (a loaded machine only widens the
        # round trip, which the bound follows).
        assert abs(float(m.group(1))) <= 0.5 + rtt / 2 + 0.05, (m.group(1), rtt)


def test_client_name_resolution(srv):
    port = srv.addr("daytime", "udp")[1]
    r = sockit("time", "--daytime", "localhost:%d" % port)
    assert r.returncode == 0, r.stderr


def test_client_server_error_is_reported(srv):
    # The client refuses bad formats itself, so send one it cannot check:
    # a reply that is too long.
    r = sockit("time", srv.hostport("timefmt", "udp"), "%c" * 22)
    assert r.returncode == 1
    assert r.stderr == "sockit: time: %s said: error: reply longer than 512 bytes\n" % \
        srv.hostport("timefmt", "udp")


def test_client_no_reply_after_tries():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        port = sink.getsockname()[1]
        r = sockit("time", "--timeout", "0.2", "127.0.0.1:%d" % port)
        assert r.returncode == 1
        assert r.stderr == "sockit: time: no reply from 127.0.0.1:%d after 3 tries\n" % port
        got = 0
        sink.settimeout(0.1)
        try:
            while True:
                sink.recv(100)
                got += 1
        except socket.timeout:
            pass
        assert got == 3
        r = sockit("time", "--tries", "2", "--timeout", "0.1", "--rfc868", "[::1]:%d" % port)
        assert r.returncode == 1


def test_client_bad_hostport():
    # A malformed HOST:PORT is a usage error (2); a name that does not
    # resolve is not (1).
    r = sockit("time", "127.0.0.1:notaport")
    assert r.returncode == 2
    assert r.stderr == ("sockit: time: '127.0.0.1:notaport': port must be a "
                        "number from 0 to 65535\nTry 'sockit help time'.\n")
    r = sockit("time", "no-such-host.invalid:13")
    assert r.returncode == 1
    assert r.stderr.startswith("sockit: time: no-such-host.invalid:13: ")


# ---- rough edges (issue 10, part 7) -------------------------------------

@pytest.mark.parametrize("args,msg", [
    (["time", "-d", "-r", "127.0.0.1"], "give one of --daytime, --rfc868 and --ntp"),
    (["time", "-d", "--ntp", "127.0.0.1"], "give one of --daytime, --rfc868 and --ntp"),
    (["time", "--tcp", "--udp", "127.0.0.1"], "give --tcp or --udp, not both"),
    (["time", "127.0.0.1:99999"], "'127.0.0.1:99999': port must be a number from 0 to 65535"),
    (["time", "1.2.3.4.5"], "'1.2.3.4.5': not an IPv4 address (four numbers from 0 to 255)"),
    (["time", "unix:/x"], "'unix:/x': a unix socket is for TCP only"),
    (["time", "--bogus", "127.0.0.1"], "unknown option '--bogus'"),
    (["time", "127.0.0.1", "-n"], "option '-n' needs an argument"),
    (["welcome", "--bogus", "127.0.0.1"], "unknown option '--bogus'"),
    (["welcome", "[::1"], "'[::1': write IPv6 addresses as [ADDR]:PORT"),
    (["bench", "--bogus", "udp", "127.0.0.1:1"], "unknown option '--bogus'"),
    (["bench", "udp", "127.0.0.1"], "'127.0.0.1': port must be a number from 0 to 65535 (give HOST:PORT)"),
    (["serve", "daytime=1.2.3.4.5:0"], "'daytime=1.2.3.4.5:0': not an IPv4 address (four numbers from 0 to 255)"),
])
def test_usage_errors_are_one_line_and_exit_2(args, msg):
    """Every usage error: exit 2, one line naming the command, then the
    hint; a repeated mode is fine, two different ones are not."""
    r = sockit(*args)
    cmd = args[0]
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == "sockit: %s: %s\nTry 'sockit help %s'.\n" % (cmd, msg, cmd)


def test_ready_line_counts_sockets_in_english(serve):
    s = serve("daytime/tcp=127.0.0.1:0")
    assert re.match(r"^sockit: ready, 1 socket, pid \d+$", s.lines[-1]), s.lines
    s = serve("daytime=127.0.0.1:0")
    assert re.match(r"^sockit: ready, 2 sockets, pid \d+$", s.lines[-1]), s.lines


@pytest.mark.parametrize("cmd", ["serve", "welcome", "chat", "time", "exec",
                                 "keygen", "bench", "help"])
def test_every_command_has_version(cmd):
    r = sockit(cmd, "--version")
    assert (r.returncode, r.stdout, r.stderr) == (0, sockit("--version").stdout, "")
    assert r.stdout.startswith("sockit ")


# ---- serve checks its whole command line before binding (part 7) --------

def held_port():
    """A TCP and UDP port of 127.0.0.1 that this test holds bound: a serve
    that tried to bind it would fail with 'address already in use' (exit
    1), so a usage error (exit 2) naming something else proves the check
    came before any bind."""
    t = socket.socket()
    t.bind(("127.0.0.1", 0))
    port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port))
    except OSError:
        t.close()
        u.close()
        return held_port()
    return port, (t, u)


@pytest.mark.parametrize("args,msg", [
    (["--user", "no-such-user-xyz", "daytime=127.0.0.1:{p}"],
     "--user no-such-user-xyz: no such user"),
    (["-u", "no-such-user-xyz", "daytime=127.0.0.1:{p}"],
     "--user no-such-user-xyz: no such user"),
    (["daytime=127.0.0.1:{p}", "time=127.0.0.1:{p}"],
     "'daytime=127.0.0.1:{p}' and 'time=127.0.0.1:{p}' both listen on tcp 127.0.0.1:{p}"),
    (["daytime/udp=127.0.0.1:{p}", "daytime/udp=127.0.0.1:{p}"],
     "'daytime/udp=127.0.0.1:{p}' and 'daytime/udp=127.0.0.1:{p}' both listen on udp 127.0.0.1:{p}"),
    (["daytime=0.0.0.0:{p}", "timefmt/udp=127.0.0.1:{p}"],
     "'daytime=0.0.0.0:{p}' and 'timefmt/udp=127.0.0.1:{p}' both listen on udp 127.0.0.1:{p}"),
    (["daytime=:{p}", "ntp=[::1]:{p}"],
     "'daytime=:{p}' and 'ntp=[::1]:{p}' both listen on udp [::1]:{p}"),
    (["welcome=unix:/nonexistent/s", "chat=unix:/nonexistent/s"],
     "'welcome=unix:/nonexistent/s' and 'chat=unix:/nonexistent/s' both listen on unix /nonexistent/s"),
    (["daytime=127.0.0.1:{p}", "--ntp-allow", "192.0.2.0/24"],
     "--ntp-allow: ntp is not being served"),
    (["daytime=127.0.0.1:{p}", "-b", "hi"], "-b: welcome is not being served"),
    (["--banner", "hi", "daytime=127.0.0.1:{p}"], "--banner: welcome is not being served"),
    (["--timefmt-idle-timeout", "5", "daytime=127.0.0.1:{p}"],
     "--timefmt-idle-timeout: timefmt is not being served"),
    (["--bogus", "daytime=127.0.0.1:{p}"], "unknown option '--bogus'"),
    (["daytime=127.0.0.1:{p}", "--rate"], "option '--rate' needs an argument"),
])
def test_serve_refuses_before_binding(args, msg):
    port, held = held_port()
    try:
        r = sockit("serve", *[a.replace("{p}", str(port)) for a in args])
    finally:
        for h in held:
            h.close()
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == "sockit: serve: %s\nTry 'sockit help serve'.\n" % \
        msg.replace("{p}", str(port))


def test_serve_port_0_twice_is_two_listeners(serve):
    """Port 0 takes no fixed port (the kernel picks one each time): two
    such specs are two listeners, not a clash."""
    s = serve("daytime/tcp=127.0.0.1:0", "daytime/tcp=127.0.0.1:0")
    ports = [p for _, p in s.addrs[("daytime", "tcp")]]
    assert len(ports) == 2 and ports[0] != ports[1]


def test_serve_option_of_a_served_service_is_fine(serve, tmp_path):
    # And in the file, a section of a service not served is not an error.
    cfg = tmp_path / "sockit.conf"
    cfg.write_text("[ntp]\nallow = 192.0.2.0/24\n")
    s = serve("-c", str(cfg), "--welcome-banner", "hi", "-b", "yo",
              "welcome=127.0.0.1:0")
    assert tcp_read_all(s.addr("welcome", "tcp")) == b"yo"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch user")
@pytest.mark.parametrize("user,ids", [("65534", ("65534", "65534")),
                                      ("4242", ("4242", "4242"))])
def test_user_numeric(serve, user, ids):
    """A numeric user ID: nobody's (65534), with its passwd group, or one
    with no passwd entry, whose group is the same number. The log line
    names each ID, or gives the bare number when it has no name."""
    import grp
    import pwd
    if user == "4242":
        try:
            pwd.getpwuid(4242)
            pytest.skip("uid 4242 has a passwd entry here")
        except KeyError:
            pass
    else:
        ids = (user, str(pwd.getpwuid(65534).pw_gid))
    s = serve("daytime=127.0.0.1:0", "--user", user)
    with open("/proc/%d/status" % s.proc.pid) as f:
        status = f.read()
    uid = re.search(r"^Uid:\s+(\d+)\s+(\d+)\s+(\d+)", status, re.M).groups()
    gid = re.search(r"^Gid:\s+(\d+)\s+(\d+)\s+(\d+)", status, re.M).groups()
    groups = re.search(r"^Groups:\s*(.*)$", status, re.M).group(1).split()
    assert uid == (ids[0],) * 3 and gid == (ids[1],) * 3 and groups == [ids[1]]
    try:
        gname = "%s (%s)" % (grp.getgrgid(int(ids[1])).gr_name, ids[1])
    except KeyError:
        gname = ids[1]
    uname = "%s (65534)" % pwd.getpwuid(65534).pw_name if user == "65534" else user
    assert s.stderr() == "sockit: running as user %s, group %s\n" % (uname, gname)
    assert tcp_read_all(s.addr("daytime", "tcp"))


# ---- sockit time --json, in every mode (part 7) ------------------------

def test_time_json_every_mode(srv):
    def run(*args):
        r = sockit("time", "--json", *args)
        assert (r.returncode, r.stderr) == (0, ""), r
        assert r.stdout.endswith("}\n") and r.stdout.count("\n") == 1
        return json.loads(r.stdout)

    hp = srv.hostport("timefmt", "udp")
    before = time.time()
    j = run(hp, "%Y")
    years = {time.strftime("%Y", time.localtime(t)) for t in (before, time.time())}
    assert j == {"server": hp, "protocol": "timefmt", "transport": "udp",
                 "format": "%Y", "reply": j["reply"]} and j["reply"] in years, j
    hp6 = srv.hostport("timefmt", "tcp", socket.AF_INET6)
    j = run("--tcp", hp6)
    assert (j["server"], j["transport"], j["format"]) == (hp6, "tcp", "")
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", j["reply"]), j
    for proto in ("udp", "tcp"):
        hp = srv.hostport("daytime", proto)
        j = run("-d", "--" + proto, hp)
        assert sorted(j) == ["protocol", "reply", "server", "transport"]
        assert (j["server"], j["protocol"], j["transport"]) == (hp, "daytime", proto)
        assert re.match(r"^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$", j["reply"]), j
        hp = srv.hostport("time", proto)
        t0 = time.time()
        j = run("-r", "--" + proto, hp)
        t1 = time.time()
        assert sorted(j) == ["offset", "protocol", "rfc868", "seconds", "server",
                             "time", "transport"]
        assert (j["server"], j["protocol"], j["transport"]) == (hp, "time", proto)
        assert int(t0) <= j["seconds"] <= t1
        assert j["rfc868"] == j["seconds"] + 2208988800
        assert j["time"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(j["seconds"]))
        assert abs(j["offset"]) <= 0.5 + (t1 - t0) / 2 + 1e-6, j
    # NTP's object is what it was, with the three common keys in front
    # (test_ntp.py checks the rest against a synchronised server; this one
    # is not, which the object says).
    hp = srv.hostport("ntp", "udp")
    r = sockit("time", "-N", "-j", hp)
    assert (r.returncode, r.stderr) == (1, "")
    j = json.loads(r.stdout)
    assert list(j)[:3] == ["server", "protocol", "transport"]
    assert (j["server"], j["protocol"], j["transport"]) == (hp, "ntp", "udp")


def test_time_json_failures(srv):
    """With --json a failure is one JSON object on stdout, nothing on
    stderr, exit 1; a usage error stays text."""
    def failed(*args):
        r = sockit("time", "--json", *args)
        assert (r.returncode, r.stderr) == (1, ""), r
        return json.loads(r.stdout)

    hp = srv.hostport("timefmt", "udp")
    assert failed(hp, "%c" * 22) == {
        "server": hp, "protocol": "timefmt", "transport": "udp",
        "failure": "%s said: error: reply longer than 512 bytes" % hp}
    # The default server is not synchronised: NTP's "error" stays its
    # error bound, so a failure's key is "failure".
    hp = srv.hostport("ntp", "udp")
    assert failed("--ntp", hp) == {
        "server": hp, "protocol": "ntp", "transport": "udp",
        "failure": "%s: server is not synchronised (leap 3, stratum 0)" % hp}
    hp = srv.hostport("daytime", "udp")
    assert failed("-r", hp) == {
        "server": hp, "protocol": "time", "transport": "udp",
        "failure": "%s: expected a 4-byte RFC 868 reply, got 26 bytes" % hp}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        port = sink.getsockname()[1]
        assert failed("-d", "--timeout", "0.1", "--tries", "1", "127.0.0.1:%d" % port) == {
            "server": "127.0.0.1:%d" % port, "protocol": "daytime", "transport": "udp",
            "failure": "no reply from 127.0.0.1:%d after 1 try" % port}
    j = failed("no-such-host.invalid:13")
    assert (j["server"], j["protocol"]) == ("no-such-host.invalid:13", "timefmt")
    assert j["failure"].startswith("no-such-host.invalid:13: ")
    r = sockit("time", "--json", "--tries", "0", "127.0.0.1")
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.startswith("sockit: time: --tries: '0'")


def test_time_json_escapes_what_the_server_sends(srv):
    """A timefmt reply echoes the format's plain text: quotes, backslashes,
    control characters and non-ASCII come back as valid JSON."""
    fmt = 'a"b\\c\x01\x1b[0m\u00e9%%'
    r = sockit("time", "--json", srv.hostport("timefmt", "udp"), fmt)
    assert r.returncode == 0, r
    assert "\x01" not in r.stdout and "\x1b" not in r.stdout
    j = json.loads(r.stdout)
    assert j["format"] == fmt and j["reply"] == 'a"b\\c\x01\x1b[0m\u00e9%'


# ---- warnings instead of silent changes (part 7) -----------------------

def serve_with_nofile(nofile, *args):
    """Run serve under an open-file limit of nofile (soft and hard) until
    it is ready, stop it, and return (exit code, stderr without the
    time that starts each line)."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    before = time.time()
    p = subprocess.Popen([SOCKIT, "serve"] + list(args), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, preexec_fn=limit)
    try:
        for line in p.stdout:
            if line.startswith("sockit: ready"):
                break
    finally:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=20)
    return p.returncode, unstamp(err, before)


def test_max_conn_clamp_is_said_once():
    """Under a limit of 1024 open files the daemon holds 768 connections
    (256 are kept for listeners and workers): a max-conn over that is
    clamped, and one line says so, however many services it concerns."""
    rc, err = serve_with_nofile(1024, "welcome=127.0.0.1:0", "daytime=127.0.0.1:0",
                                "--max-conn", "100000")
    assert rc == 0
    assert [l for l in err.splitlines() if "max-conn" in l] == [
        "sockit: serve: max-conn 100000 (welcome) is clamped to 768: the "
        "open-file limit (1024) allows the daemon no more connections in all"]
    rc, err = serve_with_nofile(1024, "welcome=127.0.0.1:0", "--max-conn", "700")
    assert rc == 0 and "max-conn" not in err, err


def test_bench_ntp_says_when_replies_are_mostly_kod(serve):
    """Against the default rate limit (a burst of 8 per source, then one
    every 8 s), a load test counts mostly KoD RATE replies: it says so and
    what to do, instead of reporting the rate limit as the server's speed."""
    s = serve("ntp=127.0.0.1:0", "--ntp-local-stratum", "10")
    hp = s.hostport("ntp", "udp")
    r = sockit("bench", "ntp", "-d", "1", "-s", "2", hp)
    m = re.match(r"^sockit: bench: %s: (\d+) of (\d+) replies were kiss-o'-death: "
                 r"the server is rate-limiting this load \(for sockit, serve with "
                 r"--ntp-ratelimit 0\)\n$" % re.escape(hp), r.stderr)
    assert m, r
    kod, total = int(m.group(1)), int(m.group(2))
    assert kod * 2 > total
    if kod == total:  # nothing counted: no figure, exit 1
        assert (r.returncode, r.stdout) == (1, "")
    else:
        assert r.returncode == 0
        assert re.match(r"^ntp %s: %d replies in " % (re.escape(hp), total - kod), r.stdout)
    # Without the limit, no such line.
    s = serve("ntp=127.0.0.1:0", "--ntp-local-stratum", "10", "--ntp-ratelimit", "0")
    r = sockit("bench", "ntp", "-d", "0.5", "-s", "2", s.hostport("ntp", "udp"))
    assert (r.returncode, r.stderr) == (0, ""), r
