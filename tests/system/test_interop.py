"""Real peers from Debian's packages against sockit: rdate (RFC 868 over
TCP and UDP), ncat and socat (daytime, welcome, the timefmt protocol)."""
import re
import shutil
import subprocess
import time

import pytest

from conftest import Window


def need(tool):
    path = shutil.which(tool) or shutil.which("/usr/sbin/" + tool)
    if path is None:
        pytest.fail("%s is missing: run scripts/deps" % tool)
    return path


def run(args, input=None, timeout=20):
    return subprocess.run(args, capture_output=True, input=input, timeout=timeout)


def local(text, fmt):
    """Unix time of a local time a tool printed."""
    return time.mktime(time.strptime(text, fmt))


@pytest.mark.parametrize("udp", [False, True])
def test_rdate(srv, udp):
    rdate = need("rdate")
    host, port = srv.addr("time", "udp" if udp else "tcp")
    with Window() as w:
        r = run([rdate, "-p", "-o", str(port)] + (["-u"] if udp else []) + [host])
    assert r.returncode == 0, r.stderr
    # rdate prints ctime() of the received time, e.g. "Wed Nov 25 12:03:25 UTC 2026"
    out = r.stdout.decode().strip()
    m = re.match(r"^(\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d) \S+ (\d{4})$", out)
    assert m, out
    assert w.contains(local(m.group(1) + " " + m.group(2), "%a %b %d %H:%M:%S %Y")), \
        (out, w.before, w.after)


def test_ncat_daytime_and_welcome(srv):
    ncat = need("ncat")
    host, port = srv.addr("daytime", "tcp")
    with Window() as w:
        r = run([ncat, "--recv-only", host, str(port)])
    assert r.returncode == 0
    assert r.stdout.endswith(b"\r\n")
    assert w.contains(local(r.stdout.decode().strip(), "%a %b %d %H:%M:%S %Y")), \
        (r.stdout, w.before, w.after)
    host, port = srv.addr("welcome", "tcp")
    r = run([ncat, "--recv-only", host, str(port)])
    assert re.match(rb"^welcome to sockit, 127\.0\.0\.1:\d+\r\n$", r.stdout), r.stdout


def test_ncat_timefmt_tcp(srv):
    ncat = need("ncat")
    host, port = srv.addr("timefmt", "tcp")
    with Window() as w:
        r = run([ncat, host, str(port)], input=b"%Y\r\nyear %Y\n%Q\n")
    assert r.returncode == 0
    assert r.stdout in {y + b"\r\nyear " + y + b"\nerror: unknown conversion in format\n"
                        for y in (y.encode() for y in w.strftime("%Y"))}, r.stdout


def test_socat_udp_daytime(srv):
    socat = need("socat")
    host, port = srv.addr("daytime", "udp")
    r = run([socat, "-T2", "-", "UDP:%s:%d" % (host, port)], input=b"\n")
    assert re.match(rb"^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\r\n$", r.stdout), r.stdout


def test_socat_timefmt_udp(srv):
    socat = need("socat")
    host, port = srv.addr("timefmt", "udp")
    with Window() as w:
        r = run([socat, "-T2", "-", "UDP:%s:%d" % (host, port)], input=b"%Y-%m")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() in w.strftime("%Y-%m"), r.stdout


def test_ncat_udp_with_its_input_kept_open(srv):
    """The README's way with `ncat -u`: its input stays open until the
    reply is in (ncat exits as soon as its input ends, without waiting
    for one); the reply has no newline, as timefmt sends none over UDP."""
    import os
    import select
    ncat = need("ncat")
    host, port = srv.addr("timefmt", "udp")
    p = subprocess.Popen([ncat, "-u", host, str(port)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with Window() as w:
            p.stdin.write(b"%Y-%m")
            p.stdin.flush()
            ready, _, _ = select.select([p.stdout], [], [], 10)
            assert ready, "no reply through ncat -u"
            got = os.read(p.stdout.fileno(), 100)
    finally:
        p.stdin.close()
        p.wait(timeout=10)
    out, err = p.stdout.read(), p.stderr.read()
    p.stdout.close()
    p.stderr.close()
    assert p.returncode == 0, err
    assert (got + out).decode() in w.strftime("%Y-%m"), got + out
