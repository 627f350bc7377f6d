"""The four services over both transports and both address families,
asserting the exact bytes on the wire."""
import calendar
import re
import socket
import struct
import time

import pytest

from conftest import Window, read_line, tcp_read_all, udp_ask

V4, V6 = socket.AF_INET, socket.AF_INET6
FAMILIES = [V4, V6]
DAYTIME_RE = re.compile(
    rb"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    rb"[ 123]\d \d\d:\d\d:\d\d \d{4}\r\n$")


def local(text, fmt):
    """Unix time of a local time the server printed."""
    return time.mktime(time.strptime(text, fmt))


# ---- welcome ----

@pytest.mark.parametrize("family", FAMILIES)
def test_welcome_default_banner_names_service_and_peer(srv, family):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(srv.addr("welcome", "tcp", family))
        me = s.getsockname()
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    peer = ("[%s]:%d" if family == V6 else "%s:%d") % (me[0], me[1])
    assert data == ("welcome to sockit, %s\r\n" % peer).encode()


def test_welcome_banner_fields(serve):
    s = serve("welcome=127.0.0.1:0", "--banner",
              r"hi {addr} port {port} via {local} at {time} {{x}}\n")
    host, port = s.addr("welcome", "tcp")
    with socket.socket() as c, Window() as w:
        c.settimeout(5)
        c.connect((host, port))
        me = c.getsockname()
        data = c.recv(4096)
    m = re.match(rb"^hi 127\.0\.0\.1 port (\d+) via 127\.0\.0\.1:(\d+) at "
                 rb"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) \{x\}\n$", data)
    assert m, data
    assert int(m.group(1)) == me[1]
    assert int(m.group(2)) == port
    assert w.contains(local(m.group(3).decode(), "%Y-%m-%d %H:%M:%S")), (data, w.before, w.after)


def test_welcome_long_banner_is_cut_at_1024_bytes(serve):
    s = serve("welcome=127.0.0.1:0", "--banner", "x" * 1010 + "{peer}")
    with socket.create_connection(s.addr("welcome", "tcp")) as c:
        c.settimeout(5)
        me = c.getsockname()
        data = b""
        while True:
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
    # {peer} is our own address, which we know: the exact bytes, cut.
    # (An ephemeral port has at least 4 digits: the banner reaches 1024.)
    assert len(data) == 1024
    assert data == (b"x" * 1010 + ("%s:%d" % me).encode())[:1024], data[1010:]


# ---- timefmt over UDP ----

@pytest.mark.parametrize("family", FAMILIES)
def test_timefmt_udp_format(srv, family):
    addr = srv.addr("timefmt", "udp", family)
    with Window() as w:
        reply = udp_ask(addr, b"100%% %Y", family=family)
    assert reply in {("100%% %s" % y).encode() for y in w.strftime("%Y")}, reply


def test_timefmt_udp_empty_means_default(srv):
    with Window() as w:
        reply = udp_ask(srv.addr("timefmt", "udp"), b"")
    assert re.match(rb"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", reply), reply
    assert w.contains(local(reply.decode(), "%Y-%m-%d %H:%M:%S")), (reply, w.before, w.after)


def test_timefmt_udp_utf8_passes(srv):
    with Window() as w:
        reply = udp_ask(srv.addr("timefmt", "udp"), "année %Y ✓".encode())
    assert reply in {("année %s ✓" % y).encode() for y in w.strftime("%Y")}, reply


def test_timefmt_honours_tz(serve):
    s = serve("timefmt/udp=127.0.0.1:0", env={"TZ": "XST-9"})
    assert udp_ask(s.addr("timefmt", "udp"), b"%Z %z") == b"XST +0900"


@pytest.mark.parametrize("payload,reply", [
    (b"a\x00b", b"error: format contains a NUL byte"),
    (b"\xff", b"error: format is not valid UTF-8"),
    (b"\xc0\xaf", b"error: format is not valid UTF-8"),
    (b"\xed\xa0\x80", b"error: format is not valid UTF-8"),
    (b"%Q", b"error: unknown conversion in format"),
    (b"%", b"error: unknown conversion in format"),
    (b"%100Y", b"error: field width over 99 in format"),
    (b"%c" * 22, b"error: reply longer than 512 bytes"),
])
def test_timefmt_udp_refusals(srv, payload, reply):
    assert udp_ask(srv.addr("timefmt", "udp"), payload) == reply


def test_timefmt_udp_limits_are_exact(srv):
    addr = srv.addr("timefmt", "udp")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.settimeout(10)
        # Over the input limit: malformed, dropped silently. At the limit:
        # answered. The daemon reads its socket in order, so the first
        # reply is the second datagram's.
        u.sendto(b"x" * 257, addr)
        u.sendto(b"y" * 256, addr)
        assert u.recv(1024) == b"y" * 256
    with Window() as w:
        reply = udp_ask(addr, b"%99Y")
    assert reply in {y.rjust(99, "0").encode() for y in w.strftime("%Y")}, reply


# ---- timefmt over TCP ----

@pytest.mark.parametrize("family", FAMILIES)
def test_timefmt_tcp_lines_keep_their_endings(srv, family):
    with socket.socket(family, socket.SOCK_STREAM) as s, Window() as w:
        s.settimeout(5)
        s.connect(srv.addr("timefmt", "tcp", family))
        s.sendall(b"%Y\n")
        line, rest = read_line(s)
        assert line.decode() in w.strftime("%Y\n"), line
        s.sendall(b"year %Y\r\n")
        line, rest = read_line(s, rest)
        assert line.decode() in w.strftime("year %Y\r\n"), line
        # Pipelined, split in odd places, and an empty line (the default).
        s.sendall(b"a%")
        s.sendall(b"%\n\nb\r")
        s.sendall(b"\n")
        l1, rest = read_line(s, rest)
        l2, rest = read_line(s, rest)
        l3, rest = read_line(s, rest)
        assert l1 == b"a%\n"
        assert re.match(rb"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n$", l2), l2
        assert l3 == b"b\r\n"
        assert rest == b""


def test_timefmt_tcp_errors_keep_connection(srv):
    with socket.socket() as s, Window() as w:
        s.settimeout(5)
        s.connect(srv.addr("timefmt", "tcp"))
        s.sendall(b"a\x00\n\xff\r\n%Q\n%Y\n")
        got = b""
        while got.count(b"\n") < 4:
            got += s.recv(4096)
    assert got in {b"error: format contains a NUL byte\n"
                   b"error: format is not valid UTF-8\r\n"
                   b"error: unknown conversion in format\n" + y.encode()
                   for y in w.strftime("%Y\n")}, got


def test_timefmt_tcp_reply_stays_one_line(srv):
    with socket.socket() as s:
        s.settimeout(5)
        s.connect(srv.addr("timefmt", "tcp"))
        s.sendall(b"a%nb\r\n\r\n")
        line, rest = read_line(s)
        assert line == b"error: reply would contain a line break\r\n"
    # Over UDP there are no lines to break.
    assert udp_ask(srv.addr("timefmt", "udp"), b"a%nb") == b"a\nb"


def test_timefmt_tcp_half_close_gets_reply(srv):
    assert tcp_read_all(srv.addr("timefmt", "tcp"), b"%%\n") == b"%\n"


# ---- daytime ----

@pytest.mark.parametrize("family", FAMILIES)
def test_daytime_tcp(srv, family):
    with Window() as w:
        data = tcp_read_all(srv.addr("daytime", "tcp", family), family=family)
    assert DAYTIME_RE.match(data), data
    assert w.contains(local(data.decode().strip(), "%a %b %d %H:%M:%S %Y")), \
        (data, w.before, w.after)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("payload", [b"", b"anything at all"])
def test_daytime_udp(srv, family, payload):
    data = udp_ask(srv.addr("daytime", "udp", family), payload, family=family)
    assert DAYTIME_RE.match(data), data


def test_daytime_local_time(serve):
    s = serve("daytime=127.0.0.1:0", env={"TZ": "XST-9"})
    with Window() as w:
        data = udp_ask(s.addr("daytime", "udp"), b"")
    # XST-9 is nine hours ahead of UTC, whatever this machine's zone.
    t = calendar.timegm(time.strptime(data.decode().strip(), "%a %b %d %H:%M:%S %Y"))
    assert w.contains(t - 9 * 3600), (data, w.before, w.after)


# ---- time (RFC 868) ----

def rfc868(data):
    assert len(data) == 4, data
    return struct.unpack("!I", data)[0] - 2208988800


@pytest.mark.parametrize("family", FAMILIES)
def test_time_tcp(srv, family):
    with Window() as w:
        data = tcp_read_all(srv.addr("time", "tcp", family), family=family)
    assert w.contains(rfc868(data)), (rfc868(data), w.before, w.after)


@pytest.mark.parametrize("family", FAMILIES)
def test_time_udp(srv, family):
    with Window() as w:
        data = udp_ask(srv.addr("time", "udp", family), b"", family=family)
    assert w.contains(rfc868(data)), (rfc868(data), w.before, w.after)
