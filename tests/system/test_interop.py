"""Real peers from Debian's packages against sockit: rdate (RFC 868 over
TCP and UDP), ncat and socat (daytime, welcome, the timefmt protocol)."""
import re
import shutil
import subprocess
import time

import pytest


def need(tool):
    path = shutil.which(tool) or shutil.which("/usr/sbin/" + tool)
    if path is None:
        pytest.fail("%s is missing: run scripts/deps" % tool)
    return path


def run(args, input=None, timeout=20):
    return subprocess.run(args, capture_output=True, input=input, timeout=timeout)


def close_to_now(text, fmt, slack=3):
    t = time.mktime(time.strptime(text, fmt))
    return abs(t - time.time()) <= slack


@pytest.mark.parametrize("udp", [False, True])
def test_rdate(srv, udp):
    rdate = need("rdate")
    host, port = srv.addr("time", "udp" if udp else "tcp")
    r = run([rdate, "-p", "-o", str(port)] + (["-u"] if udp else []) + [host])
    assert r.returncode == 0, r.stderr
    # rdate prints ctime() of the received time, e.g. "Wed Nov 25 12:03:25 UTC 2026"
    out = r.stdout.decode().strip()
    m = re.match(r"^(\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d) \S+ (\d{4})$", out)
    assert m, out
    assert close_to_now(m.group(1) + " " + m.group(2), "%a %b %d %H:%M:%S %Y")


def test_ncat_daytime_and_welcome(srv):
    ncat = need("ncat")
    host, port = srv.addr("daytime", "tcp")
    r = run([ncat, "--recv-only", host, str(port)])
    assert r.returncode == 0
    assert r.stdout.endswith(b"\r\n")
    assert close_to_now(r.stdout.decode().strip(), "%a %b %d %H:%M:%S %Y")
    host, port = srv.addr("welcome", "tcp")
    r = run([ncat, "--recv-only", host, str(port)])
    assert re.match(rb"^welcome to sockit, 127\.0\.0\.1:\d+\r\n$", r.stdout), r.stdout


def test_ncat_timefmt_tcp(srv):
    ncat = need("ncat")
    host, port = srv.addr("timefmt", "tcp")
    r = run([ncat, host, str(port)], input=b"%Y\r\nyear %Y\n%Q\n")
    assert r.returncode == 0
    y = time.strftime("%Y").encode()
    assert r.stdout == y + b"\r\nyear " + y + b"\nerror: unknown conversion in format\n"


def test_socat_udp_daytime(srv):
    socat = need("socat")
    host, port = srv.addr("daytime", "udp")
    r = run([socat, "-T2", "-", "UDP:%s:%d" % (host, port)], input=b"\n")
    assert re.match(rb"^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\r\n$", r.stdout), r.stdout


def test_socat_timefmt_udp(srv):
    socat = need("socat")
    host, port = srv.addr("timefmt", "udp")
    r = run([socat, "-T2", "-", "UDP:%s:%d" % (host, port)], input=b"%Y-%m")
    assert r.returncode == 0, r.stderr
    assert r.stdout == time.strftime("%Y-%m").encode()
