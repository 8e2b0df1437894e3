"""engine.audio: formats, resampling, channels, limits, typed errors, blockwise reading."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine import audio as A
from engine.audio import (
    IDENTIFICATION_LIMITS,
    SAMPLE_RATE,
    VOICEPRINT_LIMITS,
    Audio,
    Limits,
    iter_blocks,
    load_audio,
    probe,
    save_wav,
)
from engine.errors import MediaUnreadable, SizeLimitExceeded, ValidationError


def tone(freq: float, seconds: float, rate: int, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(x: np.ndarray, rate: int = SAMPLE_RATE) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spec)])


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def write(path: Path, data: np.ndarray, rate: int, **kw: object) -> Path:
    """``data`` as ``(n,)`` or ``(channels, n)``."""
    sf.write(path, data.T if data.ndim == 2 else data, rate, **kw)
    return path


@pytest.fixture
def stereo(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """44.1 kHz stereo PCM_16: left 440 Hz at 0.5, right 1500 Hz at 0.25, 2.5 s."""
    left = tone(440, 2.5, 44100, 0.5)
    right = tone(1500, 2.5, 44100, 0.25)
    data = np.stack([left, right])
    return write(tmp_path / "stereo.wav", data, 44100, subtype="PCM_16"), data


# ----------------------------------------------------------------- round trips


def test_save_and_load_16k_round_trip(tmp_path: Path) -> None:
    x = tone(1000, 1.5, SAMPLE_RATE, 0.7)
    path = save_wav(tmp_path / "a.wav", x)
    au = load_audio(path)
    assert isinstance(au, Audio)
    assert au.samples.shape == (1, len(x)) and au.samples.dtype == np.float32
    assert np.max(np.abs(au.samples[0] - x)) < 1.5 / 32768
    assert au.duration == pytest.approx(1.5)
    assert au.source == str(path) and au.original_rate == 16000 and au.original_channels == 1
    assert au.num_channels == 1
    assert not au.samples.flags.writeable and not au.mono().flags.writeable


def test_bytes_equal_path(stereo: tuple[Path, np.ndarray]) -> None:
    path, _ = stereo
    a = load_audio(path)
    b = load_audio(path.read_bytes())
    c = load_audio(bytearray(path.read_bytes()))
    assert b.source is None
    assert np.array_equal(a.samples, b.samples) and np.array_equal(a.samples, c.samples)


@pytest.mark.parametrize(
    "fmt,subtype,tol",
    [("FLAC", "PCM_16", 1e-3), ("OGG", "VORBIS", None), ("MP3", "MPEG_LAYER_III", None)],
)
def test_compressed_formats(tmp_path: Path, fmt: str, subtype: str, tol: float | None) -> None:
    x = tone(700, 2.0, 16000, 0.5)
    path = tmp_path / f"x.{fmt.lower()}"
    sf.write(path, x, 16000, format=fmt, subtype=subtype)
    au = load_audio(path)
    y = au.mono()
    assert au.duration == pytest.approx(2.0, abs=0.1)
    assert peak_hz(y) == pytest.approx(700, abs=3)
    if tol is not None:  # lossless: same samples
        assert np.max(np.abs(y - x)) < tol
    else:  # lossy: same level
        assert rms(y) == pytest.approx(rms(x), rel=0.15)


def test_float_wav_array_like_input(tmp_path: Path) -> None:
    x = np.linspace(-0.9, 0.9, 16000, dtype=np.float32)
    path = write(tmp_path / "f.wav", x, 16000, subtype="FLOAT")
    assert np.array_equal(load_audio(path).samples[0], x)


# ----------------------------------------------------------------- resampling


@pytest.mark.parametrize(
    "rate,freq", [(44100, 1000.0), (8000, 1000.0), (22050, 3000.0), (48000, 440.0)]
)
def test_resampled_duration_and_frequency(tmp_path: Path, rate: int, freq: float) -> None:
    x = tone(freq, 3.0, rate)
    path = write(tmp_path / "r.wav", x, rate, subtype="FLOAT")
    au = load_audio(path)
    assert au.original_rate == rate
    assert au.samples.shape[1] == math.ceil(len(x) * 16000 / rate)
    assert au.duration == pytest.approx(3.0, abs=1 / 16000)
    y = au.mono()
    assert peak_hz(y) == pytest.approx(freq, abs=1.0)
    # passband level kept (interior, away from the zero-padded edges)
    assert rms(y[1600:-1600]) == pytest.approx(rms(x), rel=0.01)


@pytest.mark.parametrize("freq", [10000, 12000, 20000])
def test_tone_above_8k_is_attenuated_40db(tmp_path: Path, freq: float) -> None:
    """scipy's default polyphase filter: -6 dB at 8 kHz, > 50 dB down from ~9.6 kHz."""
    x = tone(freq, 2.0, 44100, 0.5)
    au = load_audio(write(tmp_path / "hi.wav", x, 44100, subtype="FLOAT"))
    y = au.mono()[1600:-1600]
    atten_db = 20 * math.log10(rms(y) / rms(x))
    assert atten_db < -40, atten_db


def test_timestamps_not_shifted(tmp_path: Path) -> None:
    """A click at t seconds in a 44.1 kHz file is at t seconds (± 1 sample) at 16 kHz.

    Leading and trailing silence stay: no trimming.
    """
    rate, t_click, seconds = 44100, 1.2345, 3.0
    x = np.zeros(int(seconds * rate), dtype=np.float32)
    x[int(round(t_click * rate))] = 0.9
    au = load_audio(write(tmp_path / "c.wav", x, rate, subtype="FLOAT"))
    y = au.mono()
    assert abs(int(np.argmax(np.abs(y))) - t_click * 16000) <= 1
    assert au.duration == pytest.approx(seconds, abs=1 / 16000)


# ----------------------------------------------------------------- channels


def test_stereo_mix_split_and_channel_list(stereo: tuple[Path, np.ndarray]) -> None:
    path, data = stereo
    mix = load_audio(path)
    split = load_audio(path, channel_mode="split")
    right = load_audio(path, channels=[1])
    swapped = load_audio(path, channel_mode="split", channels=[1, 0])
    assert mix.samples.shape[0] == 1 and split.samples.shape[0] == 2
    assert mix.original_channels == 2
    assert peak_hz(split.samples[0]) == pytest.approx(440, abs=1)
    assert peak_hz(split.samples[1]) == pytest.approx(1500, abs=1)
    assert np.array_equal(right.samples[0], split.samples[1])
    assert np.array_equal(swapped.samples[0], split.samples[1])
    assert np.array_equal(swapped.samples[1], split.samples[0])
    assert np.allclose(mix.samples[0], split.samples.mean(axis=0), atol=1e-6)
    assert np.allclose(split.mono(), mix.samples[0], atol=1e-6)


@pytest.mark.parametrize(
    "channels,detail",
    [
        ([2], "channels.out-of-range"),
        ([-1], "channels.out-of-range"),
        ([0, 0], "channels.duplicate"),
        ([], "channels.empty"),
        ([0.5], "channels.invalid"),
        ([True], "channels.invalid"),
    ],
)
def test_bad_channel_lists(stereo: tuple[Path, np.ndarray], channels: list, detail: str) -> None:
    path, _ = stereo
    with pytest.raises(ValidationError) as ei:
        load_audio(path, channels=channels)
    assert ei.value.location == "channels" and ei.value.detail == detail


def test_bad_channel_mode(stereo: tuple[Path, np.ndarray]) -> None:
    with pytest.raises(ValidationError) as ei:
        load_audio(stereo[0], channel_mode="left")  # type: ignore[arg-type]
    assert ei.value.location == "channel_mode"


# ----------------------------------------------------------------- errors


def _detail(exc_type: type, fn, *args, **kw) -> str | None:  # type: ignore[no-untyped-def]
    with pytest.raises(exc_type) as ei:
        fn(*args, **kw)
    return ei.value.detail


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert _detail(MediaUnreadable, load_audio, tmp_path / "nope.wav") == "media.not-found"
    assert _detail(MediaUnreadable, load_audio, tmp_path) == "media.not-a-file"
    assert _detail(MediaUnreadable, probe, tmp_path / "nope.wav") == "media.not-found"


def test_empty_file_and_bytes(tmp_path: Path) -> None:
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    assert _detail(MediaUnreadable, load_audio, p) == "media.empty"
    assert _detail(MediaUnreadable, load_audio, b"") == "media.empty"


def test_zero_length_audio(tmp_path: Path) -> None:
    p = write(tmp_path / "zero.wav", np.zeros(0, dtype=np.float32), 16000, subtype="PCM_16")
    assert p.stat().st_size > 0
    assert _detail(MediaUnreadable, load_audio, p) == "media.zero-length"
    with pytest.raises(MediaUnreadable):
        list(iter_blocks(p))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_in_file(tmp_path: Path, bad: float) -> None:
    x = np.zeros(44100, dtype=np.float32)
    x[1234] = bad
    p = write(tmp_path / "nan.wav", x, 44100, subtype="FLOAT")
    assert _detail(MediaUnreadable, load_audio, p) == "media.non-finite"


def test_garbage_and_text_are_unsupported(tmp_path: Path) -> None:
    p = tmp_path / "notes.wav"
    p.write_text("this is not audio at all\n" * 20)
    assert _detail(MediaUnreadable, load_audio, p) == "media.unsupported-format"
    assert _detail(MediaUnreadable, load_audio, b"hello world" * 100) == "media.unsupported-format"
    # random bytes can look like an MPEG frame to mpg123: then they are a corrupt stream
    garbage = np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    assert _detail(MediaUnreadable, load_audio, garbage) in {
        "media.unsupported-format",
        "media.corrupt",
    }


def _wav_bytes(seconds: float = 0.5, rate: int = 16000) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, tone(440, seconds, rate), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def test_corrupt_header() -> None:
    b = bytearray(_wav_bytes())
    assert b[:4] == b"RIFF" and b[12:16] == b"fmt "
    b[20:22] = (0x1234).to_bytes(2, "little")  # unknown WAVE format tag
    assert _detail(MediaUnreadable, load_audio, bytes(b)) == "media.corrupt"
    b = bytearray(_wav_bytes())
    b[22:24] = (0).to_bytes(2, "little")  # zero channels
    assert _detail(MediaUnreadable, load_audio, bytes(b)) == "media.corrupt"


def test_truncated_files(tmp_path: Path) -> None:
    b = _wav_bytes(1.0)
    # cut inside the header: unreadable
    assert _detail(MediaUnreadable, load_audio, b[:20]) == "media.corrupt"
    # cut inside the data: what is there decodes, from the start, unshifted
    half = load_audio(b[: 44 + 16000])
    full = load_audio(b)
    assert half.samples.shape[1] == 8000
    assert np.array_equal(half.samples[0], full.samples[0, :8000])
    # a FLAC stream cut in half: typed error or a shorter decode, never a crash
    p = tmp_path / "t.flac"
    sf.write(p, np.random.default_rng(0).standard_normal(48000).astype(np.float32) * 0.1, 16000)
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    try:
        out = load_audio(p)
    except MediaUnreadable as exc:
        assert exc.detail == "media.corrupt"
    else:
        assert out.samples.shape[1] < 48000


def test_unsupported_sample_rate(tmp_path: Path) -> None:
    p = write(tmp_path / "slow.wav", np.zeros(100, dtype=np.float32), 500, subtype="PCM_16")
    assert _detail(MediaUnreadable, load_audio, p) == "media.unsupported-sample-rate"


# ----------------------------------------------------------------- limits


def test_default_limits() -> None:
    assert VOICEPRINT_LIMITS == Limits(30.0, 100 * 1024 * 1024)
    assert IDENTIFICATION_LIMITS == Limits(24 * 3600.0, 1024**3)
    with pytest.raises(ValidationError):
        Limits(0, 10)
    with pytest.raises(ValidationError):
        Limits(1.0, 0)


def test_too_big_is_refused_before_opening(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = save_wav(tmp_path / "a.wav", tone(440, 1.0, 16000))
    size = p.stat().st_size

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("the file was opened")

    monkeypatch.setattr(A.sf, "SoundFile", boom)
    small = Limits(max_seconds=30.0, max_bytes=size - 1)
    for src in (p, p.read_bytes()):
        with pytest.raises(SizeLimitExceeded) as ei:
            load_audio(src, limits=small)
        e = ei.value
        assert e.type == "request.size-limit-exceeded" and e.detail == "media.too-large"
        assert e.context == {"file_size": size, "max_file_size": size - 1}
    with pytest.raises(SizeLimitExceeded):
        iter_blocks(p, limits=small)


def test_too_long_is_refused_from_the_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = save_wav(tmp_path / "a.wav", tone(440, 2.0, 16000))

    def no_read(*a: object, **k: object) -> None:
        raise AssertionError("samples were decoded")

    monkeypatch.setattr(A.sf.SoundFile, "read", no_read)
    short = Limits(max_seconds=1.5, max_bytes=1 << 30)
    with pytest.raises(SizeLimitExceeded) as ei:
        load_audio(p, limits=short)
    assert ei.value.detail == "media.too-long"
    assert ei.value.context == {"duration": pytest.approx(2.0), "max_duration": 1.5}
    with pytest.raises(SizeLimitExceeded):
        iter_blocks(p, limits=short)
    monkeypatch.undo()
    assert load_audio(p, limits=Limits(2.0, 1 << 30)).duration == pytest.approx(2.0)


def test_array_limits_and_validation() -> None:
    x = np.zeros(16000 * 2, dtype=np.float32)
    with pytest.raises(SizeLimitExceeded):
        load_audio(x, limits=Limits(1.0, 1 << 30))
    with pytest.raises(ValidationError):
        load_audio(np.zeros((1, 2, 3), dtype=np.float32))
    with pytest.raises(ValidationError):
        load_audio(np.zeros(10, dtype=np.complex64))
    with pytest.raises(ValidationError):
        load_audio(x, sample_rate=0)
    with pytest.raises(ValidationError):
        load_audio(x, sample_rate=16000.5)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        load_audio(b"RIFF", sample_rate=16000)
    with pytest.raises(ValidationError):
        load_audio(12345)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        load_audio(x, limits=(30, 100))  # type: ignore[arg-type]
    assert (
        _detail(MediaUnreadable, load_audio, np.zeros(0, dtype=np.float32)) == "media.zero-length"
    )
    assert _detail(MediaUnreadable, load_audio, np.array([0.0, np.nan])) == "media.non-finite"
    assert _detail(MediaUnreadable, load_audio, np.array([0.0, 1e300])) == "media.non-finite"


# ----------------------------------------------------------------- arrays


def test_array_input() -> None:
    x64 = np.sin(np.arange(16000) / 10.0) * 0.3
    au = load_audio(x64)
    assert au.samples.dtype == np.float32 and np.allclose(au.samples[0], x64, atol=1e-7)
    i16 = (x64 * 32767).astype(np.int16)
    assert np.allclose(load_audio(i16).samples[0], x64, atol=1e-4)
    # the caller's array is neither frozen nor aliased
    x32 = x64.astype(np.float32)
    au32 = load_audio(x32)
    assert x32.flags.writeable and not np.shares_memory(au32.samples, x32)
    # rate conversion and channels for arrays too
    st = np.stack([tone(440, 1.0, 8000), tone(1000, 1.0, 8000)])
    sp = load_audio(st, sample_rate=8000, channel_mode="split")
    assert sp.samples.shape == (2, 16000) and sp.original_rate == 8000
    assert peak_hz(sp.samples[1]) == pytest.approx(1000, abs=1)
    with pytest.raises(ValidationError):
        load_audio(st, sample_rate=8000, channels=[2])


def test_audio_dataclass() -> None:
    au = Audio(
        np.zeros((2, 3200), dtype=np.float32), source=None, original_rate=48000, original_channels=2
    )
    assert au.duration == pytest.approx(0.2) and au.num_channels == 2
    assert au.mono().shape == (3200,) and au.mono().dtype == np.float32
    with pytest.raises(ValueError):
        au.samples[0, 0] = 1.0
    with pytest.raises(ValidationError):
        Audio(np.zeros(10, dtype=np.float32))


def test_probe(stereo: tuple[Path, np.ndarray]) -> None:
    path, data = stereo
    info = probe(path)
    assert info.frames == data.shape[1] and info.original_rate == 44100 and info.channels == 2
    assert info.duration == pytest.approx(2.5) and info.format == "WAV" and info.subtype == "PCM_16"
    assert info.file_size == path.stat().st_size


def test_save_wav_clips(tmp_path: Path) -> None:
    p = save_wav(tmp_path / "c.wav", np.array([2.0, -3.0, 0.5], dtype=np.float32))
    y = load_audio(p).samples[0]
    assert y[0] == pytest.approx(1.0, abs=1e-4) and y[1] == pytest.approx(-1.0, abs=1e-4)
    with pytest.raises(ValidationError):
        save_wav(tmp_path / "n.wav", np.array([np.nan], dtype=np.float32))


# ----------------------------------------------------------------- blocks


@pytest.mark.parametrize("rate", [44100, 16000, 8000])
def test_iter_blocks_equals_load_audio(tmp_path: Path, rate: int) -> None:
    n = int(7.3 * rate) + 17
    x = np.random.default_rng(rate).standard_normal((2, n)).astype(np.float32) * 0.1
    p = write(tmp_path / "long.wav", x, rate, subtype="FLOAT")
    whole = load_audio(p, channel_mode="split")
    blocks = list(iter_blocks(p, block_seconds=1.0, channel_mode="split"))
    assert [s for s, _ in blocks] == [i * 16000 / 16000 for i in range(len(blocks))]
    assert all(b.shape[1] == 16000 for _, b in blocks[:-1])
    cat = np.concatenate([b for _, b in blocks], axis=1)
    assert cat.shape[1] == math.ceil(n * 16000 / rate)
    assert np.array_equal(cat, whole.samples)
    # mix yields mono blocks equal to mix loading
    mono = np.concatenate([b for _, b in iter_blocks(p, block_seconds=0.7)])
    assert mono.ndim == 1 and np.array_equal(mono, load_audio(p).samples[0])
    # a channel list is honoured
    right = np.concatenate([b for _, b in iter_blocks(p, block_seconds=2.0, channels=[1])])
    assert np.array_equal(right, whole.samples[1])


def test_iter_blocks_overlap_and_exact_starts(tmp_path: Path) -> None:
    rate = 44100
    x = np.random.default_rng(3).standard_normal(int(5.05 * rate)).astype(np.float32) * 0.1
    p = write(tmp_path / "o.wav", x, rate, subtype="FLOAT")
    full = load_audio(p).samples[0]
    hop, span = int(0.3 * 16000), int(0.3 * 16000) + int(0.05 * 16000)
    blocks = list(iter_blocks(p, block_seconds=0.3, overlap_seconds=0.05))
    for i, (start, b) in enumerate(blocks):
        assert start == i * hop / 16000
        assert np.array_equal(b, full[i * hop : i * hop + span])
    assert (len(blocks) - 1) * hop < len(full) <= len(blocks) * hop
    for bad in ({"block_seconds": 0}, {"block_seconds": math.inf}, {"overlap_seconds": -1.0}):
        with pytest.raises(ValidationError):
            iter_blocks(p, **bad)  # type: ignore[arg-type]


def _peak_bytes(fn) -> int:  # type: ignore[no-untyped-def]
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_iter_blocks_memory_does_not_grow_with_duration(tmp_path: Path) -> None:
    """Peak memory (numpy buffers are traced) is the same for 60 s and 300 s files."""
    rng = np.random.default_rng(5)
    paths = {}
    for seconds in (60, 300):
        x = (rng.standard_normal(seconds * 8000) * 0.1).astype(np.float32)
        paths[seconds] = write(tmp_path / f"{seconds}.wav", x, 8000, subtype="PCM_16")

    def drain(p: Path) -> None:
        n = 0
        for _, block in iter_blocks(p, block_seconds=5.0):
            n += block.shape[0]
        assert n == seconds_of(p) * 16000

    def seconds_of(p: Path) -> int:
        return int(p.stem)

    small = _peak_bytes(lambda: drain(paths[60]))
    large = _peak_bytes(lambda: drain(paths[300]))
    whole = 300 * 16000 * 4  # what load_audio must hold for the long file
    assert large < whole / 4, (large, whole)
    assert large < small * 1.25 + 256 * 1024, (small, large)
