"""Hostile peers: garbage, truncation, oversize input, resets, idle
crowds and floods. In each, the server keeps serving everyone else and
the bytes on the wire stay exact."""
import re
import resource
import select
import socket
import struct
import threading
import time

import pytest

from conftest import read_line, tcp_queues, tcp_read_all, udp_ask, wait_log

DAYTIME_RE = re.compile(rb"^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\r\n$")


def still_serves(s):
    """Every service still answers correctly."""
    assert udp_ask(s.addr("timefmt", "udp"), b"%%") == b"%"
    assert len(udp_ask(s.addr("time", "udp"), b"")) == 4
    assert tcp_read_all(s.addr("daytime", "tcp")).endswith(b"\r\n")
    assert tcp_read_all(s.addr("welcome", "tcp")).startswith(b"welcome to sockit, ")


def test_huge_datagram_is_dropped(srv):
    # After the huge datagram, a small one from the same socket: the daemon
    # reads its socket in order, so the small one's reply shows the huge
    # one was handled, and whatever the huge one got came before it.
    huge = b"%Y" * 32500
    for svc in ("timefmt", "daytime", "time"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
            u.settimeout(10)
            u.sendto(huge, srv.addr(svc, "udp"))
            u.sendto(b"%%", srv.addr(svc, "udp"))
            first = u.recv(65536)
            if svc == "timefmt":
                # Over 256 bytes: malformed, dropped. The first reply is
                # the small one's.
                assert first == b"%", first
                continue
            # daytime and time answer any datagram, with a reply far
            # smaller than this request; then the small one's.
            second = u.recv(65536)
            for reply in (first, second):
                if svc == "daytime":
                    assert DAYTIME_RE.match(reply), reply
                else:
                    assert len(reply) == 4, reply
    still_serves(srv)


def udp_drops(s, listener, want, timeout=20):
    """Wait until the daemon's drop summaries for listener (e.g.
    "time/udp 127.0.0.1:1234") add up to want datagrams; return the sums
    (over the rate limit, malformed or unsendable). The summaries come once
    per --log-interval, and one burst may be split over two of them."""
    pat = re.compile(r"^sockit: %s: dropped (\d+) datagrams in \d+s "
                     r"\((\d+) over the rate limit, (\d+) malformed or unsendable"
                     % re.escape(listener), re.M)
    deadline = time.monotonic() + timeout
    while True:
        total = rate = bad = 0
        for m in pat.finditer(s.stderr()):
            total += int(m.group(1))
            rate += int(m.group(2))
            bad += int(m.group(3))
        if total >= want:
            assert total == want, s.stderr()
            return rate, bad
        assert time.monotonic() < deadline, s.stderr()
        time.sleep(0.05)


def test_oversize_datagram_is_dropped_before_the_rate_limit(serve):
    """Five oversize datagrams, then requests A and B, with a bucket of one
    token refilled once a second: A is answered (the oversize ones took no
    token), B is not (A took it). A request from another source, sent last,
    is the sentinel: the daemon reads its one socket in order, so once the
    sentinel is answered, A and B have been handled and A's reply is
    already queued to us."""
    for _attempt in range(3):
        s = serve("timefmt/udp=127.0.0.1:0", "--rate", "1", "--burst", "1",
                  "--log-interval", "1")
        addr = s.addr("timefmt", "udp")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
            other.bind(("127.0.0.2", 0))
            other.settimeout(10)
            t0 = time.monotonic()
            for _ in range(5):
                u.sendto(b"x" * 257, addr)
            u.sendto(b"A%%", addr)
            u.sendto(b"B%%", addr)
            other.sendto(b"sentinel", addr)
            assert other.recv(100) == b"sentinel"
            u.setblocking(False)
            assert u.recv(100) == b"A%"  # the bucket's one token was still there
            if time.monotonic() - t0 >= 1.0:
                # B may have been read a second after A and earned a new
                # token: this machine was too slow to tell; try again.
                continue
            # A and B were read less than a second apart: B found the
            # token spent, and got no reply.
            with pytest.raises(BlockingIOError):
                u.recv(100)
        # The daemon's own count agrees: 5 malformed, 1 over the rate limit.
        assert udp_drops(s, "timefmt/udp %s" % s.hostport("timefmt", "udp"), 6) == (1, 5)
        return
    pytest.fail("three tries each took over a second; cannot tell B's fate")


def test_garbage_datagrams(srv):
    addr = srv.addr("timefmt", "udp")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.settimeout(10)  # a reply must come; it comes in microseconds
        for payload in (b"\x00" * 10, b"\xff\xfe\xfd", b"%" * 255, b"\x80",
                        b"%E", b"%-", b"%99", b"\xf4\x90\x80\x80"):
            u.sendto(payload, addr)
            reply = u.recv(65536)
            assert reply.startswith(b"error: "), (payload, reply)
    still_serves(srv)


def test_100k_line_on_tcp(srv):
    with socket.socket() as s:
        s.settimeout(10)
        s.connect(srv.addr("timefmt", "tcp"))
        s.sendall(b"A" * 100000)
        s.sendall(b"B" * 1000 + b"\n%%\n")
        line, rest = read_line(s)
        assert line == b"error: format longer than 256 bytes\n"
        line, rest = read_line(s, rest)
        assert line == b"%\n"
        assert rest == b""
    still_serves(srv)


def test_line_limits_on_tcp_are_exact(srv):
    with socket.socket() as s:
        s.settimeout(5)
        s.connect(srv.addr("timefmt", "tcp"))
        s.sendall(b"x" * 256 + b"\r\n" + b"y" * 257 + b"\n")
        line, rest = read_line(s)
        assert line == b"x" * 256 + b"\r\n"
        line, rest = read_line(s, rest)
        assert line == b"error: format longer than 256 bytes\n"


def test_truncated_line_then_disconnect(srv):
    for _ in range(20):
        with socket.socket() as s:
            s.connect(srv.addr("timefmt", "tcp"))
            s.sendall(b"%Y-%m-")  # no newline, then gone
    still_serves(srv)


def test_client_resets_mid_reply(srv):
    """Pipeline many requests, read nothing, and reset the connection while
    the replies are still being written."""
    for _ in range(5):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(srv.addr("timefmt", "tcp"))
        s.sendall(b"%c %c %c %c %c %c %c %c\n" * 4000)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    for _ in range(5):
        s = socket.socket()
        s.connect(srv.addr("welcome", "tcp"))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    still_serves(srv)


def sysctl_max(name):
    """The largest buffer TCP autotuning may give (the third field)."""
    with open("/proc/sys/net/ipv4/" + name) as f:
        return int(f.read().split()[2])


def test_reader_that_never_reads_is_bounded(serve):
    """A peer that pipelines without reading makes the server stop reading
    it (backpressure); other clients are unaffected."""
    s = serve("timefmt/tcp=127.0.0.1:0")
    addr = s.addr("timefmt", "tcp")
    hog = socket.socket()
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    hog.connect(addr)
    hog.setblocking(False)
    # What the connection can absorb when the server stops reading: our
    # send buffer and its receive buffer at their largest, plus a megabyte
    # for the server's own 4 KiB of input and the requests behind the
    # replies it holds. A server that keeps reading takes far more.
    limit = sysctl_max("tcp_wmem") + sysctl_max("tcp_rmem") + (1 << 20)
    sent = 0
    chunk = b"%c %c %c %c %c %c %c %c %c %c %c\n" * 1000
    # Send until the connection has taken nothing for 2 s. (A send that
    # would block only says the buffers are full now, not that the server
    # stopped reading.)
    while sent < limit:
        try:
            sent += hog.send(chunk)
        except BlockingIOError:
            if not select.select([], [hog], [], 2)[1]:
                break
    assert sent < limit, "the server read %d bytes and kept reading" % sent
    # What we sent waits in the server's kernel buffer, unread.
    queues = tcp_queues(addr, hog.getsockname())
    assert queues is not None and queues[1] > 0, queues
    with socket.socket() as c:
        c.settimeout(5)
        c.connect(addr)
        c.sendall(b"%%\n")
        assert read_line(c)[0] == b"%\n"
    hog.close()


def test_thousand_idle_connections(serve):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    # One source holds them all here; the per-source cap has its own test.
    s = serve("timefmt/tcp=127.0.0.1:0", "daytime/tcp=127.0.0.1:0",
              "--max-conn-per-source", "0")
    idle = []
    try:
        for _ in range(1000):
            c = socket.socket()
            c.connect(s.addr("timefmt", "tcp"))
            idle.append(c)
        # One of them sends half a line and stalls (slowloris).
        idle[0].sendall(b"%Y")
        with socket.socket() as c:
            c.settimeout(5)
            c.connect(s.addr("timefmt", "tcp"))
            c.sendall(b"%%\n")
            assert read_line(c)[0] == b"%\n"
        assert tcp_read_all(s.addr("daytime", "tcp"), timeout=5).endswith(b"\r\n")
        # And the idle ones are still being served.
        idle[500].settimeout(5)
        idle[500].sendall(b"ok\n")
        assert read_line(idle[500])[0] == b"ok\n"
    finally:
        for c in idle:
            c.close()


def test_max_conn(serve):
    s = serve("timefmt/tcp=127.0.0.1:0", "--max-conn", "3", "--log-interval", "1")
    addr = s.addr("timefmt", "tcp")
    held = [socket.create_connection(addr) for _ in range(3)]
    for c in held:
        c.settimeout(5)
        c.sendall(b"%%\n")
        assert read_line(c)[0] == b"%\n"
    extra = socket.create_connection(addr)
    extra.settimeout(5)
    try:
        assert extra.recv(100) == b""  # closed at once
    except ConnectionResetError:
        pass
    extra.close()
    held[0].close()
    # A place freed: a new client is served.
    deadline = time.monotonic() + 5
    while True:
        with socket.socket() as c:
            c.settimeout(5)
            c.connect(addr)
            c.sendall(b"%%\n")
            try:
                if read_line(c)[0] == b"%\n":
                    break
            except (EOFError, ConnectionResetError):
                assert time.monotonic() < deadline
    for c in held[1:]:
        c.close()
    # The extra connection is counted; so may be retries above that came
    # before the server saw held[0] go.
    deadline = time.monotonic() + 10
    while "refused" not in s.stderr():
        assert time.monotonic() < deadline, s.stderr()
        time.sleep(0.05)
    assert re.search(r"^sockit: timefmt/tcp 127\.0\.0\.1:\d+: refused [1-9]\d* connections "
                     r"in 1s \(over the limit of 3\)$", s.stderr(), re.M), s.stderr()


def test_idle_timeout(serve):
    s = serve("timefmt/tcp=127.0.0.1:0", "--idle-timeout", "2")
    with socket.socket() as c:
        c.settimeout(20)
        t0 = time.monotonic()
        c.connect(s.addr("timefmt", "tcp"))
        assert c.recv(100) == b""  # closed by the server
        elapsed = time.monotonic() - t0
    # Not before the 2 s are up. The daemon checks idle peers on a 1 s
    # tick, so a timeout of 2 (not 1) s also fails a daemon that counts in
    # the wrong unit and closes at its first tick. Its timer starts once it
    # accepts, after t0; libuv's millisecond clock may lag ours by a few
    # ms, hence 1.9.
    assert elapsed >= 1.9, elapsed
    # And not 15 s late: a daemon that ignored --idle-timeout would keep
    # the connection for its default of 300 s.
    assert elapsed < 17, elapsed


def drain(sock):
    """Read what a non-blocking socket has queued; return how many."""
    n = 0
    while True:
        try:
            sock.recv(100)
            n += 1
        except BlockingIOError:
            return n


def ask_with_retries(sock, addr, tries=5):
    """What a real client does: retry on silence (each wait is
    sock's timeout). A late reply to an earlier try counts."""
    for _ in range(tries):
        sock.sendto(b"", addr)
        try:
            return sock.recv(100)
        except socket.timeout:
            pass
    return None


def ask_from(src, addr, tries=5, timeout=0.5):
    """ask_with_retries from a fresh socket bound to address src."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind((src, 0))
        u.settimeout(timeout)
        return ask_with_retries(u, addr, tries)


def test_udp_flood_does_not_starve_another_source(serve):
    """One source floods without pause, at some 10,000 datagrams a second,
    a hundred times the global cap; it is held to its own bucket (burst 40,
    20 a second) before the global one is charged, so it cannot use up the
    global one: a second source is answered every time, the flood gets no
    more than its own share, and the log gets one summary per interval.

    Were the flood to charge the global bucket, it would take each global
    token (one every 10 ms) within a millisecond or so of its refill, and a
    try of the second source would find one about one time in ten: all 20
    asks getting an answer within 5 tries would then happen about once in
    50,000 runs. (Retries also cover datagrams the kernel drops when the
    socket buffer is full, and replies slowed by a loaded machine.)"""
    s = serve("daytime/udp=127.0.0.1:0", "--log-interval", "1",
              "--global-rate", "100", "--global-burst", "100")
    addr = s.addr("daytime", "udp")
    flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    flood.bind(("127.0.0.1", 0))
    flood.setblocking(False)
    stop = threading.Event()
    sent = [0]
    flood_replies = [0]

    def run():
        # Ten datagrams about every millisecond: a steady stream, not
        # bursts with gaps in which a global token could wait.
        while not stop.is_set():
            for _ in range(10):
                try:
                    flood.sendto(b"x", addr)
                    sent[0] += 1
                except BlockingIOError:
                    pass
            flood_replies[0] += drain(flood)
            time.sleep(0.001)

    t0 = time.monotonic()
    t = threading.Thread(target=run)
    t.start()
    try:
        # Ready when the flood is under way and well past its burst.
        deadline = time.monotonic() + 60
        while sent[0] < 1000:
            assert t.is_alive() and time.monotonic() < deadline, sent
            time.sleep(0.01)
        for i in range(20):
            # Each ask right after fresh flood datagrams (on a busy machine
            # the asks could otherwise all fit into one of the flood's
            # pauses, and prove nothing).
            mark = sent[0]
            while sent[0] < mark + 10:
                assert t.is_alive() and time.monotonic() < deadline, sent
                time.sleep(0.001)
            reply = ask_from("127.0.0.2", addr)
            assert reply is not None, "ask %d starved by the flood" % i
            assert DAYTIME_RE.match(reply), reply
        assert t.is_alive()
    finally:
        stop.set()
        t.join()
    # A sentinel from a third source: the daemon reads its socket in
    # order, so once it is answered every flood datagram sent before has
    # been handled, and its reply, if any, is queued to the flood socket.
    assert ask_from("127.0.0.3", addr) is not None
    elapsed = time.monotonic() - t0
    flood_replies[0] += drain(flood)
    flood.close()
    # Its burst, then 20 a second at most over the time it ran (+1 for
    # the token that may be refilling at the end).
    assert 40 <= flood_replies[0] <= 40 + 20 * elapsed + 1, (flood_replies[0], elapsed)
    wait_log(s, r"^sockit: daytime/udp 127\.0\.0\.1:\d+: dropped \d+ datagrams in 1s "
                r"\(\d+ over the rate limit, 0 malformed or unsendable\)$")
    # One line a second at most (the summaries run on a 1 s timer since
    # the daemon started), not one per dropped datagram.
    summaries = [l for l in s.stderr().splitlines() if "dropped" in l]
    assert 1 <= len(summaries) <= time.time() - s.started + 1, summaries


def test_global_cap(serve):
    """50 datagrams at once against a global bucket of 10 refilled at 10 a
    second: the first 10 are answered, then about one every 100 ms for as
    long as the daemon takes over the rest, and every other one is counted
    in the log as over the rate limit."""
    s = serve("time/udp=127.0.0.1:0", "--rate", "0", "--global-rate", "10",
              "--global-burst", "10", "--log-interval", "1")
    addr = s.addr("time", "udp")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.setblocking(False)
        t0 = time.monotonic()
        for _ in range(50):
            u.sendto(b"", addr)
        # Wait until the daemon has accounted for all 50: answered, or
        # counted in its drop summaries (once a second).
        got, last = 0, t0
        deadline = time.monotonic() + 20
        while True:
            n = drain(u)
            if n:
                got += n
                last = time.monotonic()
            rate = sum(int(m) for m in re.findall(
                r"dropped \d+ datagrams in \d+s \((\d+) over the rate limit", s.stderr()))
            if got + rate >= 50:
                break
            assert time.monotonic() < deadline, (got, s.stderr())
            time.sleep(0.05)
        assert got + rate == 50, (got, rate)
    # The daemon answered the last one it answered before we read it (at
    # `last`), and after t0: by then the bucket had given out its 10 and at
    # most 10 a second since (+1 for a token on its way).
    assert 10 <= got <= 10 + 10 * (last - t0) + 1, (got, last - t0)


def test_graceful_shutdown_finishes_replies_in_flight(serve):
    """SIGTERM while replies we have not read are in flight: we still get
    every byte the daemon had written, in whole lines, then EOF."""
    s = serve("timefmt/tcp=127.0.0.1:0")
    addr = s.addr("timefmt", "tcp")
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.connect(addr)
    me = c.getsockname()
    n, line_len = 2000, 10 * 24 + 9 + 1  # "%c" is 24 characters here
    c.sendall(b"%c %c %c %c %c %c %c %c %c %c\n" * n)
    # Ready when the daemon's socket holds at least 101 lines of replies
    # that we have not acknowledged: replies in flight, which a reset at
    # shutdown would destroy. (Bytes already in our receive queue are not
    # added: some may be counted on both sides until our ACK is processed.)
    deadline = time.monotonic() + 20
    while True:
        in_flight = tcp_queues(addr, me)[0]
        if in_flight >= 101 * line_len:
            break
        assert time.monotonic() < deadline, in_flight
        time.sleep(0.01)
    s.proc.send_signal(15)
    c.settimeout(10)
    data = b""
    while True:
        chunk = c.recv(65536)
        if not chunk:
            break
        data += chunk
    c.close()
    assert s.stop() == 0
    assert len(data) >= in_flight, (len(data), in_flight)
    lines = data.split(b"\n")
    assert lines[-1] == b""  # ends on a whole line
    assert 101 <= len(lines) - 1 <= n
    for l in lines[:-1]:
        assert re.match(rb"^(\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} ?){10}$", l), l


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1))


def test_pipelining_peers_that_never_read_cost_bounded_memory(serve):
    """Eight peers each send 2 MB of empty lines (100,000 requests whose
    replies are 20 times larger) and never read. Input waits in the kernel
    once a connection's 4 KiB buffer and 64 KiB of output are full, so the
    server's memory hardly moves, and others are still served."""
    s = serve("timefmt/tcp=127.0.0.1:0")
    addr = s.addr("timefmt", "tcp")
    before = rss_kib(s.proc.pid)
    hogs = []
    for _ in range(8):
        h = socket.socket()
        h.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        h.connect(addr)
        h.setblocking(False)
        hogs.append(h)
    chunk = b"\n" * 65536
    for h in hogs:
        sent = 0
        deadline = time.monotonic() + 10
        while sent < 2_000_000 and time.monotonic() < deadline:
            try:
                sent += h.send(chunk)
            except BlockingIOError:
                time.sleep(0.01)
    with socket.socket() as c:
        c.settimeout(5)
        c.connect(addr)
        c.sendall(b"%%\n")
        assert read_line(c)[0] == b"%\n"
    grown = rss_kib(s.proc.pid) - before
    assert grown < 8 * 1024, "server grew by %d KiB" % grown
    for h in hogs:
        h.close()


def test_pipelined_requests_are_all_answered_in_order(serve):
    """Many requests in one burst, then a half-close: every one is answered,
    in order, across many loop turns, before the server closes."""
    s = serve("timefmt/tcp=127.0.0.1:0")
    n = 5000
    req = b"".join(b"%d %%%%\n" % i for i in range(n))
    data = tcp_read_all(s.addr("timefmt", "tcp"), req, timeout=20)
    assert data == b"".join(b"%d %%\n" % i for i in range(n))
