"""engine.peak_pyramid: peaks in one streaming pass, the disk cache, cancel, file reads."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine import peak_pyramid as P
from engine.errors import Cancelled, MediaUnreadable
from engine.jobs import CancelToken


def _write(path: Path, seconds: float, rate: int = 16000, channels: int = 1, seed: int = 0,
           fmt: str = "WAV") -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    x = (0.3 * rng.standard_normal((n, channels))).clip(-1, 1).astype(np.float32)
    x[n // 3, 0] = 0.99  # one spike somewhere mid-file
    sf.write(path, x, rate, subtype="PCM_16", format=fmt)
    back, _ = sf.read(path, dtype="float32", always_2d=True)  # what PCM_16 kept
    return back


def _mono(frames: np.ndarray) -> np.ndarray:
    return frames[:, 0] if frames.shape[1] == 1 else frames.mean(axis=1, dtype=np.float32)


def _direct(x: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of every ``width`` samples of ``x`` (the last bucket may be short)."""
    k = -(-x.size // width)
    lo = np.array([x[j * width:(j + 1) * width].min() for j in range(k)], np.float32)
    hi = np.array([x[j * width:(j + 1) * width].max() for j in range(k)], np.float32)
    return lo, hi


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.mark.parametrize(("rate", "channels", "fmt"), [(16000, 1, "WAV"), (44100, 2, "FLAC")])
def test_levels_match_a_direct_min_max(tmp_path: Path, cache: Path, rate: int, channels: int,
                                       fmt: str) -> None:
    path = tmp_path / f"a.{fmt.lower()}"
    frames = _write(path, 190.3, rate, channels, fmt=fmt)  # not a multiple of any bucket
    mono = _mono(frames)
    audio, peaks = P.open_file_audio(path, cache_dir=cache)
    assert (audio.sample_rate, audio.num_samples, audio.original_channels) == (
        rate, mono.size, channels)
    assert peaks.num_samples == mono.size and peaks.base == P.BASE
    assert peaks.num_levels >= 3 and peaks.mins[-1].size <= P.TOP_BUCKETS < peaks.mins[-2].size
    for level in range(peaks.num_levels):
        lo, hi = _direct(mono, peaks.bucket_samples(level))
        np.testing.assert_array_equal(peaks.mins[level], lo)
        np.testing.assert_array_equal(peaks.maxs[level], hi)
        assert not peaks.mins[level].flags.writeable
    assert float(peaks.maxs[-1].max()) == pytest.approx(float(mono.max()))


def test_read_frames_are_the_files_samples(tmp_path: Path) -> None:
    path = tmp_path / "s.flac"
    frames = _write(path, 20.0, 44100, 2, fmt="FLAC")
    mono = _mono(frames)
    audio, _ = P.open_file_audio(path, use_cache=False)
    np.testing.assert_array_equal(audio.read_frames(123_457, 300_001), mono[123_457:300_001])
    np.testing.assert_array_equal(audio.read_seconds(2.0, 3.0), mono[88200:132300])
    assert audio.read_frames(mono.size - 10, mono.size + 500).size == 10  # clipped
    assert audio.read_frames(-5, 0).size == 0
    assert audio.source == str(path) and audio.duration == pytest.approx(20.0)


def test_cache_hit_on_reopen_and_miss_after_a_change(tmp_path: Path, cache: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "r.wav"
    _write(path, 30.0)
    passes: list[int] = []
    real = P._stream_peaks

    def counting(*a, **k):
        passes.append(1)
        return real(*a, **k)

    monkeypatch.setattr(P, "_stream_peaks", counting)
    _, first = P.open_file_audio(path, cache_dir=cache)
    files = list(cache.glob("*.peaks.npz"))
    assert len(passes) == 1 and len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600  # the envelope of someone's voice
    messages: list[str] = []
    _, again = P.open_file_audio(path, cache_dir=cache,
                                 progress=lambda f, m="": messages.append(m))
    assert len(passes) == 1 and "cache" in messages[-1]  # no decoding the second time
    for a, b in zip(first.mins + first.maxs, again.mins + again.maxs, strict=True):
        np.testing.assert_array_equal(a, b)
    # same bytes, new mtime: a miss (the key holds the mtime)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    P.open_file_audio(path, cache_dir=cache)
    assert len(passes) == 2
    # new content and size: a miss, and the peaks are the new file's
    new = _mono(_write(path, 12.0, seed=7))
    _, changed = P.open_file_audio(path, cache_dir=cache)
    assert len(passes) == 3 and changed.num_samples == new.size
    np.testing.assert_array_equal(changed.maxs[0], _direct(new, P.BASE)[1])
    P.open_file_audio(path, cache_dir=cache)
    assert len(passes) == 3


def test_a_corrupt_cache_file_is_rebuilt(tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "c.wav"
    mono = _mono(_write(path, 10.0))
    P.open_file_audio(path, cache_dir=cache)
    target = P.cache_file(path, cache)
    target.write_bytes(b"not a numpy file")
    _, peaks = P.open_file_audio(path, cache_dir=cache)
    np.testing.assert_array_equal(peaks.mins[0], _direct(mono, P.BASE)[0])
    assert P._load(target) is not None  # rewritten whole


def test_cancel_raises_and_leaves_no_cache(tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "k.wav"
    _write(path, 200.0)  # 3.2 M frames: several reads
    token = CancelToken()
    seen: list[float] = []

    def progress(f: float, m: str = "") -> None:
        seen.append(f)
        if 0 < f < 1:
            token.cancel()

    with pytest.raises(Cancelled):
        P.open_file_audio(path, cache_dir=cache, progress=progress, cancel=token)
    assert seen and max(seen) < 1.0
    assert not cache.exists() or list(cache.iterdir()) == []  # not even a temporary file
    _, peaks = P.open_file_audio(path, cache_dir=cache)  # and a later open works
    assert peaks.num_samples == 200 * 16000 and len(list(cache.iterdir())) == 1


def test_bad_files_raise_the_engines_errors(tmp_path: Path, cache: Path) -> None:
    with pytest.raises(MediaUnreadable) as e:
        P.open_file_audio(tmp_path / "missing.wav", cache_dir=cache)
    assert e.value.detail == "media.not-found"
    nan = tmp_path / "nan.wav"
    x = np.zeros(16000, np.float32)
    x[500] = np.nan
    sf.write(nan, x, 16000, subtype="FLOAT")
    with pytest.raises(MediaUnreadable) as e:
        P.open_file_audio(nan, cache_dir=cache)
    assert e.value.detail == "media.non-finite"
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF1234 not audio at all" * 10)
    with pytest.raises(MediaUnreadable):
        P.open_file_audio(junk, cache_dir=cache)
    assert not cache.exists() or list(cache.iterdir()) == []


def test_base_widens_for_very_long_files_and_cache_is_pruned(tmp_path: Path) -> None:
    assert P.choose_base(24 * 3600 * 16000) == 256  # 5.4 M buckets: within the bound
    b = P.choose_base(24 * 3600 * 48000)
    assert b > 256 and -(-24 * 3600 * 48000 // b) <= P.MAX_LEVEL0
    d = tmp_path / "many"
    d.mkdir()
    for i in range(P.MAX_CACHE_FILES + 3):
        f = d / f"{i:03d}.peaks.npz"
        f.write_bytes(b"x")
        os.utime(f, (1000 + i, 1000 + i))
    P._prune(d)
    left = sorted(p.name for p in d.iterdir())
    assert len(left) == P.MAX_CACHE_FILES and left[0] == "003.peaks.npz"  # oldest went
