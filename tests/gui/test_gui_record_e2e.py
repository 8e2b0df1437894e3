"""End to end through a virtual sound device: PulseAudio null sink, its monitor as input.

Recipe (what the fixture does; Debian packages ``pulseaudio pulseaudio-utils``,
whose ALSA plugin makes PortAudio's ``pulse``/``default`` devices talk to it):

    export XDG_RUNTIME_DIR=/tmp/pa PULSE_RUNTIME_PATH=/tmp/pa
    pulseaudio -n --daemonize=no --exit-idle-time=-1 \\
        --load=module-native-protocol-unix --load="module-null-sink sink_name=vp_null"
    pactl set-default-sink vp_null; pactl set-default-source vp_null.monitor

Whatever plays to the default output is then what the default input records.
Skipped where PulseAudio is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

pytestmark = pytest.mark.skipif(
    shutil.which("pulseaudio") is None or shutil.which("pactl") is None,
    reason="PulseAudio (Debian pulseaudio + pulseaudio-utils) is not installed",
)


@pytest.fixture
def pulse(tmp_path: Path):
    run = tmp_path / "pulse"
    run.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(run), "PULSE_RUNTIME_PATH": str(run),
           "HOME": str(tmp_path)}
    server = subprocess.Popen(
        ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit",
         "--load=module-native-protocol-unix", "--load=module-null-sink sink_name=vp_null"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        for _ in range(100):
            if subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0:
                break
            if server.poll() is not None:
                pytest.skip(f"pulseaudio does not start here: {server.stderr.read()[-500:]!r}")
            time.sleep(0.1)
        subprocess.run(["pactl", "set-default-sink", "vp_null"], env=env, check=True)
        subprocess.run(["pactl", "set-default-source", "vp_null.monitor"], env=env, check=True)
        yield env
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


def test_record_through_a_virtual_sound_device(pulse: dict, tmp_path: Path) -> None:
    env = {**pulse, "QT_QPA_PLATFORM": "offscreen", "VPSTUDIO_HOME": str(tmp_path / "home"),
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(HERE / "record_e2e_child.py")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["record_enabled"] and out["started"] and out["play_available"]
    assert out["seconds"] >= 2.0
    assert out["peak"] == pytest.approx(0.3, abs=0.05)  # the tone that was played
    assert out["meter"] > 40  # about -10 dBFS on the -60..0 meter
    assert out["audio_seconds"] == pytest.approx(out["seconds"], abs=0.01)
    assert out["freq"] == pytest.approx(523.25, abs=3)  # recorded, resampled, still C5
