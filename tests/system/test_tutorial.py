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
