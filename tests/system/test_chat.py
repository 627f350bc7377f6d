"""The chat room over TCP, against the real daemon: the exact lines each
member receives (greeting, messages, actions, notices), nicks, commands,
hostile lines (over-long, invalid UTF-8, terminal escapes, NUL, a multi-line
write trying to speak for another member), floods, the hold queue, members
that vanish or never read, the console member, and plain clients (the
tutorial's, ncat, socat).
"""
import os
import select
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import wait_log

WAIT = 20  # seconds: a deadline for what must happen
HERE = os.path.dirname(os.path.abspath(__file__))


class Member:
    """One member's connection, read line by line."""

    def __init__(self, addr):
        self.s = socket.create_connection(addr, timeout=WAIT)
        self.buf = b""

    def say(self, data):
        self.s.sendall(data)

    def line(self):
        """The next line, LF included; b"" at EOF."""
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                out, self.buf = self.buf, b""
                return out
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"

    def lines(self, n):
        return [self.line() for _ in range(n)]

    def expect(self, *lines):
        got = self.lines(len(lines))
        assert got == list(lines)

    def greeted(self, nick, here):
        assert self.line() == (b"*** welcome, you are %s; %d here; /help for "
                               b"commands\n" % (nick, here))

    def eof(self):
        assert self.line() == b""

    def quiet(self):
        """Nothing more has arrived (checked after a sentinel)."""
        if self.buf:
            return False
        r, _, _ = select.select([self.s], [], [], 0)
        return not r

    def close(self):
        self.s.close()


@pytest.fixture
def room(serve):
    """A chat room on 127.0.0.1; room(*args) starts one with more settings
    and returns (server, (host, port))."""
    def start(*args, stdin=None):
        s = serve("chat=127.0.0.1:0", *args, stdin=stdin)
        return s, s.addr("chat", "tcp")
    return start


def sentinel(a, b, tag=b"sentinel"):
    """a says tag; b receives it: everything a sent before has been
    handled, and what it caused has reached b first."""
    a.say(tag + b"\n")
    line = b.line()
    assert line.endswith(b"> " + tag + b"\n"), line


def two(addr):
    """guest1 and guest2, both in the room, greeted, quiet."""
    a = Member(addr)
    b = Member(addr)
    a.greeted(b"guest1", 2)
    a.expect(b"*** guest2 joined\n")
    # b has received nothing yet: its greeting comes with its first line.
    a.say(b"hi\n")
    b.greeted(b"guest2", 2)
    b.expect(b"<guest1> hi\n")
    return a, b


# ---- lines ----

def test_lines_go_to_everyone_else_exactly(room):
    s, addr = room()
    a, b = two(addr)
    c = Member(addr)
    a.expect(b"*** guest3 joined\n")
    b.expect(b"*** guest3 joined\n")
    b.say(b"hello all\r\n")
    a.expect(b"<guest2> hello all\n")
    c.greeted(b"guest3", 3)
    c.expect(b"<guest2> hello all\n")
    # Not echoed to its sender.
    sentinel(a, b)
    assert b.quiet()


def test_every_line_of_a_write_is_attributed_to_its_sender(room):
    s, addr = room()
    a, b = two(addr)
    a.say(b"one\ntwo\n<guest2> I am not guest2\n*** guest2 left\n")
    b.expect(b"<guest1> one\n", b"<guest1> two\n",
             b"<guest1> <guest2> I am not guest2\n",
             b"<guest1> *** guest2 left\n")


def test_hostile_bytes_never_reach_a_terminal(room):
    s, addr = room()
    a, b = two(addr)
    a.say(b"\x1b[2J\x1b]0;owned\x07clear\n")
    b.expect(b"<guest1> \xef\xbf\xbd[2J\xef\xbf\xbd]0;owned\xef\xbf\xbdclear\n")
    a.say(b"nul\x00byte\tand tab\n")
    b.expect(b"<guest1> nul\xef\xbf\xbdbyte\tand tab\n")
    a.say(b"bad \xff\xc0\xaf utf8 \xe2\x82\n")
    b.expect(b"<guest1> bad \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd utf8 "
             b"\xef\xbf\xbd\n")
    a.say(b"bidi \xe2\x80\xaeevil\xe2\x80\xac caf\xc3\xa9\n")
    b.expect(b"<guest1> bidi \xef\xbf\xbdevil\xef\xbf\xbd caf\xc3\xa9\n")
    a.say(b"lone\rcr\n")
    b.expect(b"<guest1> lone\xef\xbf\xbdcr\n")


def test_an_over_long_line_is_refused_whole(room):
    s, addr = room()
    a, b = two(addr)
    a.say(b"x" * 4096 + b"\n")
    b.expect(b"<guest1> " + b"x" * 4096 + b"\n")
    # 100 KB in pieces: one error to its sender, nothing of it to others.
    a.say(b"y" * 4097)
    for _ in range(24):
        a.say(b"y" * 4096)
    a.say(b"\nafter\n")
    a.expect(b"*** error: a line over 4096 bytes was not sent\n")
    b.expect(b"<guest1> after\n")


def test_a_line_without_lf_is_taken_after_a_pause(room):
    """The tutorial's client sends no LF."""
    s, addr = room()
    a, b = two(addr)
    a.say(b"no newline")
    b.expect(b"<guest1> no newline\n")
    a.say(b"half")
    a.say(b" and half\n")
    b.expect(b"<guest1> half and half\n")


def test_empty_lines_are_ignored(room):
    s, addr = room()
    a, b = two(addr)
    a.say(b"\n\r\n   \t \n")
    sentinel(a, b)
    assert b.quiet()


# ---- commands ----

def test_nick_who_me_help_and_escapes(room):
    s, addr = room()
    a, b = two(addr)
    b.say(b"/nick bob\n")
    b.expect(b"*** you are now bob\n")
    a.expect(b"*** guest2 is now bob\n")
    a.say(b"/NICK BOB\n")
    a.expect(b"*** error: the nick BOB is taken\n")
    a.say(b"/nick 9lives\n")
    a.expect(b"*** error: '9lives' is not a nick: 1 to 24 letters, digits, "
             b"'-', '_' or '.', starting with a letter\n")
    a.say(b"/nick\n")
    a.expect(b"*** error: /nick needs a NAME\n")
    a.say(b"/me\n")
    a.expect(b"*** error: /me needs an ACTION\n")
    a.say(b"/who\n")
    a.expect(b"*** 2 here: guest1 bob\n")
    a.say(b"/me waves\n")
    b.expect(b"* guest1 waves\n")
    a.say(b"//not a command\n")
    b.expect(b"<guest1> /not a command\n")
    a.say(b"/whoami\n")
    a.expect(b"*** error: unknown command /whoami (try /help)\n")
    a.say(b"/help\n")
    a.expect(b"*** commands: /nick NAME, /who, /me ACTION, /quit [REASON], "
             b"/help\n",
             b"*** a line starting with / is a command; // says a line "
             b"starting with /\n",
             b"*** lines from the server start with ***\n")
    # A nick set back by its owner in another case is allowed.
    b.say(b"/nick Bob\n")
    b.expect(b"*** you are now Bob\n")
    a.expect(b"*** bob is now Bob\n")


def test_quit_with_a_reason(room):
    s, addr = room()
    a, b = two(addr)
    b.say(b"/quit gone \x1b[31mfishing\n")
    b.expect(b"*** bye\n")
    b.eof()
    a.expect(b"*** guest2 left (gone \xef\xbf\xbd[31mfishing)\n")


def test_nick_then_default_nick_never_collide(room):
    s, addr = room()
    a = Member(addr)
    a.say(b"/nick guest2\n")
    # The greeting goes with the first line a member receives, with the
    # nick it has then.
    a.greeted(b"guest2", 1)
    a.expect(b"*** you are now guest2\n")
    b = Member(addr)
    a.expect(b"*** guest3 joined\n")
    b.say(b"/who\n")
    b.greeted(b"guest3", 2)
    b.expect(b"*** 2 here: guest2 guest3\n")


# ---- floods, slow readers, vanishing members ----

def test_flood_control(room):
    s, addr = room("--chat-line-rate", "1", "--chat-line-burst", "3")
    a, b = two(addr)
    a.say(b"".join(b"line %d\n" % i for i in range(10)))
    # "hi" took one token: two lines pass, and the sender is told once.
    b.expect(b"<guest1> line 0\n", b"<guest1> line 1\n")
    a.expect(b"*** slow down: lines over 1 a second are dropped; this one "
             b"was\n")
    b.say(b"sentinel\n")
    assert a.line() == b"<guest2> sentinel\n"
    assert b.quiet()


def test_member_killed_and_reset(room):
    s, addr = room()
    a, b = two(addr)
    p = subprocess.Popen(["socat", "-", "TCP:%s:%d" % addr],
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    a.expect(b"*** guest3 joined\n")
    p.send_signal(signal.SIGKILL)
    p.wait()
    a.expect(b"*** guest3 left\n")
    # A reset (SO_LINGER 0).
    c = Member(addr)
    a.expect(b"*** guest4 joined\n")
    c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                   b"\x01\x00\x00\x00\x00\x00\x00\x00")
    c.close()
    a.expect(b"*** guest4 left (connection lost)\n")
    b.expect(b"*** guest3 joined\n", b"*** guest3 left\n",
             b"*** guest4 joined\n", b"*** guest4 left (connection lost)\n")
    sentinel(a, b)


def test_a_crowd_is_counted_not_named(room):
    """Joins and leaves past 20 at once are told as one count a second,
    not one line each to every member (members squared)."""
    s, addr = room()
    a = Member(addr)
    crowd = [Member(addr) for _ in range(50)]
    # guest1's own join took the first of the 20.
    got = a.lines(20)
    assert got[0] == b"*** welcome, you are guest1; 2 here; /help for commands\n"
    assert got[1:] == [b"*** guest%d joined\n" % i for i in range(2, 21)]
    assert a.line() == (b"*** 31 joined and 0 left in the last second (too "
                        b"many to name)\n")
    # Closed with notices unread, a socket resets: "connection lost".
    for m in crowd:
        m.close()
    line = a.line()
    while line.startswith(b"*** guest"):
        assert line.endswith((b" left\n", b" left (connection lost)\n"))
        line = a.line()
    assert line.startswith(b"*** 0 joined and ") and \
        line.endswith(b" left in the last second (too many to name)\n")
    a.say(b"/who\n")
    assert a.line() == b"*** 1 here: guest1\n"


def test_half_open_member_caught_by_idle_timeout(room):
    s, addr = room("--chat-idle-timeout", "1")
    a = Member(addr)
    b = Member(addr)
    a.greeted(b"guest1", 2)
    a.expect(b"*** guest2 joined\n")
    # Both idle: both go; each sees the other leave, or is gone first.
    assert a.line() in (b"*** guest2 left (idle for too long)\n", b"")


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_reader_that_never_reads_cannot_slow_the_room(room):
    """100 members chat while one never reads: the room stays responsive,
    the slow one is cut off at its output cap, everyone is told, and the
    daemon's memory stays bounded."""
    s, addr = room("--chat-line-rate", "100000", "--chat-line-burst", "100000")
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(addr)
    members = [Member(addr) for _ in range(100)]
    # Everyone has joined once /who says so (past the first 20 in a
    # burst, joins are told as a count once a second).
    first = members[0]
    while True:
        first.say(b"/who\n")
        line = first.line()
        while not line.startswith(b"*** ") or b" here:" not in line:
            line = first.line()
        if line.startswith(b"*** 101 here:"):
            break
        time.sleep(0.05)
    rss0 = rss_kib(s.proc.pid)
    text = b"x" * 1000 + b"\n"
    cut = False
    for rnd in range(20):
        if cut:
            break
        for m in members[1:]:
            m.say(text)
        # The room answers: the first member gets every line.
        for _ in range(99):
            line = first.line()
            while line.startswith(b"***"):
                # Named, or counted if the joins took the room's quota
                # of notices this second.
                cut = cut or line == (b"*** guest1 left (too slow to read: "
                                      b"disconnected)\n") or \
                    line.endswith(b" joined and 1 left in the last second "
                                  b"(too many to name)\n")
                line = first.line()
            assert line.endswith(b"> " + text)
        for m in members[1:]:
            m.buf = b""
            m.s.setblocking(False)
            try:
                while m.s.recv(1 << 20):
                    pass
            except BlockingIOError:
                pass
            m.s.setblocking(True)
    # A count comes on the room's next second.
    while not cut:
        line = first.line()
        cut = line == (b"*** guest1 left (too slow to read: "
                       b"disconnected)\n") or \
            line.endswith(b" joined and 1 left in the last second "
                          b"(too many to name)\n")
    assert "more than 262144 bytes of output queued" in s.stderr()
    # Bounded: the slow reader's queue was cut at 256 KiB.
    assert rss_kib(s.proc.pid) - rss0 < 16 * 1024
    slow.close()


# ---- the hold queue ----

def test_hold_queue_one_caller_at_a_time(room):
    s, addr = room("--chat-max-members", "1", "--chat-max-held", "2")
    a = Member(addr)
    b = Member(addr)
    b.expect(b"*** the room is full: you are on hold, place 1 in the queue\n")
    c = Member(addr)
    c.expect(b"*** the room is full: you are on hold, place 2 in the queue\n")
    d = Member(addr)
    d.expect(b"*** the room is full and so is its queue; try again later\n")
    d.eof()
    # What a held caller says waits, like the tutorial's backlog.
    b.say(b"said while on hold\n")
    a.say(b"/quit\n")
    a.greeted(b"guest1", 1)
    a.expect(b"*** bye\n")
    a.eof()
    b.greeted(b"guest2", 1)
    b.expect(b"*** your turn: you are in the room\n")
    c.expect(b"*** the room is full: you are on hold, place 1 in the queue\n")
    b.close()
    c.greeted(b"guest3", 1)
    c.expect(b"*** your turn: you are in the room\n")
    # guest2's held line was said once it was in: nobody was there to hear.
    assert c.quiet()


# ---- the console, and plain clients ----

class Console:
    """The daemon's terminal: its stdin and what it prints on stdout."""

    def __init__(self, server):
        self.s = server
        self.buf = server.rest

    def say(self, data):
        self.s.proc.stdin.write(data)
        self.s.proc.stdin.flush()

    def line(self):
        fd = self.s.proc.stdout.fileno()
        while b"\n" not in self.buf:
            r, _, _ = select.select([fd], [], [], WAIT)
            assert r, "nothing on the console: %r" % self.buf
            chunk = os.read(fd, 65536)
            assert chunk, "the console closed"
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"


def test_console_member(room):
    s, addr = room("--chat-console", "1", stdin=subprocess.PIPE)
    k = Console(s)
    a = Member(addr)
    assert k.line() == b"*** guest1 joined\n"
    a.say(b"hello operator\n")
    assert k.line() == b"<guest1> hello operator\n"
    k.say(b"hello caller\n")
    a.greeted(b"guest1", 2)
    a.expect(b"<operator> hello caller\n")
    a.say(b"/who\n")
    a.expect(b"*** 2 here: operator guest1\n")
    k.say(b"/quit\n")
    assert k.line() == (b"*** the console stays in the room; stop the daemon "
                        b"to end it\n")
    # The operator hangs up: the room goes on without it.
    s.proc.stdin.close()
    a.expect(b"*** operator left\n")
    wait_log(s, "chat: the console's input ended; it left the room")


def tutorial(addr, lines):
    """Run the tutorial's TCP phone client with lines on its stdin; its
    stdout."""
    p = subprocess.run([sys.executable, os.path.join(HERE, "tutorial",
                                                     "phone_client.py"),
                        addr[0], str(addr[1])],
                       input="".join(l + "\n" for l in lines).encode(),
                       capture_output=True, timeout=WAIT)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_tutorial_client_against_the_console(room):
    s, addr = room("--chat-console", "1", "--chat-max-members", "1",
                   stdin=subprocess.PIPE)
    k = Console(s)
    out = {}

    import threading
    t = threading.Thread(target=lambda: out.setdefault(
        "o", tutorial(addr, ["hello", "how are you"])))
    t.start()
    assert k.line() == b"*** guest1 joined\n"
    assert k.line() == b"<guest1> hello\n"
    k.say(b"hi, operator here\n")
    assert k.line() == b"<guest1> how are you\n"
    k.say(b"fine\n")
    t.join(WAIT)
    assert out["o"] == (
        b">>: b'*** welcome, you are guest1; 2 here; /help for commands\\n"
        b"<operator> hi, operator here\\n'\n"
        b">>: b'<operator> fine\\n'\n>>: ")


def test_tutorial_client_against_another_member(room):
    s, addr = room()
    b = Member(addr)
    out = {}

    import threading
    t = threading.Thread(target=lambda: out.setdefault(
        "o", tutorial(addr, ["ping"])))
    t.start()
    b.greeted(b"guest1", 2)
    b.expect(b"*** guest2 joined\n", b"<guest2> ping\n")
    b.say(b"pong\n")
    t.join(WAIT)
    assert out["o"] == (b">>: b'*** welcome, you are guest2; 2 here; /help "
                        b"for commands\\n<guest1> pong\\n'\n>>: ")


def test_ncat_and_socat_are_members(room):
    s, addr = room()
    a = Member(addr)
    n = subprocess.Popen(["ncat", addr[0], str(addr[1])],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    a.greeted(b"guest1", 2)
    a.expect(b"*** guest2 joined\n")
    n.stdin.write(b"from ncat\n")
    n.stdin.flush()
    a.expect(b"<guest2> from ncat\n")
    a.say(b"to ncat\n")
    assert n.stdout.readline() == (b"*** welcome, you are guest2; 2 here; "
                                   b"/help for commands\n")
    assert n.stdout.readline() == b"<guest1> to ncat\n"
    n.stdin.close()
    n.wait(WAIT)
    a.expect(b"*** guest2 left\n")
    r = subprocess.run(["socat", "-", "TCP:%s:%d" % addr],
                       input=b"from socat\n/quit\n", capture_output=True,
                       timeout=WAIT)
    a.expect(b"*** guest3 joined\n", b"<guest3> from socat\n",
             b"*** guest3 left\n")
    assert r.stdout == (b"*** welcome, you are guest3; 2 here; /help for "
                        b"commands\n*** bye\n")


# ---- UDP ----

class Peer:
    """A UDP peer of the room."""

    def __init__(self, addr, bind="127.0.0.1"):
        self.addr = addr
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((bind, 0))
        self.s.settimeout(WAIT)

    def say(self, data):
        self.s.sendto(data, self.addr)

    def get(self):
        data, src = self.s.recvfrom(65536)
        assert src == self.addr
        return data

    def quiet(self):
        r, _, _ = select.select([self.s], [], [], 0)
        return not r


def test_udp_peers_share_the_room_with_tcp_members(room):
    s, addr = room()
    a = Member(addr)
    p = Peer(s.addr("chat", "udp"))
    p.say(b"hello from udp")
    a.greeted(b"guest1", 2)
    a.expect(b"*** guest2 joined\n", b"<guest2> hello from udp\n")
    a.say(b"hi udp\n")
    # The greeting and the line in one datagram: the tutorial's client
    # reads one.
    assert p.get() == (b"*** welcome, you are guest2; 2 here; /help for "
                       b"commands\n<guest1> hi udp\n")
    # Each line of a datagram is a line of its own, each attributed.
    p.say(b"/nick udpguy\none\n<guest1> two\n")
    assert p.get() == b"*** you are now udpguy\n"
    a.expect(b"*** guest2 is now udpguy\n", b"<udpguy> one\n",
             b"<udpguy> <guest1> two\n")
    p.say(b"/who")
    assert p.get() == b"*** 2 here: guest1 udpguy\n"
    q = Peer(s.addr("chat", "udp"))
    q.say(b"third")
    a.expect(b"*** guest3 joined\n", b"<guest3> third\n")
    assert p.get() == b"*** guest3 joined\n"
    assert p.get() == b"<guest3> third\n"
    p.say(b"/quit done")
    assert p.get() == b"*** bye\n"
    a.expect(b"*** udpguy left (done)\n")
    assert q.get().endswith(b"*** udpguy left (done)\n")


def test_udp_lines_are_flood_limited_too(room):
    """A datagram of many lines cannot get round the line bucket."""
    s, addr = room("--chat-line-rate", "1", "--chat-line-burst", "2")
    a = Member(addr)
    p = Peer(s.addr("chat", "udp"))
    p.say(b"".join(b"l%d\n" % i for i in range(50)))
    a.greeted(b"guest1", 2)
    a.expect(b"*** guest2 joined\n", b"<guest2> l0\n", b"<guest2> l1\n")
    assert p.get() == (b"*** welcome, you are guest2; 2 here; /help for "
                       b"commands\n*** slow down: lines over 1 a second are "
                       b"dropped; this one was\n")
    a.say(b"/who\n")
    assert a.line() == b"*** 2 here: guest1 guest2\n"


def test_udp_peers_expire(room):
    s, addr = room("--chat-udp-expire", "1")
    a = Member(addr)
    p = Peer(s.addr("chat", "udp"))
    p.say(b"here")
    a.greeted(b"guest1", 2)
    a.expect(b"*** guest2 joined\n", b"<guest2> here\n",
             b"*** guest2 left (silent for 1 s)\n")


def test_udp_unproven_peer_is_never_an_amplifier(room):
    """With loopback untrusted, a peer that has not proven its address
    gets at most one datagram per datagram it sent, no bigger than three
    times it; /hello and /ack prove it."""
    s, addr = room("--chat-udp-trust-loopback", "0", "--chat-line-rate",
                   "1000", "--chat-line-burst", "1000")
    a = Member(addr)
    p = Peer(s.addr("chat", "udp"))
    p.say(b"x" * 40)                 # credit: 1 datagram of 120 bytes
    a.greeted(b"guest1", 2)
    a.expect(b"*** guest2 joined\n", b"<guest2> " + b"x" * 40 + b"\n")
    for i in range(5):
        a.say(b"line %d\n" % i)
    # Only the first fits its credit (the greeting rides with it).
    assert p.get() == (b"*** welcome, you are guest2; 2 here; /help for "
                       b"commands\n<guest1> line 0\n")
    a.say(b"y" * 200 + b"\n")
    p.say(b"z" * 10)                 # credit: 1 of 30 bytes
    a.expect(b"<guest2> " + b"z" * 10 + b"\n")
    a.say(b"this line is longer than thirty bytes\n")
    a.say(b"short\n")
    assert p.get() == b"<guest1> short\n"
    # Prove it: /hello, padded so the cookie fits, and /ack.
    p.say(b"/hello" + b" " * 60)
    got = p.get()
    assert got.startswith(b"*** cookie ") and got.endswith(b" to be sent every line\n")
    cookie = got.split()[2].rstrip(b":")
    p.say(b"/ack " + b"0" * 16)
    assert p.get() == b"*** error: wrong cookie (send /hello for one)\n"
    p.say(b"/ack " + cookie)
    assert p.get() == b"*** your address is proven: every line comes to you now\n"
    for i in range(5):
        a.say(b"again %d\n" % i)
    for i in range(5):
        assert p.get() == b"<guest1> again %d\n" % i


def test_udp_room_full_and_garbage(room):
    s, addr = room("--chat-max-members", "1")
    a = Member(addr)
    p = Peer(s.addr("chat", "udp"))
    p.say(b"hi")                      # smaller than the notice: nothing
    p.say(b"a datagram long enough to be told")
    assert p.get() == b"*** the room is full\n"
    assert p.quiet()
    # Oversize datagrams are dropped unread; the room goes on.
    q = Peer(s.addr("chat", "udp"))
    q.say(b"z" * 5000)
    a.say(b"/who\n")
    a.greeted(b"guest1", 1)
    a.expect(b"*** 1 here: guest1\n")


def tutorial_udp(addr, lines):
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "tutorial",
                                                       "udp_chat_client.py"),
                          addr[0], str(addr[1])],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    return p


def test_tutorial_udp_client_against_the_console_and_a_peer(room):
    """The tutorial's UDP client sends a datagram and reads one: its
    answer comes from the console, then from another peer."""
    s, addr = room("--chat-console", "1", stdin=subprocess.PIPE)
    uaddr = s.addr("chat", "udp")
    k = Console(s)
    p = Peer(uaddr)
    p.say(b"/nick second")
    assert k.line() == b"*** guest1 joined\n"
    assert k.line() == b"*** guest1 is now second\n"
    assert p.get() == (b"*** welcome, you are second; 2 here; /help for "
                       b"commands\n*** you are now second\n")
    t = tutorial_udp(uaddr, [])
    t.stdin.write(b"hello\n")
    t.stdin.flush()
    assert k.line() == b"*** guest2 joined\n"
    assert k.line() == b"<guest2> hello\n"
    assert p.get() == b"*** guest2 joined\n"
    assert p.get() == b"<guest2> hello\n"
    k.say(b"hi there\n")
    assert p.get() == b"<operator> hi there\n"
    t.stdin.write(b"and you?\n")
    t.stdin.flush()
    assert k.line() == b"<guest2> and you?\n"
    assert p.get() == b"<guest2> and you?\n"
    p.say(b"me too")
    assert k.line() == b"<second> me too\n"
    out, err = t.communicate(timeout=WAIT)
    assert out == (b">>: *** welcome, you are guest2; 3 here; /help for "
                   b"commands\n<operator> hi there\n\n"
                   b">>: <second> me too\n\n>>: "), err


# ---- the client, sockit chat ----

STAMP = rb"\[\d\d:\d\d:\d\d\] "


def test_client_piped_tcp_and_udp(room):
    """Scripted: the lines on stdin are said, what the room says is
    printed with the time and no colour, and the end of input is /quit."""
    import re
    from conftest import SOCKIT
    s, addr = room()
    a = Member(addr)
    p = subprocess.Popen([SOCKIT, "chat", "--nick", "scripted",
                          "%s:%d" % addr], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    a.greeted(b"guest1", 2)
    a.expect(b"*** guest2 joined\n", b"*** guest2 is now scripted\n")
    a.say(b"hello \x1b[31mscripted\n")
    # The client has taken its nick: the room's line comes after it.
    p.stdin.write(b"hi from a pipe\n/me waves\n")
    p.stdin.flush()
    a.expect(b"<scripted> hi from a pipe\n", b"* scripted waves\n")
    out, err = p.communicate(timeout=WAIT)
    a.expect(b"*** scripted left\n")
    assert (p.returncode, err) == (0, b"")
    lines = out.split(b"\n")
    want = [b"*** welcome, you are scripted; 2 here; /help for commands",
            b"*** you are now scripted",
            b"<guest1> hello \xef\xbf\xbd[31mscripted",
            b"*** bye", b""]
    assert len(lines) == len(want), out
    for got, w in zip(lines, want):
        assert w == b"" and got == b"" or re.fullmatch(STAMP + re.escape(w), got), out
    # UDP: the client proves its address (trust of loopback off here).
    s2, addr2 = room("--chat-udp-trust-loopback", "0")
    b = Member(addr2)
    r = subprocess.run([SOCKIT, "chat", "--udp", "%s:%d" % s2.addr("chat", "udp")],
                       input=b"over udp\n", capture_output=True, timeout=WAIT)
    assert (r.returncode, r.stderr) == (0, b"")
    assert re.search(rb"\*\*\* your address is proven", r.stdout), r.stdout
    b.greeted(b"guest1", 2)
    b.expect(b"*** guest2 joined\n", b"<guest2> over udp\n",
             b"*** guest2 left\n")


def test_client_errors():
    from conftest import SOCKIT
    r = subprocess.run([SOCKIT, "chat"], capture_output=True)
    assert (r.returncode, r.stderr) == (2, b"sockit: chat: expected HOST[:PORT]\n"
                                           b"Try 'sockit help chat'.\n")
    r = subprocess.run([SOCKIT, "chat", "--nick", "9x", "127.0.0.1"],
                       capture_output=True)
    assert r.returncode == 2
    assert r.stderr.startswith(b"sockit: chat: --nick: '9x' is not a nick")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r = subprocess.run([SOCKIT, "chat", "127.0.0.1:%d" % port],
                       capture_output=True, stdin=subprocess.DEVNULL)
    assert (r.returncode, r.stderr) == (
        1, b"sockit: chat: 127.0.0.1:%d: connection refused\n" % port)


def test_client_on_a_terminal_keeps_the_line_being_typed(room, tmp_path):
    """Under tmux: a line arrives while one is being typed; the typed line
    stays whole under it, and goes out whole."""
    from conftest import SOCKIT, Tmux
    s, addr = room()
    a = Member(addr)
    t = Tmux(tmp_path, [SOCKIT, "chat", "--nick", "tty", "%s:%d" % addr],
             env={"XDG_STATE_HOME": str(tmp_path / "state")})
    try:
        a.greeted(b"guest1", 2)
        a.expect(b"*** guest2 joined\n", b"*** guest2 is now tty\n")
        t.wait(r"\*\*\* you are now tty\n> ?$")
        t.keys("half a li")
        t.wait(r"^> half a li$")
        a.say(b"incoming while you type\n")
        scr = t.wait(r"<guest1> incoming while you type\n> half a li$")
        esc = t.screen(escapes=True)
        assert "\x1b[" in esc  # colours on a terminal
        t.keys("ne", "Enter")
        a.expect(b"<tty> half a line\n")
        scr = t.wait(r"\] <tty> half a line\n> ?$")
        t.keys("/quit", "Enter")
        t.wait(r"\[\[status 0\]\]")
    finally:
        t.close()
    a.expect(b"*** tty left\n")


def test_bench_chat_against_the_room(room):
    """`sockit bench chat`: a room forms, its talkers' lines reach every
    other member, and the one line it prints adds up; --steps holds idle
    members and reads the daemon's memory."""
    import re
    from conftest import sockit
    s, addr = room("--chat-line-rate", "1000000", "--chat-line-burst",
                   "1000000", "--chat-max-conn-per-source", "0")
    hp = "%s:%d" % addr
    r = sockit("bench", "chat", "-m", "20", "-t", "3", "-d", "0.5", "--pid",
               str(s.proc.pid), "--latency", hp)
    assert r.returncode == 0, r.stderr
    m = re.match(r"chat line %s: 20 members, 3 talkers: (\d+) lines delivered "
                 r"in [0-9.]+ s = \d+ per second; (\d+) said; server [0-9.]+ "
                 r"CPU-s = \d+ per CPU-second; generator \d+%% busy; delay "
                 r"median (\d+) us, p99 (\d+) us, max (\d+) us\n$" % hp,
                 r.stdout)
    assert m, r.stdout
    delivered, said = int(m.group(1)), int(m.group(2))
    # Each line goes to the 19 others; those in flight at the end (at most
    # 16 per talker) are not counted.
    assert said > 0 and 19 * (said - 3 * 16) <= delivered <= 19 * said
    assert int(m.group(3)) <= int(m.group(4)) <= int(m.group(5))
    r = sockit("bench", "chat", "--steps", "5,30", "--pid", str(s.proc.pid), hp)
    assert r.returncode == 0, r.stderr
    assert re.match(r"chat line %s: held 30 members \(5 at [0-9.]+ s, 30 at "
                    r"[0-9.]+ s\); server RSS \d+ KiB with none, \d+ KiB with "
                    r"30 = -?[0-9.]+ KiB per member\n$" % hp, r.stdout), r.stdout
    # Usage: the first member never talks, so talkers < members.
    r = sockit("bench", "chat", "-m", "3", "-t", "3", hp)
    assert r.returncode == 2 and "--talkers" in r.stderr
