"""`make install` installs the binary, the man pages and the systemd units
under DESTDIR and PREFIX (through the same cmake --install step the
Makefile runs)."""
import os
import subprocess

from conftest import SOCKIT


def test_install_tree(tmp_path):
    build = os.path.dirname(SOCKIT)
    env = dict(os.environ, DESTDIR=str(tmp_path))
    r = subprocess.run(["cmake", "--install", build, "--prefix", "/opt/sk"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    binary = tmp_path / "opt/sk/bin/sockit"
    man = tmp_path / "opt/sk/share/man/man1/sockit.1"
    assert os.access(binary, os.X_OK)
    assert man.read_text().startswith(".TH") or ".TH SOCKIT 1" in man.read_text()
    man5 = tmp_path / "opt/sk/share/man/man5/sockit.conf.5"
    assert man5.read_text().startswith(".TH SOCKIT.CONF 5 ")
    r = subprocess.run([str(binary), "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("sockit ")
    units = tmp_path / "opt/sk/lib/systemd/system"
    assert sorted(os.listdir(units)) == sorted(
        ["sockit.service"] + ["sockit-%s.socket" % n for n in
                              ("welcome", "chat", "exec", "timefmt",
                               "daytime", "time", "ntp")])
    # The service runs the binary installed with it.
    service = (units / "sockit.service").read_text()
    assert "\nExecStart=/opt/sk/bin/sockit serve\n" in service
    assert "@" not in service.split("ExecStart=")[1].split("\n")[0]
