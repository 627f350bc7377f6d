"""The ntp service: exact replies, chrony's filter order, never amplifying,
rate limiting with KoD, access control, hostile input, and interop with
chronyd and rdate. No test ever sets this machine's clock: chronyd runs
with -Q (query only) or -x (never touches the clock)."""
import json
import os
import random
import re
import socket
import struct
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import SOCKIT, Server, sockit

NTP_EPOCH = 2208988800
LOCAL_REFID = bytes([127, 127, 1, 1])


def ntp_ts(t):
    sec = int(t)
    return struct.pack("!II", (sec + NTP_EPOCH) % 2**32, int((t - sec) * 2**32))


def ts_to_unix(b):
    sec, frac = struct.unpack("!II", b)
    return sec - NTP_EPOCH + frac / 2**32


def request(version=4, mode=3, tx=None, extra=b"", leap=0):
    tx = tx if tx is not None else os.urandom(8)
    hdr = bytes([leap << 6 | version << 3 | mode, 0, 6, 0xEC]) + b"\0" * 36 + tx
    return hdr + extra


def ask(addr, pkt, timeout=1.0, family=socket.AF_INET, src=None):
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        if src:
            s.bind((src, 0))
        s.settimeout(timeout)
        s.sendto(pkt, addr)
        try:
            return s.recv(2048)
        except socket.timeout:
            return None


def decode(r):
    lvm, stratum, poll, prec = struct.unpack("!BBbb", r[:4])
    return {
        "leap": lvm >> 6, "version": (lvm >> 3) & 7, "mode": lvm & 7,
        "stratum": stratum, "poll": poll, "precision": prec,
        "root_delay": r[4:8], "root_disp": r[8:12], "refid": r[12:16],
        "ref": r[16:24], "org": r[24:32], "rx": r[32:40], "tx": r[40:48],
    }


@pytest.fixture
def ntp(serve):
    """A server as a local stratum 10, with a loose rate limit."""
    s = serve("ntp=:0", "--ntp-local-stratum", "10", "--ntp-threads", "2",
              "--ntp-interval", "-10", "--ntp-burst", "255", "--log-interval", "1")
    return s


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6])
def test_reply_is_exact(ntp, family):
    tx = os.urandom(8)
    t0 = time.time()
    r = ask(ntp.addr("ntp", "udp", family), request(tx=tx), family=family)
    t1 = time.time()
    assert r is not None and len(r) == 48
    p = decode(r)
    assert (p["leap"], p["version"], p["mode"], p["stratum"]) == (0, 4, 4, 10)
    assert p["poll"] == 6  # echoed
    assert -30 <= p["precision"] <= -10
    assert p["refid"] == LOCAL_REFID
    assert p["root_delay"] == b"\0\0\0\0" and p["root_disp"] == b"\0\0\0\0"
    assert p["org"] == tx
    rx, txs = ts_to_unix(p["rx"]), ts_to_unix(p["tx"])
    assert t0 - 0.01 <= rx <= txs <= t1 + 0.01
    assert t0 - 2 <= ts_to_unix(p["ref"]) <= t1


def test_unsynchronised_or_kernel_synced(serve):
    s = serve("ntp=127.0.0.1:0")
    p = decode(ask(s.addr("ntp", "udp"), request()))
    if p["leap"] == 3:
        # No upstream and no local stratum: say so.
        assert (p["stratum"], p["refid"]) == (0, b"\0\0\0\0")
    else:
        # The kernel says an upstream keeps the clock.
        assert (p["stratum"], p["refid"]) == (2, bytes([127, 127, 0, 1]))


@pytest.mark.parametrize("version,mode,reply_mode", [
    (1, 0, 4), (1, 3, 4), (2, 3, 4), (3, 3, 4), (4, 3, 4)])
def test_versions(ntp, version, mode, reply_mode):
    p = decode(ask(ntp.addr("ntp", "udp"), request(version=version, mode=mode)))
    assert (p["version"], p["mode"]) == (version, reply_mode)


def ef(typ, body):
    n = 4 + len(body)
    return struct.pack("!HH", typ, n) + body


@pytest.mark.parametrize("extra", [
    ef(0x0104, b"\0" * 24),                       # one 28-byte extension field
    ef(0x0104, b"\0" * 12) + ef(0x0204, b"\1" * 28),
    b"\0\0\0\1" + b"\xaa" * 16,                   # key ID + MD5 MAC
    b"\0\0\0\1" + b"\xaa" * 20,                   # key ID + SHA-1 MAC
    ef(0x0104, b"\0" * 12) + b"\0\0\0\1" + b"\xaa" * 20,
    b"\0\0\0\0",                                  # crypto-NAK
])
def test_trailers_are_skipped_and_reply_is_never_longer(ntp, extra):
    req = request(extra=extra)
    r = ask(ntp.addr("ntp", "udp"), req)
    assert r is not None
    assert len(r) == 48 <= len(req)
    assert decode(r)["org"] == req[40:48]


def test_dropped_without_reply(ntp):
    addr = ntp.addr("ntp", "udp")
    bad = [
        b"", b"\x23" * 47,                        # short
        request() + b"\0",                        # not a multiple of 4
        request() + b"\0\0",
        request(version=0), request(version=5), request(version=6),
        request(version=7),
        request(mode=0), request(mode=1), request(mode=2), request(mode=4),
        request(mode=5), request(mode=6), request(mode=7),
        request(version=2, mode=6),               # control (ntpq)
        request(version=2, mode=7),               # private (monlist)
        bytes([0x17, 0x00, 0x03, 0x2a]) + b"\0" * 44,  # ntpdc monlist, v2 mode 7
        request(extra=struct.pack("!HH", 1, 8) + b"\0" * 4),     # EF too short
        request(extra=struct.pack("!HH", 1, 18) + b"\0" * 14),   # EF not aligned
        request(extra=struct.pack("!HH", 1, 64) + b"\0" * 28),   # EF past the end
        request(extra=b"\0" * 12),                # 12-byte trailer in v4
        # RFC 7822 7.5: without a MAC the last field must be 28 bytes or
        # more, else it cannot be told from a MAC.
        request(extra=ef(0x0104, b"\0" * 12)),
        request() * 30,                           # over 1024 bytes
    ]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        for pkt in bad:
            s.sendto(pkt, addr)
        with pytest.raises(socket.timeout):
            s.recv(2048)
        # ...and the server still answers.
        s.sendto(request(), addr)
        assert len(s.recv(2048)) == 48
    deadline = time.monotonic() + 5
    while "malformed or not requests" not in ntp.stderr():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert re.search(r"ntp/udp 127\.0\.0\.1:\d+: in \d+s: %d malformed or not requests, "
                     r"0 denied" % len(bad), ntp.stderr()), ntp.stderr()


def test_rate_limit_and_kod(serve):
    """Defaults as chrony's ratelimit: burst 8, then 1 in 4 refused
    requests gets a KoD RATE and the rest nothing."""
    s = serve("ntp=127.0.0.1:0", "--ntp-local-stratum", "10", "--ntp-threads", "2")
    addr = s.addr("ntp", "udp")
    normal = kod = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        c.settimeout(1)
        sent = {}
        for i in range(1000):
            tx = struct.pack("!Q", random.getrandbits(64))
            sent[tx] = True
            c.sendto(request(tx=tx), addr)
            if i % 50 == 49:
                time.sleep(0.002)
        try:
            while True:
                r = c.recv(2048)
                assert len(r) == 48
                p = decode(r)
                assert p["org"] in sent
                if p["stratum"] == 0:
                    assert (p["leap"], p["refid"], p["mode"]) == (3, b"RATE", 4)
                    kod += 1
                else:
                    assert p["stratum"] == 10
                    normal += 1
        except socket.timeout:
            pass
    assert normal == 8, (normal, kod)
    assert 150 <= kod <= 350, (normal, kod)
    # Another client is not affected.
    assert decode(ask(addr, request(), src="127.0.0.2"))["stratum"] == 10


def test_rate_limit_holds_across_source_ports(serve):
    """All of a client's requests meet one limiter, whatever its port."""
    s = serve("ntp=127.0.0.1:0", "--ntp-local-stratum", "10", "--ntp-threads", "4",
              "--ntp-leak", "4")
    addr = s.addr("ntp", "udp")
    normal = 0
    for _ in range(40):
        r = ask(addr, request(), timeout=0.1)
        if r is not None and decode(r)["stratum"] == 10:
            normal += 1
    assert normal == 8


def test_access_control(serve):
    s = serve("ntp=127.0.0.1:0", "--ntp-local-stratum", "10",
              "--ntp-allow", "127.0.0.2/32", "--ntp-allow", "10.0.0.0/8",
              "--log-interval", "1")
    addr = s.addr("ntp", "udp")
    assert ask(addr, request(), timeout=0.5, src="127.0.0.1") is None
    assert ask(addr, request(), src="127.0.0.2") is not None
    deadline = time.monotonic() + 5
    while " 1 denied" not in s.stderr():
        assert time.monotonic() < deadline, s.stderr()
        time.sleep(0.05)


def test_garbage_flood_does_not_starve_a_client(serve):
    s = serve("ntp=127.0.0.1:0", "--ntp-local-stratum", "10",
              "--ntp-interval", "-6", "--ntp-burst", "16")
    addr = s.addr("ntp", "udp")
    stop = threading.Event()
    sent = [0]

    def flood():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as f:
            f.setblocking(False)
            deadline = time.monotonic() + 10
            while not stop.is_set() and time.monotonic() < deadline and sent[0] < 2_000_000:
                n = random.choice([1, 47, 48, 52, 64, 200])
                try:
                    f.sendto(os.urandom(n), addr)
                    sent[0] += 1
                except BlockingIOError:
                    pass

    t = threading.Thread(target=flood)
    t.start()
    try:
        good = 0
        for _ in range(20):
            tx = os.urandom(8)
            for _try in range(3):
                r = ask(addr, request(tx=tx), timeout=0.5, src="127.0.0.2")
                if r is not None:
                    break
            assert r is not None
            p = decode(r)
            assert (p["org"], p["stratum"], p["mode"]) == (tx, 10, 4)
            good += 1
            time.sleep(0.03)
    finally:
        stop.set()
        t.join()
    assert good == 20 and sent[0] > 1000


# ---- our client ----

def test_client_against_sockit(ntp):
    r = sockit("time", "--ntp", ntp.hostport("ntp", "udp"))
    assert r.returncode == 0, r.stderr
    m = re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} \([+-]\d{4}\) ([+-]\d+\.\d{6}) "
                 r"\+/- (\d+\.\d{6}) 127\.0\.0\.1:\d+ s10 no-leap refid 127\.127\.1\.1 "
                 r"delay (\d+\.\d{6})\n$", r.stdout)
    assert m, r.stdout
    assert abs(float(m.group(1))) < 0.001
    r = sockit("time", "--ntp", "--json", ntp.hostport("ntp", "udp", socket.AF_INET6))
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["stratum"] == 10 and j["leap"] == "no-leap" and j["refid"] == "127.127.1.1"
    assert abs(j["offset"]) < 0.001 and 0 <= j["delay"] < 0.1 and j["version"] == 4


def test_client_reports_kod_and_unsync(serve):
    s = serve("ntp=127.0.0.1:0", "--ntp-local-stratum", "10", "--ntp-burst", "1",
              "--ntp-leak", "1")
    hp = s.hostport("ntp", "udp")
    assert sockit("time", "--ntp", hp).returncode == 0
    saw_kod = False
    for _ in range(20):
        r = sockit("time", "--ntp", "--tries", "1", "--timeout", "0.2", hp)
        assert r.returncode == 1
        if "kiss-o'-death" in r.stderr:
            assert r.stderr == "sockit: time: %s: kiss-o'-death RATE (asking too often; slow down)\n" % hp
            saw_kod = True
            break
    assert saw_kod
    u = serve("ntp=127.0.0.1:0")
    p = decode(ask(u.addr("ntp", "udp"), request()))
    r = sockit("time", "--ntp", u.hostport("ntp", "udp"))
    if p["leap"] == 3:
        assert r.returncode == 1
        assert r.stderr == "sockit: time: %s: server is not synchronised (leap 3, stratum 0)\n" % \
            u.hostport("ntp", "udp")


def test_client_rejects_a_reply_that_does_not_echo():
    """A fake server that answers with someone else's origin timestamp."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as fake:
        fake.bind(("127.0.0.1", 0))
        port = fake.getsockname()[1]

        def answer():
            data, peer = fake.recvfrom(2048)
            now = ntp_ts(time.time())
            r = bytes([0x24, 2, 6, 0xEC]) + b"\0" * 8 + b"\x7f\0\0\1" + now + \
                b"\x12" * 8 + now + now
            fake.sendto(r, peer)

        t = threading.Thread(target=answer)
        t.start()
        r = sockit("time", "--ntp", "--tries", "1", "127.0.0.1:%d" % port)
        t.join()
    assert r.returncode == 1
    assert r.stderr == ("sockit: time: 127.0.0.1:%d: the reply does not echo our transmit "
                        "timestamp (bogus or stale reply)\n" % port)


def test_client_sends_a_proper_request():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as fake:
        fake.bind(("127.0.0.1", 0))
        fake.settimeout(5)
        port = fake.getsockname()[1]
        p = subprocess.Popen([SOCKIT, "time", "--ntp", "--tries", "1", "--timeout", "0.3",
                              "127.0.0.1:%d" % port], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        data, _ = fake.recvfrom(2048)
        p.wait(timeout=10)
    assert len(data) == 48
    q = decode(data)
    assert (q["leap"], q["version"], q["mode"]) == (0, 4, 3)
    assert q["tx"] != b"\0" * 8
    # The transmit timestamp is random, not our clock (a random 32-bit
    # seconds field lands within a second of now once in 2^31 runs).
    assert abs(ts_to_unix(q["tx"]) - time.time()) > 1
    assert data[:40] == bytes([0x23]) + b"\0" * 39


# ---- real peers ----

def test_chronyd_accepts_sockit(ntp):
    port = ntp.addr("ntp", "udp")[1]
    r = subprocess.run(["chronyd", "-Q", "-t", "10",
                        "server 127.0.0.1 port %d iburst maxsamples 1" % port],
                       capture_output=True, text=True, timeout=30)
    out = r.stdout + r.stderr
    m = re.search(r"System clock wrong by (-?\d+\.\d+) seconds \(ignored\)", out)
    assert m, out
    assert abs(float(m.group(1))) < 0.001


def test_rdate_sntp(ntp):
    port = ntp.addr("ntp", "udp")[1]
    r = subprocess.run(["rdate", "-n", "-p", "-o", str(port), "127.0.0.1"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    m = re.match(r"^(\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d) \S+ (\d{4})$", r.stdout.strip())
    assert m, r.stdout
    t = time.mktime(time.strptime(m.group(1) + " " + m.group(2), "%a %b %d %H:%M:%S %Y"))
    assert abs(t - time.time()) < 3


@pytest.fixture
def chronyd_server(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as t:
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
    conf = tmp_path / "chrony.conf"
    conf.write_text("local stratum 10\nallow 127.0.0.1\nbindaddress 127.0.0.1\n"
                    "port %d\ncmdport 0\npidfile %s\n" % (port, tmp_path / "chronyd.pid"))
    p = subprocess.Popen(["chronyd", "-x", "-d", "-u", "root", "-f", str(conf)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            r = ask(("127.0.0.1", port), request(), timeout=0.2)
            if r is not None and decode(r)["stratum"] == 10:
                break
            assert p.poll() is None and time.monotonic() < deadline, "chronyd did not start"
        yield port
    finally:
        p.terminate()
        p.wait(timeout=10)


def test_client_against_chronyd(chronyd_server):
    r = sockit("time", "--ntp", "--json", "127.0.0.1:%d" % chronyd_server)
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["stratum"] == 10
    assert abs(j["offset"]) < 0.001


def test_client_retries_with_fresh_requests():
    """Each try is a new request (new cookie, new socket): a late answer to
    an earlier try cannot be taken for this one's."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as fake:
        fake.bind(("127.0.0.1", 0))
        fake.settimeout(5)
        port = fake.getsockname()[1]
        p = subprocess.Popen([SOCKIT, "time", "--ntp", "--tries", "3", "--timeout", "0.3",
                              "127.0.0.1:%d" % port], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        got = [fake.recvfrom(2048) for _ in range(3)]
        out, err = p.communicate(timeout=10)
    assert p.returncode == 1
    assert err == "sockit: time: no reply from 127.0.0.1:%d after 3 tries\n" % port
    cookies = {d[40:48] for d, _ in got}
    ports = {peer[1] for _, peer in got}
    assert len(cookies) == 3 and len(ports) == 3


def test_ntpdig_on_port_123(serve):
    """ntpsec's ntpdig (what ntpdate runs) only speaks to port 123: serve it
    there when this machine lets us."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as t:
        try:
            t.bind(("127.0.0.1", 123))
        except OSError:
            pytest.skip("cannot bind 127.0.0.1:123 here")
    serve("ntp=127.0.0.1:123", "--ntp-local-stratum", "10")
    r = subprocess.run(["ntpdig", "-j", "-t", "2", "127.0.0.1"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["stratum"] == 10 and abs(j["offset"]) < 0.001, j
