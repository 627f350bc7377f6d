"""The Debian package: `dpkg-buildpackage -us -uc -b` builds it from a copy
of the source tree in a temporary directory, and the .deb is read with
dpkg-deb (its files, its control data) and lintian, and unpacked with
dpkg-deb -x into a directory to run. It is never installed.

The package is built from the source, not from SOCKIT_BIN, so one run per
`make check` is enough: the Makefile sets SOCKIT_PACKAGE_TEST=0 for the
sanitizer runs.
"""
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, tcp_read_all, Server

TOOLS = ["dpkg-buildpackage", "dpkg-deb", "dh", "lintian"]

pytestmark = [
    pytest.mark.skipif(os.environ.get("SOCKIT_PACKAGE_TEST") == "0",
                       reason="built once per make check"),
    pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS),
                       reason="no Debian packaging tools (scripts/deps)"),
    # The build compiles the whole tree: minutes on a busy 2-core machine.
    pytest.mark.timeout(900),
]

UNITS = ["sockit.service"] + ["sockit-%s.socket" % n for n in
                              ("welcome", "chat", "exec", "timefmt", "daytime",
                               "time", "ntp")]


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    """Build the package once; (path of the .deb, path of the .changes)."""
    top = tmp_path_factory.mktemp("deb")
    src = top / "sockit"
    # The tree as git sees it (tracked files and new ones, not what it
    # ignores, such as build trees); a tree without git is copied whole.
    try:
        files = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "-co",
                                "--exclude-standard"], capture_output=True)
    except FileNotFoundError:  # no git
        files = None
    if files is not None and files.returncode == 0:
        for name in files.stdout.decode().split("\0"):
            if name and os.path.isfile(os.path.join(ROOT, name)):
                os.makedirs(os.path.dirname(src / name), exist_ok=True)
                shutil.copy2(os.path.join(ROOT, name), src / name)
    else:
        def ignore(d, names):
            top = os.path.abspath(d) == os.path.abspath(ROOT)
            return [n for n in names
                    if n in ("__pycache__", ".pytest_cache", ".git") or
                    (top and n.startswith(("build", "obj-")))]
        shutil.copytree(ROOT, src, ignore=ignore)
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck parallel=2")
    r = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src,
                       capture_output=True, text=True, env=env, timeout=840)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    version = re.match(r"^sockit \(([^)]+)\)",
                       (src / "debian/changelog").read_text()).group(1)
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True,
                          text=True).stdout.strip()
    base = "sockit_%s_%s" % (version, arch)
    return str(top / (base + ".deb")), str(top / (base + ".changes"))


def test_package_contents(deb):
    r = subprocess.run(["dpkg-deb", "-c", deb[0]], capture_output=True,
                       text=True, check=True)
    # "-rwxr-xr-x root/root 313632 2026-11-25 12:00 ./usr/bin/sockit"
    entries = {}
    for line in r.stdout.splitlines():
        f = line.split()
        entries[f[5]] = (f[0], f[1])
    want = {
        "./usr/bin/sockit": "-rwxr-xr-x",
        "./usr/share/man/man1/sockit.1.gz": "-rw-r--r--",
        "./usr/share/man/man5/sockit.conf.5.gz": "-rw-r--r--",
        "./etc/sockit/sockit.conf": "-rw-r--r--",
        "./usr/share/doc/sockit/copyright": "-rw-r--r--",
        "./usr/share/doc/sockit/changelog.gz": "-rw-r--r--",
        "./usr/share/lintian/overrides/sockit": "-rw-r--r--",
    }
    for u in UNITS:
        want["./lib/systemd/system/" + u] = "-rw-r--r--"
    for path, mode in want.items():
        assert entries.get(path) == (mode, "root/root"), (path, r.stdout)
    files = sorted(p for p, (m, _) in entries.items() if not m.startswith("d"))
    assert files == sorted(want), files


def test_package_control(deb):
    info = subprocess.run(["dpkg-deb", "-f", deb[0]], capture_output=True,
                          text=True, check=True).stdout
    assert re.search(r"^Package: sockit$", info, re.M)
    depends = re.search(r"^Depends: (.*)$", info, re.M).group(1)
    for lib in ("adduser", "libuv1", "libssl3", "libedit2", "libsystemd0"):
        assert re.search(r"(^|, )%s( |,|$)" % lib, depends), depends
    ctrl = subprocess.run(["dpkg-deb", "--ctrl-tarfile", deb[0]],
                          capture_output=True, check=True).stdout
    listing = subprocess.run(["tar", "-tf", "-"], input=ctrl,
                             capture_output=True, check=True).stdout.decode()
    assert "./conffiles" in listing.split()

    def member(name):
        return subprocess.run(["tar", "-xOf", "-", name], input=ctrl,
                              capture_output=True, check=True).stdout.decode()
    assert member("./conffiles").split() == ["/etc/sockit/sockit.conf"]
    postinst = member("./postinst")
    # The user first, then debhelper's part, which starts the units.
    user = postinst.index("adduser --system --group --quiet --home "
                          "/var/lib/sockit")
    assert "_sockit" in postinst[user:user + 200]
    assert user < postinst.index("deb-systemd-helper enable 'sockit.service'")
    for u in UNITS:
        assert "deb-systemd-helper enable '%s'" % u in postinst


def test_lintian_finds_no_error(deb):
    r = subprocess.run(["lintian", "--fail-on", "error", "--no-tag-display-limit",
                        deb[1]], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not re.search(r"^E: ", r.stdout, re.M), r.stdout


def test_unpacked_package_runs(deb, tmp_path):
    """The packaged binary, unpacked (never installed), serves with the
    packaged sample configuration."""
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", deb[0], str(root)], check=True)
    binary = str(root / "usr/bin/sockit")
    r = subprocess.run([binary, "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("sockit "), r
    service = (root / "lib/systemd/system/sockit.service").read_text()
    assert "\nExecStart=/usr/bin/sockit serve\n" in service
    s = Server(["-c", str(root / "etc/sockit/sockit.conf"),
                "daytime/tcp=127.0.0.1:0"], binary=binary)
    try:
        assert re.match(rb"^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\r\n$",
                        tcp_read_all(s.addr("daytime", "tcp")))
    finally:
        assert s.stop() == 0
