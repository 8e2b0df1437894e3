"""Sample rates whose ratio to 16 kHz is unwieldy (383,999 Hz: up 16000, down 383999)
resample in bounded memory, close to the exact signal, identically in blocks and whole."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.audio import SAMPLE_RATE, iter_blocks, load_audio, output_length

ROOT = Path(__file__).resolve().parents[1]
ODD = 383_999

# Peak memory of loading 5 s at 383,999 Hz, beyond that of loading 5 s at 16 kHz in the
# same process (imports and the 16 kHz path already paid). The exact polyphase filter
# took 140 MB more here; the streaming resampler needs a few MB.
CHILD = r"""
import resource, sys
import numpy as np, soundfile as sf
from engine.audio import load_audio
load_audio(sys.argv[1])  # 16 kHz: imports, allocator warm-up
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
a = load_audio(sys.argv[2])
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) / 1024, a.samples.shape[1])
"""


def _tone(path: Path, rate: int, seconds: float = 5.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    x = (0.3 * np.sin(2 * np.pi * 440.0 * t) + 0.2 * np.sin(2 * np.pi * 3100.0 * t))
    sf.write(path, x.astype(np.float32), rate, subtype="FLOAT")
    return x


@pytest.fixture(scope="module")
def odd_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("odd") / "odd.wav"
    _tone(path, ODD)
    return path


def test_odd_rate_peak_memory_is_bounded(odd_file: Path, tmp_path: Path) -> None:
    normal = tmp_path / "n.wav"
    _tone(normal, SAMPLE_RATE)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(normal), str(odd_file)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=True,
    )
    extra_mb, n = done.stdout.split()
    assert int(n) == output_length(5 * ODD, ODD) == 80_000
    assert float(extra_mb) < 50, done.stdout


def test_odd_rate_is_close_to_the_exact_signal(odd_file: Path) -> None:
    y = load_audio(odd_file).samples[0]
    assert y.shape == (output_length(5 * ODD, ODD),)
    t = np.arange(y.size) / SAMPLE_RATE
    want = 0.3 * np.sin(2 * np.pi * 440.0 * t) + 0.2 * np.sin(2 * np.pi * 3100.0 * t)
    inner = slice(400, -400)  # the filters' edges differ
    assert np.max(np.abs(y[inner] - want[inner])) < 1e-3


def test_odd_rate_blocks_equal_the_whole(odd_file: Path) -> None:
    whole = load_audio(odd_file).samples[0]
    blocks = list(iter_blocks(odd_file, block_seconds=1.3))
    assert [round(s * SAMPLE_RATE) for s, _ in blocks] == [
        i * 20_800 for i in range(len(blocks))
    ]
    assert np.array_equal(np.concatenate([b for _, b in blocks]), whole)
