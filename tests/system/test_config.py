"""serve's configuration file (sockit.conf(5)): the default path, files it
cannot read, lines it must never cut, NUL bytes, and quoted values.

Every refusal is exit 2 and one exact line on stderr. The default file is
/etc/sockit/sockit.conf; conftest.py points SOCKIT_CONFIG at a file of
its own, so no test reads or writes the machine's."""
import os
import shutil
import re
import socket
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import ROOT, SOCKIT, sockit, tcp_read_all, udp_ask, wait_log

# src/proto/sk_limits.h
CONF_LINE_MAX = 4096
CONF_MAX = 1024 * 1024


def refused(args, msg, env=None, preexec_fn=None, binary=SOCKIT):
    """serve with args exits 2 at once, with exactly msg on stderr and
    nothing on stdout. A hang fails on the timeout."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    r = subprocess.run([binary, "serve"] + list(args), capture_output=True,
                       text=True, timeout=10, env=full_env,
                       preexec_fn=preexec_fn)
    assert (r.returncode, r.stdout, r.stderr) == (2, "", msg + "\n")


# ---- files it cannot read ----

def test_directory_is_refused(tmp_path):
    refused(["-c", str(tmp_path)],
            "sockit: serve: %s: Is a directory" % tmp_path)


def test_dev_zero_is_refused_without_hanging():
    # Read as a file, /dev/zero never ends: a hang fails on the timeout.
    refused(["-c", "/dev/zero"], "sockit: serve: /dev/zero: not a regular file")
    refused(["--config", "/dev/null"],
            "sockit: serve: /dev/null: not a regular file")


def test_fifo_is_refused_without_hanging(tmp_path):
    # Opening a FIFO with no writer blocks, unless opened without blocking.
    fifo = tmp_path / "fifo.conf"
    os.mkfifo(fifo)
    refused(["-c", str(fifo)], "sockit: serve: %s: not a regular file" % fifo)


def test_unreadable_file_is_refused():
    """Mode 000. Root reads any file, so as root the daemon runs as nobody
    (the file and its directory being root's), from a copy of the binary
    that nobody may run (the build tree's may be out of its reach)."""
    d = tempfile.mkdtemp(prefix="sockit-test-unreadable-")
    cfg = os.path.join(d, "sockit.conf")
    binary = SOCKIT
    with open(cfg, "w") as f:
        f.write("[serve]\nrate = 5\n")
    try:
        os.chmod(d, 0o711)
        os.chmod(cfg, 0o000)
        drop = None
        if os.geteuid() == 0:
            def drop():
                os.setgid(65534)
                os.setgroups([])
                os.setuid(65534)
            binary = os.path.join(d, "sockit")
            shutil.copy(SOCKIT, binary)
            os.chmod(binary, 0o755)
            try:
                r = subprocess.run([binary, "--version"], capture_output=True,
                                   preexec_fn=drop)
                ok = r.returncode == 0
            except PermissionError:
                ok = False
            if not ok:
                # A root whose tree nobody may enter (a minimal chroot
                # made with a strict umask): the refusal cannot be shown
                # as root here; other users' runs show it.
                pytest.skip("nobody cannot run programs under this root")
        elif os.access(cfg, os.R_OK):
            pytest.skip("this user reads files of mode 000")
        refused(["-c", cfg], "sockit: serve: %s: Permission denied" % cfg,
                preexec_fn=drop, binary=binary)
    finally:
        os.chmod(cfg, 0o600)
        os.unlink(cfg)
        if binary != SOCKIT:
            os.unlink(binary)
        os.rmdir(d)


def test_read_error_is_refused():
    # A regular file whose read fails: this process's memory at address 0.
    refused(["-c", "/proc/self/mem"],
            "sockit: serve: /proc/self/mem: Input/output error")


def test_file_size_limit(serve, tmp_path):
    cfg = tmp_path / "big.conf"
    head = b"[serve]\nservice = daytime/tcp=127.0.0.1:0\n"
    pad = b"; padding\n"
    body = head + pad * ((CONF_MAX - len(head)) // len(pad))
    body += b"\n" * (CONF_MAX - len(body))
    cfg.write_bytes(body)
    s = serve("-c", str(cfg))
    assert sorted(s.addrs) == [("daytime", "tcp")]
    cfg.write_bytes(body + b"\n")
    refused(["-c", str(cfg)],
            "sockit: serve: %s: larger than %d bytes" % (cfg, CONF_MAX))


# ---- lines are never cut ----

def cut_comment(tail):
    """A commented-out line that libinih cut after 199 bytes and read the
    rest of as a line of its own: tail."""
    head = "; " + "x" * 197
    assert len(head) == 199
    return head + tail + "\n"


def test_long_comment_adds_no_listener(serve, tmp_path):
    cfg = tmp_path / "sockit.conf"
    cfg.write_text("[serve]\nservice = daytime/tcp=127.0.0.1:0\n" +
                   cut_comment("service = welcome=127.0.0.1:0"))
    s = serve("-c", str(cfg))
    assert sorted(s.addrs) == [("daytime", "tcp")]


def test_long_comment_keeps_the_rate_limit(serve, tmp_path):
    """rate = 1 holds: a burst of 20 datagrams gets most of them dropped
    and counted. With the comment's tail read as 'rate = 0', nothing would
    be dropped and no summary would come."""
    cfg = tmp_path / "sockit.conf"
    cfg.write_text("[serve]\nservice = timefmt/udp=127.0.0.1:0\n"
                   "rate = 1\nburst = 1\nlog_interval = 1\n" +
                   cut_comment("rate = 0"))
    s = serve("-c", str(cfg))
    addr = s.addr("timefmt", "udp")
    assert udp_ask(addr, b"%Y") is not None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        for _ in range(20):
            u.sendto(b"%Y", addr)
    m = wait_log(s, r"^sockit: timefmt/udp %s: dropped \d+ datagrams in \d+s "
                    r"\((\d+) over the rate limit" % re.escape(s.hostport("timefmt", "udp")))
    assert int(m.group(1)) >= 1


def test_long_line_is_an_error_naming_it(serve, tmp_path):
    cfg = tmp_path / "sockit.conf"
    # The longest line is read whole: a comment, and a value (whose own
    # check then fails: a banner over 1024 bytes).
    cfg.write_text("[serve]\nservice = daytime/tcp=127.0.0.1:0\n;" +
                   "x" * (CONF_LINE_MAX - 1) + "\r\n")
    s = serve("-c", str(cfg))
    assert sorted(s.addrs) == [("daytime", "tcp")]
    cfg.write_text("[welcome]\n\nbanner = " + "b" * (CONF_LINE_MAX - 9) + "\n")
    r = sockit("serve", "-c", str(cfg))
    assert r.returncode == 2
    assert r.stderr.startswith("sockit: serve: %s:3: banner: " % cfg), r.stderr
    assert "longer than %d bytes" % CONF_LINE_MAX not in r.stderr
    # One byte more is an error on its line, a comment as well.
    for line in ("banner = " + "b" * (CONF_LINE_MAX - 8),
                 ";" + "x" * CONF_LINE_MAX, cut_comment("rate = 0").rstrip() +
                 "y" * CONF_LINE_MAX):
        cfg.write_text("[welcome]\n\n%s\nrate = 1\n" % line)
        refused(["-c", str(cfg)], "sockit: serve: %s:3: line longer than %d bytes"
                % (cfg, CONF_LINE_MAX))


def test_nul_byte_is_an_error_naming_its_line(tmp_path):
    cfg = tmp_path / "sockit.conf"
    cfg.write_bytes(b"[serve]\nrate = 5\n; a \0 comment\nrate = 0\n")
    refused(["-c", str(cfg)], "sockit: serve: %s:3: NUL byte in the line" % cfg)
    cfg.write_bytes(b"[serve]\nrate = 5\0\n")
    refused(["-c", str(cfg)], "sockit: serve: %s:2: NUL byte in the line" % cfg)


# ---- values ----

def test_quoted_values(serve, tmp_path):
    cfg = tmp_path / "sockit.conf"
    cfg.write_text('[serve]\nservice = "welcome=127.0.0.1:0" ; a comment\n'
                   "[welcome]\n"
                   'banner = "  two spaces ; a semicolon # a hash  " # c\n')
    s = serve("-c", str(cfg))
    assert tcp_read_all(s.addr("welcome", "tcp")) == \
        b"  two spaces ; a semicolon # a hash  "
    # Bare: blanks around the value go, and so does a comment after a
    # blank and ';'; a '"' inside is an ordinary byte.
    cfg.write_text("[serve]\nservice = welcome=127.0.0.1:0\n[welcome]\n"
                   'banner =   say "hi";#1 ; a comment  \n')
    s = serve("-c", str(cfg))
    assert tcp_read_all(s.addr("welcome", "tcp")) == b'say "hi";#1'


@pytest.mark.parametrize("line,msg", [
    ('banner = "open', "quoted value without its closing '\"'"),
    ('banner = "a" b', "text after a quoted value's closing '\"'"),
    ("banner: x", "syntax error: expected KEY = VALUE"),
    ("[welcome", "syntax error: expected [SECTION]"),
])
def test_value_syntax_errors(tmp_path, line, msg):
    cfg = tmp_path / "sockit.conf"
    cfg.write_text("[welcome]\n%s\n" % line)
    refused(["-c", str(cfg)], "sockit: serve: %s:2: %s" % (cfg, msg))


def test_setting_outside_a_section(tmp_path):
    cfg = tmp_path / "sockit.conf"
    cfg.write_text("; no section yet\nrate = 5\n")
    refused(["-c", str(cfg)], "sockit: serve: %s:2: 'rate' is outside any "
            "[section] (sockit reads [serve] and one per service)" % cfg)


# ---- the default file ----

def test_default_file_is_read(serve, tmp_path):
    default = tmp_path / "default.conf"
    default.write_text("[serve]\nservice = welcome=127.0.0.1:0\n"
                       "[welcome]\nbanner = from the default file\n")
    s = serve(env={"SOCKIT_CONFIG": str(default)})
    assert sorted(s.addrs) == [("welcome", "tcp")]
    assert tcp_read_all(s.addr("welcome", "tcp")) == b"from the default file"
    # -c wins: the default file is not read at all, not even for errors.
    default.write_text("[serve]\nbogus = 1\n")
    other = tmp_path / "other.conf"
    other.write_text("[serve]\nservice = daytime/tcp=127.0.0.1:0\n")
    s = serve("-c", str(other), env={"SOCKIT_CONFIG": str(default)})
    assert sorted(s.addrs) == [("daytime", "tcp")]
    # Without -c, its errors are errors.
    refused(["daytime=127.0.0.1:0"], "sockit: serve: %s:2: unknown setting "
            "'bogus'" % default, env={"SOCKIT_CONFIG": str(default)})
    # An empty SOCKIT_CONFIG reads none.
    s = serve("daytime/tcp=127.0.0.1:0", env={"SOCKIT_CONFIG": ""})
    assert sorted(s.addrs) == [("daytime", "tcp")]


def test_default_file_missing_is_fine_but_unreadable_is_not(serve, tmp_path):
    s = serve("daytime/tcp=127.0.0.1:0",
              env={"SOCKIT_CONFIG": str(tmp_path / "none" / "sockit.conf")})
    assert sorted(s.addrs) == [("daytime", "tcp")]
    refused(["daytime=127.0.0.1:0"], "sockit: serve: %s: Is a directory" % tmp_path,
            env={"SOCKIT_CONFIG": str(tmp_path)})
    refused([], "sockit: serve: /dev/zero: not a regular file",
            env={"SOCKIT_CONFIG": "/dev/zero"})


def test_default_path_is_documented():
    r = sockit("help", "serve")
    assert "/etc/sockit/sockit.conf" in r.stdout
    with open(os.path.join(ROOT, "docs", "sockit.conf.5")) as f:
        man = f.read()
    assert "/etc/sockit/sockit.conf" in man and "SOCKIT_CONFIG" in man
