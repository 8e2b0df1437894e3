"""Nothing leaves the machine, watched at the system-call level.

``test_offline.py`` patches Python's ``socket``; native code (ONNX Runtime's telemetry
uploader is C++) goes around it. Here real ``vpstudio enroll`` / ``identify`` runs and
the window's ``--self-test`` run under ``strace -f -e trace=network`` with a fresh,
empty HOME (a new user's machine), and the test fails on:

* a connect/sendto/sendmsg to an address that is not loopback;
* any name lookup: a packet to port 53 (loopback included: systemd-resolved's stub is
  127.0.0.53), or a connection to nscd's or systemd-resolved's socket;
* any file or folder created under HOME outside the app's data and cache folders
  (ONNX Runtime wrote ``~/.cache/Microsoft/DeveloperTools/.onnxruntime/deviceid``).

strace is a declared system dependency (Makefile ``DEB_PACKAGES``); the test skips only
where strace exists but may not trace (a container without ptrace).
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
CLIP = DATA / "arctic_slt_a0009.wav"
STRACE = shutil.which("strace")

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="strace is Linux-only")

_CALL = re.compile(r"^(?:\[pid\s+)?(\d+)\]?\s+(connect|sendto|sendmsg|sendmmsg)\((.*)$")
_INET = re.compile(r'sa_family=AF_INET,\s*sin_port=htons\((\d+)\),\s*sin_addr=inet_addr\("([^"]+)"\)')
_INET6 = re.compile(
    r'sa_family=AF_INET6,\s*sin6_port=htons\((\d+)\).*?inet_pton\(AF_INET6,\s*"([^"]+)"'
)
_UNIX = re.compile(r'sa_family=AF_UNIX,\s*sun_path=(?:@)?"([^"]*)"')
_RESOLVER_SOCKETS = ("nscd", "systemd/resolve")


def violations(trace: str) -> list[str]:
    """The lines of an ``strace -f -e trace=network`` log that reach off the machine
    or look a name up (see the module docstring)."""
    bad: list[str] = []
    for line in trace.splitlines():
        m = _CALL.match(line.strip())
        if not m:
            continue
        args = m.group(3)
        for port, host in [*_INET.findall(args), *_INET6.findall(args)]:
            if int(port) == 53:
                bad.append(f"DNS query: {line.strip()}")
            elif not _local(host):
                bad.append(f"non-local address {host}:{port}: {line.strip()}")
        for path in _UNIX.findall(args):
            if any(s in path for s in _RESOLVER_SOCKETS):
                bad.append(f"name lookup through {path}: {line.strip()}")
    return bad


def _local(host: str) -> bool:
    addr = ipaddress.ip_address(host)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback or addr.is_unspecified


@pytest.mark.parametrize("line, kind", [
    ('12 connect(5, {sa_family=AF_INET, sin_port=htons(53), '
     'sin_addr=inet_addr("10.255.255.53")}, 16) = 0', "DNS"),
    ('12 sendto(5, "x", 1, 0, {sa_family=AF_INET, sin_port=htons(53), '
     'sin_addr=inet_addr("127.0.0.53")}, 16) = 1', "DNS"),
    ('12 connect(5, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), '
     'inet_pton(AF_INET6, "2606:4700::1", &sin6_addr), sin6_scope_id=0}, 28 <unfinished ...>',
     "non-local"),
    ('[pid 12] connect(5, {sa_family=AF_INET, sin_port=htons(443), '
     'sin_addr=inet_addr("13.69.239.72")}, 16) = -1 ENETUNREACH', "non-local"),
    ('12 connect(13, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1',
     "name lookup"),
    ('12 connect(3, {sa_family=AF_UNIX, sun_path="/run/systemd/resolve/io.systemd.Resolve"}, '
     '110) = 0', "name lookup"),
])
def test_violations_are_recognised(line: str, kind: str) -> None:
    found = violations(line)
    assert len(found) == 1 and found[0].startswith(kind), found


@pytest.mark.parametrize("line", [
    '12 connect(5, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("127.0.0.1")}, 16)',
    '12 connect(5, {sa_family=AF_INET6, sin6_port=htons(9), sin6_flowinfo=htonl(0), '
    'inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = 0',
    '12 bind(6, {sa_family=AF_INET6, sin6_port=htons(0), inet_pton(AF_INET6, "::1", &x)}, 28)',
    '12 connect(11, {sa_family=AF_UNIX, sun_path="/dev/shm/jack_default_0_0"}, 110) = -1',
    '12 sendto(4, [{nlmsg_len=20, nlmsg_type=RTM_GETADDR}], 20, 0, {sa_family=AF_NETLINK, '
    'nl_pid=0, nl_groups=00000000}, 12) = 20',
    '12 socket(AF_INET, SOCK_DGRAM, IPPROTO_IP) = 5',
])
def test_local_traffic_is_allowed(line: str) -> None:
    assert violations(line) == []


# ------------------------------------------------------------- the switches, no strace
def _python(code: str, home: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**_fresh_env(home), **extra}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300)


def test_engine_import_switches_telemetry_off_before_onnxruntime(tmp_path: Path) -> None:
    # forced even over a user's explicit "0": the app's promise does not depend on the shell
    code = ("import os, sys, engine\n"
            "assert 'onnxruntime' not in sys.modules\n"
            "assert os.environ['ORT_DISABLE_TELEMETRY'] == '1', os.environ['ORT_DISABLE_TELEMETRY']\n"
            "assert os.environ['HF_HUB_DISABLE_TELEMETRY'] == '1'\n"
            "assert os.environ['HF_HUB_OFFLINE'] == '1'\n")
    r = _python(code, tmp_path, ORT_DISABLE_TELEMETRY="0", HF_HUB_DISABLE_TELEMETRY="0")
    assert r.returncode == 0, r.stderr


def test_onnx_session_writes_nothing_in_home(tmp_path: Path) -> None:
    """ONNX Runtime wrote its device id at import: a real session, then HOME is empty."""
    home = tmp_path / "home"
    home.mkdir()
    code = ("from engine import onnxrt, vad\n"
            "onnxrt.session(vad.model_path())\n")
    r = _python(code, home)
    assert r.returncode == 0, r.stderr
    assert sorted(p.relative_to(home).as_posix() for p in home.rglob("*")) == []


def test_frozen_app_hook_switches_telemetry_off(tmp_path: Path) -> None:
    hook = ROOT / "packaging" / "rthook_vpstudio.py"
    code = (f"import os, runpy, sys\nrunpy.run_path({str(hook)!r})\n"
            "assert os.environ['ORT_DISABLE_TELEMETRY'] == '1'\n"
            "assert os.environ['HF_HUB_OFFLINE'] == '1'\n")
    r = _python(code, tmp_path, ORT_DISABLE_TELEMETRY="0")
    assert r.returncode == 0, r.stderr


# --------------------------------------------------------------------------- real runs
_FAST: list[str] = []  # ["--seccomp-bpf"] where strace and the kernel support it


def _strace_usable() -> None:
    if STRACE is None:
        pytest.fail("strace is not installed: it is a system dependency of the tests "
                    "(`make system-deps`, or `apt-get install strace`)")
    probe = subprocess.run([STRACE, "-f", "-o", os.devnull, "true"], capture_output=True,
                           text=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip(f"strace cannot trace here (no ptrace in this container?): "
                    f"{probe.stderr.strip()[:200]}")
    # seccomp-bpf stops the process only on the traced (network) calls: ~4x faster
    fast = subprocess.run([STRACE, "--seccomp-bpf", "-f", "-qq", "-e", "trace=network", "-o",
                           os.devnull, "true"], capture_output=True, text=True, timeout=60)
    if fast.returncode == 0 and not fast.stderr.strip():
        _FAST[:] = ["--seccomp-bpf"]


def _fresh_env(home: Path) -> dict[str, str]:
    """The environment of a new user: empty HOME, default data folder, no telemetry
    switch of ours. The test run's rebuildable-model cache is kept (outside HOME) so
    the CAM++ export is not rebuilt for each run."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("XDG_", "VPSTUDIO_", "ORT_", "HF_"))
           and k not in ("DO_NOT_TRACK",)}
    if "VPSTUDIO_CACHE" in os.environ:
        env["VPSTUDIO_CACHE"] = os.environ["VPSTUDIO_CACHE"]
    # A login session always has XDG_RUNTIME_DIR (temp, per user). Without it, libpulse
    # (PortAudio's ALSA "pulse" hook, present where PulseAudio is installed, as in CI)
    # makes ~/.config/pulse/<machine-id>-runtime: the desktop's fallback, not the app's.
    run = home.parent / "run"
    run.mkdir(mode=0o700, exist_ok=True)
    env.update(HOME=str(home), XDG_RUNTIME_DIR=str(run), PYTHONPATH=str(ROOT),
               QT_QPA_PLATFORM="offscreen")
    return env


def traced(home: Path, log: Path, argv: Iterable[str], timeout: float = 600) -> str:
    """Run ``argv`` under strace with a fresh HOME; the strace log's text."""
    assert STRACE is not None
    cmd = [STRACE, *_FAST, "-f", "-qq", "-s", "128", "-e", "trace=network", "-e", "signal=none",
           "-o", str(log), *argv]
    # umask 000: files the app does not make private on purpose would come out 0666
    proc = subprocess.run(cmd, env=_fresh_env(home), capture_output=True, text=True,
                          timeout=timeout, cwd=str(home), umask=0)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return log.read_text(encoding="utf-8", errors="replace")


def app_folders(home: Path) -> tuple[Path, Path]:
    """The data and cache folders the app uses under this HOME (platformdirs' choice)."""
    code = ("from engine import paths; print(paths.data_home()); print(paths.cache_home())")
    out = subprocess.run([sys.executable, "-c", code], env=_fresh_env(home),
                         capture_output=True, text=True, timeout=120, check=True).stdout
    data, cache = out.split()
    return Path(data), Path(cache)


#: Shared desktop caches a library may fill in a fresh HOME, holding no user data:
#: libfontconfig writes its font index here when the system's (fc-cache) is missing
#: or stale, as on a fresh CI machine with only libfontconfig1.
DESKTOP_CACHES = (".cache/fontconfig",)


def strays(home: Path, allowed: Iterable[Path]) -> list[str]:
    """Paths created under ``home`` that are neither an allowed folder, inside one, nor
    a folder leading to one (nor one of :data:`DESKTOP_CACHES`)."""
    allowed = [a.resolve() for a in allowed] + [(home / c).resolve() for c in DESKTOP_CACHES]
    out = []
    for p in sorted(home.rglob("*")):
        r = p.resolve() if not p.is_symlink() else p
        if any(r == a or a in r.parents for a in allowed):
            continue
        if p.is_dir() and not p.is_symlink() and any(r in a.parents for a in allowed):
            continue
        out.append(str(p.relative_to(home)))
    return out


def test_strays_finds_files_outside_the_app_folders(tmp_path: Path) -> None:
    home = tmp_path / "home"
    data, cache = home / ".local/share/App", home / ".cache/App"
    for p in (data / "lib.db", cache / "m.onnx", home / ".cache/fontconfig/x.cache-8",
              home / ".cache/Microsoft/DeveloperTools/.onnxruntime/deviceid"):
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("")
    assert strays(home, (data, cache)) == [
        ".cache/Microsoft", ".cache/Microsoft/DeveloperTools",
        ".cache/Microsoft/DeveloperTools/.onnxruntime",
        ".cache/Microsoft/DeveloperTools/.onnxruntime/deviceid"]


@pytest.fixture(scope="module")
def fresh_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _strace_usable()
    return tmp_path_factory.mktemp("fresh-user") / "home"


def loose(folder: Path) -> list[str]:
    """Paths under ``folder`` (itself included) that are not 0700 folders / 0600 files."""
    out = []
    for p in [folder, *folder.rglob("*")]:
        if p.is_symlink():
            continue
        want = 0o700 if p.is_dir() else 0o600
        if (p.stat().st_mode & 0o777) != want:
            out.append(f"{p.relative_to(folder)} {oct(p.stat().st_mode & 0o777)}")
    return out


def _check(home: Path, trace: str) -> None:
    bad = violations(trace)
    assert not bad, "network traffic off the machine:\n" + "\n".join(bad[:20])
    data, cache = app_folders(home)
    assert not strays(home, (data, cache)), (
        f"files written in HOME outside the data and cache folders: {strays(home, (data, cache))}")
    assert not loose(data), f"data folder items readable by others: {loose(data)}"


def test_the_trace_sees_a_native_name_lookup(fresh_home: Path, tmp_path: Path) -> None:
    """Control: the same strace set-up catches a lookup (a UDP connect sends nothing)."""
    fresh_home.mkdir(exist_ok=True)
    code = ("import socket\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "s.connect(('192.0.2.1', 53))\n")
    trace = traced(fresh_home, tmp_path / "control.strace", [sys.executable, "-c", code])
    assert [v.split(":")[0] for v in violations(trace)] == ["DNS query"], trace


def test_cli_enroll_and_identify_stay_on_the_machine(fresh_home: Path, tmp_path: Path) -> None:
    fresh_home.mkdir(exist_ok=True)
    cli = [sys.executable, "-m", "engine.cli", "--json"]
    trace = traced(fresh_home, tmp_path / "enroll.strace",
                   [*cli, "enroll", "Speaker A", str(CLIP), "--force"])
    _check(fresh_home, trace)
    trace = traced(fresh_home, tmp_path / "identify.strace", [*cli, "identify", str(CLIP)])
    _check(fresh_home, trace)


def test_window_self_test_stays_on_the_machine(fresh_home: Path, tmp_path: Path) -> None:
    fresh_home.mkdir(exist_ok=True)
    trace = traced(fresh_home, tmp_path / "gui.strace",
                   [sys.executable, "-m", "gui", "--self-test", "--timeout", "500"])
    _check(fresh_home, trace)
