"""The tutorial's own clients work unchanged against sockit."""
import os
import re
import subprocess
import sys
from conftest import Window

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tutorial")


def run(script, host, port, input=None):
    r = subprocess.run([sys.executable, os.path.join(HERE, script), host, str(port)],
                       capture_output=True, input=input, timeout=20)
    r.stdout = r.stdout.decode()
    return r


def test_greeter_client(srv):
    host, port = srv.addr("welcome", "tcp")
    r = run("greeter_client.py", host, port)
    assert r.returncode == 0, r.stderr
    # One recv(1024) gets the whole banner; print() adds its own newline.
    assert re.match(r"^welcome to sockit, 127\.0\.0\.1:\d+\r\n\n$", r.stdout), repr(r.stdout)


def test_time_client(srv):
    host, port = srv.addr("timefmt", "udp")
    with Window() as w:
        r = run("time_client.py", host, port, input=b"%Y\n\n  %H hours  \n")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split("\n")
    assert lines[0] in {">>: " + y for y in w.strftime("%Y")}, lines[0]
    assert re.match(r"^>>: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", lines[1]), lines[1]
    assert re.match(r"^>>: \d\d hours$", lines[2]), lines[2]
    assert lines[3:] == [">>: "]


def test_exec_client_in_raw_mode(serve):
    s = serve("exec=127.0.0.1:0", "--exec-insecure", "1", "--exec-raw", "1")
    host, port = s.addr("exec", "tcp")
    r = run("exec_client.py", host, port,
            input="echo hello\n\ntrue\nls /nonexistent-dir\nprintf 'a\\nb'\nq\n".encode())
    assert r.returncode == 0, r.stderr
    # Each reply as the tutorial prints it: the output, stdout then
    # stderr, or 命令执行OK when there is none.
    assert r.stdout.split(">>: ") == [
        "",
        "hello\n\n",
        "",  # the empty line: the client asks again
        "命令执行OK\n",
        "ls: cannot access '/nonexistent-dir': No such file or directory\n\n",
        "a\nb\n",
        "",
    ], repr(r.stdout)


def test_raw_mode_is_off_by_default_and_needs_insecure(serve):
    from conftest import sockit
    s = serve("exec=127.0.0.1:0", "--exec-insecure", "1")
    host, port = s.addr("exec", "tcp")
    import socket
    with socket.create_connection((host, port), timeout=5) as c:
        c.sendall(b"echo hi")
        assert c.recv(100) == b""  # closed, nothing run
    r = sockit("serve", "exec=127.0.0.1:0", "--exec-raw", "1")
    assert r.returncode == 2
    assert "raw commands have no authentication: they need insecure = 1" in r.stderr
