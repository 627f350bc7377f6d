"""exec over UDP: DTLS 1.2 sessions carrying the reliable message layer
(docs/PROTOCOL.md, "exec (UDP)"), and the tutorial's raw UDP commands.

Loss is real: the tests that need it run the daemon and the client in a
network namespace of their own (unshare, then nsenter), where nftables
drops datagrams at random (`numgen random mod 10 lt N drop`) on the
namespace's loopback, both ways."""
import hashlib
import os
import re
import shutil
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import SOCKIT, sockit

KEY = bytes(range(32))


def keyfile(tmp_path, ident="alice", key=KEY, name="keys"):
    p = tmp_path / name
    p.write_text("%s %s\n" % (ident, key.hex()))
    os.chmod(p, 0o600)
    return str(p)


def run_exec(*args, input=None, timeout=60, wrap=()):
    return subprocess.run(list(wrap) + [SOCKIT, "exec"] + list(args),
                          input=input, capture_output=True, timeout=timeout)


@pytest.fixture
def udp_ex(serve, tmp_path):
    keys = keyfile(tmp_path)
    s = serve("exec/udp=127.0.0.1:0", "--exec-keys", keys)
    return s, s.hostport("exec", "udp"), keys


# ---- the client against the server ----

def test_udp_streams_and_exit_codes(udp_ex):
    s, hp, keys = udp_ex
    r = run_exec("--udp", "-k", keys, hp, "--", "sh", "-c",
                 "printf 'a\\000b'; printf E >&2; exit 7")
    assert (r.returncode, r.stdout, r.stderr) == (7, b"a\x00b", b"E")
    r = run_exec("--udp", "-k", keys, hp, "-c", "echo $((2+3))")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"5\n", b"")
    r = run_exec("--udp", "-k", keys, hp, "--", "sh", "-c", "kill -TERM $$")
    assert (r.returncode, r.stdout) == (128 + 15, b"")
    r = run_exec("--udp", "-k", keys, hp, "--", "no-such-command-xyz")
    assert r.returncode == 127
    assert r.stderr == b"sockit: exec: no-such-command-xyz: command not found on 127.0.0.1\n"


def test_udp_output_cap_truncates(serve, tmp_path):
    keys = keyfile(tmp_path)
    s = serve("exec/udp=127.0.0.1:0", "--exec-keys", keys,
              "--exec-udp-max-output-kib", "64")
    r = run_exec("--udp", "-k", keys, s.hostport("exec", "udp"), "--",
                 "head", "-c", "1000000", "/dev/zero")
    assert r.returncode == 255
    assert 60000 < len(r.stdout) < 64 * 1024
    assert r.stdout == b"\0" * len(r.stdout)
    assert r.stderr == (b"sockit: exec: head: output truncated: it passed the output "
                        b"cap of 127.0.0.1, which killed the command\n")


def test_udp_repl_keeps_one_session(udp_ex):
    s, hp, keys = udp_ex
    r = run_exec("--udp", "-k", keys, hp,
                 input=b"echo one\n\necho two >&2\nexit_code() { return 4; }; exit_code\n")
    assert r.stdout == b"one\n"
    assert r.stderr == b"two\n"
    assert r.returncode == 4


def test_udp_wrong_key_runs_nothing(udp_ex, tmp_path):
    s, hp, keys = udp_ex
    wrong = keyfile(tmp_path, key=b"\xff" * 32, name="wrong")
    mark = tmp_path / "ran"
    r = run_exec("--udp", "-k", wrong, "-w", "3", hp, "--", "touch", str(mark))
    assert r.returncode == 255
    assert r.stderr == ("sockit: exec: %s: authentication failed (the server did not "
                        "finish the handshake: is the key for our identity right?)\n"
                        % hp).encode()
    unknown = keyfile(tmp_path, ident="mallory", name="unknown")
    r = run_exec("--udp", "-k", unknown, "-w", "3", hp, "--", "touch", str(mark))
    assert r.returncode == 255
    assert r.stderr.startswith(("sockit: exec: %s: authentication failed (" % hp).encode())
    assert not mark.exists()
    # The server still serves the right key.
    r = run_exec("--udp", "-k", keys, hp, "--", "echo", "ok")
    assert (r.returncode, r.stdout) == (0, b"ok\n")


def test_udp_nothing_there(tmp_path):
    keys = keyfile(tmp_path)
    # A port nobody listens on: the kernel says so at once.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
    r = run_exec("--udp", "-k", keys, "127.0.0.1:%d" % port, "--", "true")
    assert r.returncode == 255
    assert r.stderr == (b"sockit: exec: 127.0.0.1:%d: connection refused (no exec over "
                        b"UDP there)\n" % port)
    # A port that takes datagrams and never answers.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        r = run_exec("--udp", "-k", keys, "-w", "1", "127.0.0.1:%d" % port, "--", "true")
    assert r.returncode == 255
    assert r.stderr == (b"sockit: exec: 127.0.0.1:%d: no reply from the server within "
                        b"1 s\n" % port)


def test_udp_usage_errors(tmp_path):
    for args, msg in (
            (["--udp", "--insecure", "127.0.0.1", "true"],
             "--insecure is for TCP: over UDP there is always DTLS"),
            (["--attempts", "3", "127.0.0.1", "true"], "--attempts is for --udp"),
            (["--udp", "--attempts", "0", "127.0.0.1", "true"],
             "--attempts: '0' is not a number from 1 to 32"),
            (["--udp", "unix:/x", "true"], "a unix socket is for TCP only"),
            (["--udp", "127.0.0.1", "-c", "x" * 1200],
             "the command, its environment and directory take more than 1163 "
             "bytes, the most one UDP request holds")):
        r = sockit("exec", *args)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.splitlines()[0] == "sockit: exec: " + msg, r.stderr


def test_openssl_s_client_dtls_interop(udp_ex):
    s, hp, keys = udp_ex
    host, port = s.addr("exec", "udp")
    r = subprocess.run(["openssl", "s_client", "-dtls1_2", "-psk", KEY.hex(),
                        "-psk_identity", "alice", "-connect", "%s:%d" % (host, port)],
                       input=b"", capture_output=True, timeout=20)
    # s_client lists ChaCha20 first; the server's order wins.
    assert re.search(rb"New, TLSv1\.2, Cipher is PSK-AES128-GCM-SHA256", r.stdout), \
        r.stdout + r.stderr
    assert b"Protocol  : DTLSv1.2" in r.stdout


# ---- no state, and no amplification, before the address is proven ----

def client_hello(tmp_path):
    """A real DTLS 1.2 ClientHello, caught from s_client."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", 0))
        u.settimeout(20)
        p = subprocess.Popen(["openssl", "s_client", "-dtls1_2", "-psk", KEY.hex(),
                              "-psk_identity", "alice",
                              "-connect", "127.0.0.1:%d" % u.getsockname()[1]],
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            hello = u.recvfrom(4096)[0]
        finally:
            p.kill()
            p.wait()
    assert hello[0] == 22 and hello[1] == 0xfe  # a handshake record, DTLS
    return hello


def test_unvalidated_address_gets_no_more_than_it_sent(udp_ex, tmp_path):
    s, hp, keys = udp_ex
    addr = s.addr("exec", "udp")
    hello = client_hello(tmp_path)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.settimeout(10)
        u.sendto(hello, addr)
        hvr = u.recvfrom(4096)[0]
        # HelloVerifyRequest: a handshake record of type 3, smaller than
        # the hello; no session is kept.
        assert hvr[0] == 22 and hvr[13] == 3
        assert len(hvr) < len(hello)
        # The hello again with a forged cookie (the cookie sits after the
        # random and an empty session id): another HelloVerifyRequest,
        # never a ServerHello.
        i = 13 + 12 + 2 + 32
        sid = hello[i]
        assert sid == 0 and hello[i + 1] == 0  # no session id, no cookie
        # A cookie of 16 bytes, wrong, inserted, lengths fixed up.
        body = hello[13:i + 1] + bytes([16]) + b"\x42" * 16 + hello[i + 2:]
        mlen = len(body) - 12
        body = body[:1] + mlen.to_bytes(3, "big") + body[4:9] + mlen.to_bytes(3, "big") + body[12:]
        forged = hello[:11] + len(body).to_bytes(2, "big") + body
        u.sendto(forged, addr)
        again = u.recvfrom(4096)[0]
        assert again[0] == 22 and again[13] == 3, again
        assert len(again) < len(forged)
        # A record as if a session existed, and a layer REQUEST in the
        # clear: dropped without a word. The sentinel, a hello, is
        # answered, so the two before it were read and refused.
        u.sendto(bytes([23, 0xfe, 0xfd]) + b"\0" * 10 + b"x" * 40, addr)
        u.sendto(b"\xa1\x01\0\0\0\0\0\0" + b"\0" * 7 + b"\x01" + b"rm -rf /", addr)
        u.sendto(hello, addr)
        assert u.recvfrom(4096)[0][13] == 3
    r = run_exec("--udp", "-k", keys, hp, "--", "echo", "still")
    assert r.stdout == b"still\n"


# ---- the tutorial's raw UDP client ----

TUTORIAL = os.path.join(os.path.dirname(__file__), "tutorial", "udp_exec_client.py")


def test_tutorial_udp_exec_client(serve, tmp_path):
    s = serve("exec/udp=127.0.0.1:0", "--exec-keys", keyfile(tmp_path),
              "--exec-raw", "1", "--exec-insecure", "1")
    host, port = s.addr("exec", "udp")
    r = subprocess.run(["python3", TUTORIAL, host, str(port)], capture_output=True,
                       text=True, timeout=30,
                       input="echo hello\ntrue\nsh -c 'echo e >&2'\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ">>: hello\n\n>>: ok\n>>: e\n\n>>: ", r.stdout
    # A long output: datagrams of at most 1024 bytes, in order.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.settimeout(10)
        u.sendto(b"head -c 3000 /dev/zero | tr '\\0' x", (host, port))
        got = [u.recvfrom(4096)[0] for _ in range(3)]
    assert [len(d) for d in got] == [1024, 1024, 952]
    assert b"".join(got) == b"x" * 3000


def test_raw_udp_is_off_by_default(udp_ex, tmp_path):
    s, hp, keys = udp_ex
    addr = s.addr("exec", "udp")
    mark = tmp_path / "raw-ran"
    hello = client_hello(tmp_path)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.settimeout(10)
        u.sendto(b"touch %s" % str(mark).encode(), addr)
        u.sendto(hello, addr)  # the sentinel
        assert u.recvfrom(4096)[0][13] == 3
    assert not mark.exists()


# ---- hostile peers ----

def test_garbage_and_a_vanished_client(serve, tmp_path):
    keys = keyfile(tmp_path)
    s = serve("exec/udp=127.0.0.1:0", "--exec-keys", keys, "--exec-udp-idle", "1")
    hp = s.hostport("exec", "udp")
    addr = s.addr("exec", "udp")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        for junk in (b"", b"\x16", b"\x16\xfe\xfd" + b"\xff" * 60, os.urandom(1500),
                     b"\x17\xfe\xfd" + b"\0" * 2000, b"\x16\xfe\xfd" + b"\0" * 3000):
            u.sendto(junk, addr)
    # A client that goes away while its command runs: the session ends
    # at its idle time, and the command with it.
    marker = "31.4159"
    p = subprocess.Popen([SOCKIT, "exec", "--udp", "-k", keys, hp, "--", "sleep", marker],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def sleeping():
        n = 0
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as f:
                        if f.read() == b"sleep\0" + marker.encode() + b"\0":
                            n += 1
                except OSError:
                    pass
        return n

    deadline = time.monotonic() + 20
    while sleeping() == 0:
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.05)
    p.kill()
    p.wait()
    deadline = time.monotonic() + 20
    while sleeping() > 0:
        assert time.monotonic() < deadline, "the vanished client's command still runs"
        time.sleep(0.1)
    r = run_exec("--udp", "-k", keys, hp, "--", "echo", "fine")
    assert (r.returncode, r.stdout) == (0, b"fine\n")


# ---- under loss, in a network namespace of the test's own ----

class Netns:
    """A network namespace with its loopback up, held by a sleeping
    process of ours; run() and wrap enter it with nsenter."""

    def __init__(self):
        self.holder = subprocess.Popen(
            ["unshare", "--net", "sh", "-c", "ip link set lo up && echo up && exec sleep 3600"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.holder.stdout.readline()
        if line != b"up\n":
            err = self.holder.stderr.read()
            self.holder.wait()
            raise RuntimeError("cannot make a network namespace: %r" % err)
        self.wrap = ["nsenter", "--net=/proc/%d/ns/net" % self.holder.pid, "--"]

    def nft(self, script):
        subprocess.run(self.wrap + ["nft", "-f", "-"], input=script.encode(),
                       check=True, timeout=20)

    def loss(self, tenths, what="meta l4proto udp"):
        """Drop tenths/10 of the datagrams (what) on loopback, both ways."""
        rule = "%s drop" % what if tenths >= 10 else \
            "%s numgen random mod 10 lt %d drop" % (what, tenths)
        self.nft("table inet sockit_loss\ndelete table inet sockit_loss\n"
                 "table inet sockit_loss {\n chain in {\n"
                 "  type filter hook input priority 0; policy accept;\n"
                 "  %s\n }\n}\n" % rule)

    def close(self):
        self.holder.kill()
        self.holder.wait()


@pytest.fixture
def netns():
    if shutil.which("nft") is None:
        pytest.fail("nft is missing: scripts/deps installs nftables")
    ns = Netns()
    yield ns
    ns.close()


@pytest.fixture
def lossy(serve, netns, tmp_path):
    keys = keyfile(tmp_path)
    s = serve("exec/udp=127.0.0.1:0", "--exec-keys", keys, wrap=netns.wrap)
    return netns, s.hostport("exec", "udp"), keys


@pytest.mark.parametrize("tenths", [0, 1, 3])
def test_one_megabyte_under_loss(lossy, tmp_path, tenths):
    ns, hp, keys = lossy
    data = tmp_path / "data"
    data.write_bytes(os.urandom(1000000))
    ns.loss(tenths)
    r = run_exec("--udp", "-k", keys, "-w", "30", "--attempts", "12", hp, "--", "cat",
                 str(data), wrap=ns.wrap, timeout=120)
    assert r.returncode == 0, r.stderr
    assert hashlib.sha256(r.stdout).hexdigest() == \
        hashlib.sha256(data.read_bytes()).hexdigest()


def test_exactly_once_under_loss_and_retries(lossy, tmp_path):
    ns, hp, keys = lossy
    log = tmp_path / "log"
    log.write_text("")
    os.chmod(tmp_path, 0o755)
    ns.loss(3)
    # Each command outlives the client's first poll (after 1 s of
    # silence), which repeats its request; under 30% loss its first tries
    # and their answers are lost too. Every one must run once.
    for i in range(8):
        r = run_exec("--udp", "-k", keys, "-w", "30", "--attempts", "12", hp, "-c",
                     "echo %d >> %s; sleep 1.3" % (i, log), wrap=ns.wrap, timeout=120)
        assert r.returncode == 0, r.stderr
    assert log.read_text() == "".join("%d\n" % i for i in range(8))


def test_handshake_the_server_forgot_starts_over(lossy, tmp_path):
    # The client's last flight (its ClientKeyExchange: handshake type 16
    # in the first record, 13 bytes into the datagram) is lost until the
    # server has forgotten the handshake (after 10 s,
    # SK_DTLS_HANDSHAKE_MS_DEFAULT). Resending that flight can then never
    # finish it; the client must start over, from a new port.
    ns, hp, keys = lossy
    port = int(hp.rsplit(":", 1)[1])
    ns.loss(10, what="udp dport %d @th,168,8 16" % port)
    p = subprocess.Popen(ns.wrap + [SOCKIT, "exec", "--udp", "-k", keys, "-w", "25",
                                    hp, "--", "echo", "through"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # Not a wait for readiness: the server's fixed window must pass.
        time.sleep(11)
        ns.loss(0)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert (p.returncode, out, err) == (0, b"through\n", b"")


def test_no_reply_after_the_attempts(lossy, tmp_path):
    ns, hp, keys = lossy
    mark = tmp_path / "late"
    os.chmod(tmp_path, 0o755)
    p = subprocess.Popen(ns.wrap + [SOCKIT, "exec", "--udp", "-k", keys, "--attempts", "2",
                                    hp, "-c", "touch %s; sleep 30" % mark],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while not mark.exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    ns.loss(10)  # the path goes dark
    try:
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:  # it never gave up: fail, and leave nothing
            p.kill()
            p.wait()
    assert p.returncode == 255
    assert err.decode() == "sockit: exec: %s: no reply (2 attempts)\n" % hp


def test_restarted_client_on_the_same_port(udp_ex):
    """A client that died without a close_notify and starts again from the
    same address and port gets a new session at once (RFC 6347, 4.2.8),
    not after the old one's idle timeout."""
    s, hp, keys = udp_ex
    host, port = s.addr("exec", "udp")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", 0))
        mine = u.getsockname()[1]
    args = ["openssl", "s_client", "-dtls1_2", "-psk", KEY.hex(), "-psk_identity", "alice",
            "-bind", "127.0.0.1:%d" % mine, "-connect", "%s:%d" % (host, port)]
    p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    seen = b""
    while b"Cipher is" not in seen:
        line = p.stdout.readline()
        assert line, "the first handshake did not finish"
        seen += line
    p.kill()
    p.wait()
    r = subprocess.run(args, input=b"", capture_output=True, timeout=20)
    assert re.search(rb"New, TLSv1\.2, Cipher is PSK-", r.stdout), r.stdout + r.stderr


def test_bench_exec_over_udp(udp_ex):
    s, hp, keys = udp_ex
    r = sockit("bench", "-d", "0.5", "exec", "--udp", "-k", keys, hp)
    assert r.returncode == 0, r.stderr
    assert re.match(r"exec %s: \d+ replies in [\d.]+ s = \d+ per second; 0 failed\n$"
                    % re.escape(hp), r.stdout), r.stdout
    r = sockit("bench", "-d", "0.5", "--bytes", "exec", "--udp", "-k", keys, hp, "--",
               "head", "-c", "100000", "/dev/zero")
    assert r.returncode == 0, r.stderr
    assert re.match(r"exec %s: \d+ bytes in [\d.]+ s = [\d.]+ MB/s; \d+ commands, 0 failed\n$"
                    % re.escape(hp), r.stdout), r.stdout
    for args, msg in ((["--udp", "tcp", hp], "--udp is for exec"),
                      (["-w", "4", "exec", "--udp", hp],
                       "exec --udp runs one command at a time (--window 1)"),
                      (["exec", "--udp", "--insecure", hp],
                       "exec --udp has no --insecure: it is always DTLS")):
        r = sockit("bench", *args)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.splitlines()[0] == "sockit: bench: " + msg, r.stderr


def test_one_source_cannot_take_every_session(udp_ex):
    """Sessions (handshakes included) from one address are capped at 32
    (SK_DTLS_PER_SOURCE), whatever its ports; one that ends frees its
    place at once."""
    s, hp, keys = udp_ex
    host, port = s.addr("exec", "udp")
    args = ["openssl", "s_client", "-dtls1_2", "-psk", KEY.hex(), "-psk_identity", "alice",
            "-connect", "%s:%d" % (host, port)]
    held = []

    def shake(p):
        seen = b""
        while b"Cipher is" not in seen:
            line = p.stdout.readline()
            if not line:
                return seen
            seen += line
        return seen

    try:
        for _ in range(32):
            p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL)
            held.append(p)
            assert b"New, TLSv1.2" in shake(p)
        r = subprocess.run(["timeout", "3"] + args, input=b"", capture_output=True)
        assert b"Cipher is PSK" not in r.stdout, r.stdout
        # One says goodbye (close_notify at the end of its input): the
        # next handshake from the same source is served.
        held[0].stdin.close()
        held[0].wait(timeout=20)
        r = subprocess.run(args, input=b"", capture_output=True, timeout=20)
        assert re.search(rb"New, TLSv1\.2, Cipher is PSK-", r.stdout), r.stdout
    finally:
        for p in held:
            p.kill()
            p.wait()
