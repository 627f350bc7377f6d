"""The daemon's log (sockit(1), serve; --syslog, --log-time): where its
lines go and how each starts. On a file or a pipe, with the time (the
harness checks it on every server's every line; here, its exact form);
on a terminal, as they are; on the systemd journal (JOURNAL_STREAM names
stderr), with the syslog priority; with --syslog, to syslog(3) and
nothing to stderr, tested through a mount namespace in which /dev/log is
a socket of the test's."""
import os
import re
import socket
import subprocess
import tempfile

import pytest

from conftest import SOCKIT, Tmux, sockit, unstamp

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d "


def test_file_lines_start_with_the_time(serve):
    """ISO 8601, milliseconds, the UTC offset of the daemon's TZ; the
    harness checks the instant against the daemon's lifetime."""
    for tz, off in (("XST-5:30", "+05:30"), ("YST+3", "-03:00"),
                    ("UTC0", "+00:00")):
        s = serve("daytime=127.0.0.1:0", env={"TZ": tz})
        assert s.stop() == 0
        log = s.raw_stderr()
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}%s "
                            r"sockit: shutting down\n" % re.escape(off), log), log
        assert unstamp(log, s.started, our_tz=False) == "sockit: shutting down\n"


def test_log_time_never_auto_from_the_file_and_the_command_line(serve, tmp_path):
    s = serve("daytime=127.0.0.1:0", "--log-time", "never", stamps=False)
    assert s.stop() == 0 and s.raw_stderr() == "sockit: shutting down\n"
    cfg = tmp_path / "sockit.conf"
    cfg.write_text("[serve]\nlog-time = never\n")
    s = serve("-c", str(cfg), "daytime=127.0.0.1:0", stamps=False)
    assert s.stop() == 0 and s.raw_stderr() == "sockit: shutting down\n"
    # The command line wins over the file; the harness checks the time.
    s = serve("-c", str(cfg), "--log-time", "auto", "daytime=127.0.0.1:0")
    assert s.stop() == 0 and s.stderr() == "sockit: shutting down\n"


def test_log_time_bad_value():
    r = sockit("serve", "--log-time", "sometimes", "daytime=127.0.0.1:0")
    assert (r.returncode, r.stdout, r.stderr) == (
        2, "", "sockit: serve: --log-time: 'sometimes' is not auto, always "
        "or never\nTry 'sockit help serve'.\n")


@pytest.mark.parametrize("args,line", [
    ([], r"sockit: shutting down"),
    (["--log-time", "always"], STAMP + r"sockit: shutting down"),
])
def test_terminal_lines(tmp_path, args, line):
    """On a terminal, lines are as they are, unless --log-time always."""
    t = Tmux(tmp_path, [SOCKIT, "serve", "daytime=127.0.0.1:0"] + args)
    try:
        t.wait(r"^sockit: ready, 2 sockets, pid \d+$")
        t.keys("C-c")
        scr = t.wait(r"^\[\[status \d+\]\]$")
        assert re.search(r"^\[\[status 0\]\]$", scr, re.M), scr
        # The terminal echoes the ^C first.
        assert re.search(r"^(\^C)?%s$" % line, scr, re.M), scr
    finally:
        t.close()


def journal_env(f):
    """JOURNAL_STREAM naming the file f, as systemd names its stream."""
    st = os.fstat(f.fileno())
    return {"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino)}


def test_journal_lines_carry_priorities(serve):
    # A warning (<4>: max-conn clamped to what 1024 open files allow) and
    # information (<6>), without the time.
    f = tempfile.TemporaryFile(mode="w+")
    s = serve("welcome=127.0.0.1:0", "--max-conn", "100000", env=journal_env(f),
              log=f, stamps=False, wrap=["prlimit", "--nofile=1024:1024", "--"])
    port = s.addr("welcome", "tcp")[1]
    # An error that stops a daemon (<3>): the port is taken.
    g = tempfile.TemporaryFile(mode="w+")
    r = subprocess.run([SOCKIT, "serve", "welcome=127.0.0.1:%d" % port],
                       stdout=subprocess.DEVNULL, stderr=g, timeout=20,
                       env=dict(os.environ, **journal_env(g)))
    g.seek(0)
    assert (r.returncode, g.read()) == (
        1, "<3>sockit: welcome/tcp 127.0.0.1:%d: address already in use\n" % port)
    assert s.stop() == 0
    assert s.raw_stderr() == (
        "<4>sockit: serve: max-conn 100000 (welcome) is clamped to 768: the "
        "open-file limit (1024) allows the daemon no more connections in all\n"
        "<6>sockit: shutting down\n")


@pytest.mark.parametrize("value", ["other", "12:x", "", "-1:-1"])
def test_journal_stream_of_another_file_is_not_the_journal(serve, value):
    """stderr inherited from a unit whose child redirected it, or junk:
    lines start with the time, as on any file (the harness checks)."""
    # Kept open, so that the daemon's log cannot take its inode.
    other = tempfile.TemporaryFile()
    env = journal_env(other) if value == "other" else {"JOURNAL_STREAM": value}
    s = serve("daytime=127.0.0.1:0", env=env)
    assert s.stop() == 0 and s.stderr() == "sockit: shutting down\n"
    other.close()


# ---- --syslog ----

def can_unshare():
    return os.geteuid() == 0 and subprocess.run(
        ["unshare", "--mount", "true"], capture_output=True).returncode == 0


def syslog_wrap(path):
    """A command that runs the rest in a mount namespace of its own where
    /dev is an empty tmpfs and /dev/log a link to the socket at path, so
    that syslog(3) talks to the test; nothing outside sees either."""
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount -t tmpfs tmpfs /dev && ln -s "$0" /dev/log && exec "$@"',
            str(path)]


class Syslog:
    """A syslog daemon's socket: one datagram per message."""

    # glibc's format: <PRI>Mmm dd hh:mm:ss IDENT[PID]: MESSAGE
    LINE = re.compile(r"^<(\d+)>\w{3} [ \d]\d \d\d:\d\d:\d\d sockit\[(\d+)\]: (.*)$",
                      re.S)

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(20)

    def next(self):
        """(priority, pid, message) of the next message."""
        d = self.sock.recv(65536).decode()
        m = self.LINE.match(d)
        assert m, d
        return int(m.group(1)), int(m.group(2)), m.group(3)


LOG_DAEMON = 3 << 3
LOG_ERR, LOG_WARNING, LOG_INFO = 3, 4, 6


@pytest.mark.skipif(not can_unshare(), reason="needs root and mount namespaces")
def test_syslog(serve, tmp_path):
    import grp
    import pwd
    path = tmp_path / "log.sock"
    log = Syslog(path)
    s = serve("daytime=127.0.0.1:0", "--syslog", "--user", "nobody",
              wrap=syslog_wrap(path), stamps=False)
    pid = s.proc.pid
    assert s.lines[-1] == "sockit: ready, 2 sockets, pid %d" % pid
    # Said after the drop: the socket was opened before it.
    gid = pwd.getpwnam("nobody").pw_gid
    assert log.next() == (LOG_DAEMON | LOG_INFO, pid,
                          "running as user nobody (65534), group %s (%d)"
                          % (grp.getgrgid(gid).gr_name, gid))
    # syslog = 1 in the file; an error that stops the daemon.
    port = s.addr("daytime", "tcp")[1]
    cfg = tmp_path / "sockit.conf"
    cfg.write_text("[serve]\nsyslog = 1\n")
    p = subprocess.Popen(syslog_wrap(path) + [SOCKIT, "serve", "-c", str(cfg),
                                              "daytime/tcp=127.0.0.1:%d" % port],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, err = p.communicate(timeout=20)
    assert (p.returncode, err) == (1, "")
    assert log.next() == (LOG_DAEMON | LOG_ERR, p.pid,
                          "daytime/tcp 127.0.0.1:%d: address already in use" % port)
    assert s.stop() == 0
    assert log.next() == (LOG_DAEMON | LOG_INFO, pid, "shutting down")
    assert s.raw_stderr() == ""
    # Usage errors still go to stderr.
    r = sockit("serve", "--syslog", "--log-time", "x")
    assert (r.returncode, r.stderr) == (2, "sockit: serve: --log-time: 'x' is not "
                                        "auto, always or never\nTry 'sockit help serve'.\n")
