"""Waveform peaks of a recording of any length, and its samples read from the file.

The window never holds a whole recording (24 h at 16 kHz is 1.4e9 samples, 5.5 GB as
float32). It keeps

* a :class:`Peaks` pyramid: level 0 holds the minimum and maximum of every ``base``
  frames of the mono mix, each further level merges ``factor`` buckets of the one
  below, down to about :data:`TOP_BUCKETS` buckets. For a 24 h file at 16 kHz that is
  5.4e6 level-0 buckets, ~58 MB for all levels. It is built in ONE streaming pass over
  the file (:func:`open_file_audio`, an engine job) and cached on disk under
  :func:`default_cache_dir`, keyed by the file's size, mtime and a SHA-256 of its
  first MiB, so opening the file again reads ~58 MB instead of decoding 1 GiB;
* a :class:`FileAudio`: the file's path and shape, whose :meth:`FileAudio.read_frames`
  decodes only the frames asked for (playback, excerpts, zoomed-in drawing).

Both are at the file's own sample rate: drawing and playing need no resampling, and
frame ``i`` is at ``i / sample_rate`` seconds, the time axis of the engine's 16 kHz
signal too (the engine never trims). Excerpts for the engine (enrollment from a
selection) are resampled to 16 kHz by :func:`engine.audio.load_audio`.

The file is opened and checked exactly as :func:`engine.audio.load_audio` does it
(identification limits: 24 h, 1 GiB; typed :class:`~engine.errors.MediaUnreadable` /
:class:`~engine.errors.SizeLimitExceeded` errors, ``media.non-finite`` on NaN).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from engine import audio as A
from engine.errors import MediaUnreadable
from engine.jobs import CancelToken, ProgressFn, no_progress
from engine.private_files import private_dir, write_private

log = logging.getLogger(__name__)

CACHE_VERSION = 1
"""Bumped when the cached file's layout or the peaks' definition changes."""
HEAD_BYTES = 1 << 20
"""Bytes at the start of the file hashed into the cache key (1 MiB)."""
BASE = 256
"""Frames per level-0 bucket for files up to :data:`MAX_LEVEL0` * 256 frames."""
FACTOR = 4
"""Buckets merged per level."""
MAX_LEVEL0 = 8_000_000
"""Level-0 buckets at most: longer or faster files get a wider ``base`` (a power of 2)."""
TOP_BUCKETS = 1024
"""The coarsest level holds at most this many buckets."""
MAX_CACHE_FILES = 32
"""Peak files kept in the cache folder; the least recently used go first."""
_READ_FRAMES = 1 << 20  # frames per read in the pass (~65 s at 16 kHz)
_READ_VALUES = 1 << 23  # values per read in all channels at most (a 1024-channel header)


@dataclass(frozen=True, eq=False)
class Peaks:
    """Min/max pyramid of a mono signal (the mean of the file's channels).

    Attributes:
        sample_rate: Hz of the frames counted here (the file's own rate).
        num_samples: frames of the signal.
        channels: channels of the file the mono mix was made from.
        base: frames per level-0 bucket.
        factor: buckets of level ``k`` merged per bucket of level ``k + 1``.
        mins, maxs: per level, read-only float32 ``(buckets,)``; bucket ``j`` of level
            ``k`` covers frames ``[j * b, (j + 1) * b)`` with ``b = base * factor**k``
            (the last bucket may be shorter).
    """

    sample_rate: int
    num_samples: int
    channels: int
    base: int
    factor: int
    mins: tuple[np.ndarray, ...]
    maxs: tuple[np.ndarray, ...]

    def __post_init__(self) -> None:
        for a in (*self.mins, *self.maxs):
            a.setflags(write=False)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.num_samples / self.sample_rate if self.sample_rate else 0.0

    @property
    def num_levels(self) -> int:
        return len(self.mins)

    def bucket_samples(self, level: int) -> int:
        """Frames per bucket of ``level``."""
        return self.base * self.factor**level

    @property
    def nbytes(self) -> int:
        """Bytes held by all levels."""
        return sum(int(a.nbytes) for a in (*self.mins, *self.maxs))


@dataclass(frozen=True)
class FileAudio:
    """An audio file the window works on without decoding it whole.

    Attributes:
        path: the file.
        sample_rate: the file's rate, Hz (frames below are at this rate).
        num_samples: frames in the file (counted while decoding, not the header's guess).
        original_channels: channels of the file; samples read are their mean.
    """

    path: str
    sample_rate: int
    num_samples: int
    original_channels: int = 1

    @property
    def source(self) -> str:
        """The path (what :class:`engine.audio.Audio` calls ``source``)."""
        return self.path

    @property
    def original_rate(self) -> int:
        return self.sample_rate

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.num_samples / self.sample_rate

    def read_frames(self, start: int, stop: int) -> np.ndarray:
        """Frames ``[start, stop)`` (clipped to the file) of the mono mix: float32 ``(n,)``
        at :attr:`sample_rate`. Opens the file for this read only (thread-safe)."""
        start = max(int(start), 0)
        stop = min(int(stop), self.num_samples)
        if stop <= start:
            return np.zeros(0, np.float32)
        try:
            with sf.SoundFile(self.path) as f:
                f.seek(start)
                data = f.read(stop - start, dtype="float32", always_2d=True)
        except A._DECODE_ERRORS as exc:
            raise A._sf_error(exc, self.path) from None
        if data.shape[1] == 1:
            return np.ascontiguousarray(data[:, 0])
        return data.mean(axis=1, dtype=np.float32)

    def read_seconds(self, t0: float, t1: float) -> np.ndarray:
        """:meth:`read_frames` of ``[t0, t1)`` seconds."""
        r = self.sample_rate
        return self.read_frames(int(round(t0 * r)), int(round(t1 * r)))


# ---------------------------------------------------------------- building


def choose_base(frames: int) -> int:
    """Level-0 bucket width: :data:`BASE`, doubled until at most :data:`MAX_LEVEL0` buckets."""
    base = BASE
    while frames > 0 and -(-frames // base) > MAX_LEVEL0:
        base *= 2
    return base


class PeakBuilder:
    """Level 0 from consecutive blocks (bounded memory), the other levels at the end."""

    def __init__(self, sample_rate: int, base: int = BASE, factor: int = FACTOR,
                 channels: int = 1) -> None:
        self.sample_rate = int(sample_rate)
        self.base = int(base)
        self.factor = int(factor)
        self.channels = int(channels)
        self.frames = 0
        self._mins: list[np.ndarray] = []
        self._maxs: list[np.ndarray] = []
        self._carry = np.zeros(0, np.float32)

    def push(self, block: np.ndarray) -> None:
        """Append mono float32 ``(k,)`` frames."""
        b = np.asarray(block, dtype=np.float32).reshape(-1)
        self.frames += b.size
        if self._carry.size:
            b = np.concatenate([self._carry, b])
        whole = (b.size // self.base) * self.base
        if whole:
            v = b[:whole].reshape(-1, self.base)
            self._mins.append(v.min(axis=1))
            self._maxs.append(v.max(axis=1))
        self._carry = b[whole:].copy()

    def finish(self) -> Peaks:
        if self._carry.size:
            self._mins.append(np.array([self._carry.min()], np.float32))
            self._maxs.append(np.array([self._carry.max()], np.float32))
            self._carry = np.zeros(0, np.float32)
        lo = np.concatenate(self._mins) if self._mins else np.zeros(0, np.float32)
        hi = np.concatenate(self._maxs) if self._maxs else np.zeros(0, np.float32)
        self._mins, self._maxs = [], []
        mins, maxs = [lo], [hi]
        while lo.size > TOP_BUCKETS:
            m = (lo.size // self.factor) * self.factor
            nlo = lo[:m].reshape(-1, self.factor).min(axis=1)
            nhi = hi[:m].reshape(-1, self.factor).max(axis=1)
            if m < lo.size:
                nlo = np.append(nlo, lo[m:].min()).astype(np.float32)
                nhi = np.append(nhi, hi[m:].max()).astype(np.float32)
            lo, hi = nlo, nhi
            mins.append(lo)
            maxs.append(hi)
        return Peaks(self.sample_rate, self.frames, self.channels, self.base, self.factor,
                     tuple(mins), tuple(maxs))


def peaks_from_blocks(blocks: Iterable[np.ndarray], sample_rate: int, *, base: int = BASE,
                      factor: int = FACTOR) -> Peaks:
    """:class:`Peaks` of consecutive mono float32 blocks at ``sample_rate`` Hz."""
    b = PeakBuilder(sample_rate, base, factor)
    for block in blocks:
        b.push(block)
    return b.finish()


def peaks_from_array(x: np.ndarray, sample_rate: int, *, base: int = BASE,
                     factor: int = FACTOR) -> Peaks:
    """:class:`Peaks` of a mono float array ``(n,)`` at ``sample_rate`` Hz."""
    return peaks_from_blocks([np.asarray(x)], sample_rate, base=base, factor=factor)


# ---------------------------------------------------------------- cache


def default_cache_dir() -> Path:
    """``<cache folder>/peaks`` (:func:`engine.paths.cache_home`: files the app can rebuild)."""
    from engine.paths import cache_home

    return private_dir(cache_home() / "peaks")


def cache_key(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of the file's size, mtime (ns) and first :data:`HEAD_BYTES` bytes."""
    st = os.stat(path)
    h = hashlib.sha256(f"v{CACHE_VERSION}:{st.st_size}:{st.st_mtime_ns}:".encode())
    with open(path, "rb") as f:
        h.update(f.read(HEAD_BYTES))
    return h.hexdigest()


def cache_file(path: str | os.PathLike[str], cache_dir: str | os.PathLike[str]) -> Path:
    """Where the peaks of ``path`` (as it is now) are cached in ``cache_dir``."""
    return Path(cache_dir) / f"{cache_key(path)}.peaks.npz"


def _save(peaks: Peaks, target: Path) -> None:
    arrays: dict[str, np.ndarray] = {
        "meta": np.array([CACHE_VERSION, peaks.sample_rate, peaks.num_samples, peaks.channels,
                          peaks.base, peaks.factor, peaks.num_levels], dtype=np.int64)}
    for k in range(peaks.num_levels):
        arrays[f"min{k}"] = np.asarray(peaks.mins[k])
        arrays[f"max{k}"] = np.asarray(peaks.maxs[k])
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    write_private(target, buf.getvalue())  # atomic: a crash or cancel leaves no half file


def _load(target: Path) -> Peaks | None:
    """The cached peaks, or None when the file is missing or not a valid cache file."""
    try:
        with np.load(target, allow_pickle=False) as z:
            meta = [int(v) for v in z["meta"]]
            version, rate, n, ch, base, factor, levels = meta
            if version != CACHE_VERSION or levels < 1:
                return None
            mins = tuple(np.ascontiguousarray(z[f"min{k}"], dtype=np.float32) for k in range(levels))
            maxs = tuple(np.ascontiguousarray(z[f"max{k}"], dtype=np.float32) for k in range(levels))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, EOFError) as exc:
        log.info("ignoring unreadable peak cache %s: %s", target.name, exc)
        return None
    if mins[0].size != -(-n // base) or any(a.shape != b.shape for a, b in zip(mins, maxs, strict=True)):
        return None
    try:
        os.utime(target)  # least recently USED goes first when pruning
    except OSError:
        pass
    return Peaks(rate, n, ch, base, factor, mins, maxs)


def _prune(cache_dir: Path, keep: int = MAX_CACHE_FILES) -> None:
    try:
        files = sorted(cache_dir.glob("*.peaks.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return
    for p in files[keep:]:
        try:
            p.unlink()
        except OSError:
            pass


# ---------------------------------------------------------------- the job


def open_file_audio(
    path: str | os.PathLike[str],
    *,
    limits: A.Limits = A.IDENTIFICATION_LIMITS,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> tuple[FileAudio, Peaks]:
    """Open an audio file for the window: its :class:`FileAudio` and :class:`Peaks`.

    An engine job. The peaks come from the cache when the file's size, mtime and first
    MiB are unchanged; otherwise one streaming pass decodes the file (the mono mix at its
    own rate, :data:`_READ_FRAMES` frames at a time: memory does not grow with the
    file's length beyond the peaks themselves) and the result is cached. Nothing is
    cached when the pass is cancelled or fails.

    Args:
        path: the file (any libsndfile format).
        limits: size and duration limits (default: identification's, 24 h / 1 GiB).
        cache_dir: where peaks are cached (default :func:`default_cache_dir`).
        use_cache: False to neither read nor write the cache.
        progress, cancel: job hooks; progress goes 0 -> 1 with the frames decoded.

    Raises:
        MediaUnreadable, SizeLimitExceeded: as :func:`engine.audio.load_audio`.
        Cancelled: the cancel token was set (checked after every read).
    """
    p = os.fsdecode(os.fspath(path))
    op = A._open(p, limits)  # the engine's own checks: exists, regular, size, format
    try:
        header_frames, rate, nch = A._header(op, limits)
        target: Path | None = None
        if use_cache:
            try:
                target = cache_file(p, cache_dir if cache_dir is not None else default_cache_dir())
            except OSError as exc:
                log.info("peak cache unavailable: %s", exc)
            if target is not None:
                cached = _load(target)
                if cached is not None and cached.sample_rate == rate and cached.channels == nch:
                    progress(1.0, "Waveform read from the cache")
                    return FileAudio(p, rate, cached.num_samples, nch), cached
        peaks = _stream_peaks(op, header_frames, rate, nch, limits, progress, cancel)
    finally:
        op.f.close()
    if target is not None:
        try:
            private_dir(target.parent)
            _save(peaks, target)
            _prune(target.parent)
        except OSError as exc:  # a full or read-only disk costs the next open a pass
            log.warning("could not cache the waveform of %s: %s", Path(p).name, exc)
    return FileAudio(p, rate, peaks.num_samples, nch), peaks


def _stream_peaks(op: A._Opened, header_frames: int, rate: int, nch: int, limits: A.Limits,
                  progress: ProgressFn, cancel: CancelToken | None) -> Peaks:
    builder = PeakBuilder(rate, choose_base(header_frames), FACTOR, nch)
    step = max(1, min(_READ_FRAMES, _READ_VALUES // nch))
    max_frames = limits.max_seconds * rate
    name = Path(op.where).name
    known = header_frames > 0
    # integer PCM cannot hold NaN or inf: skip the check there (~7 % of the pass)
    subtype = str(op.f.subtype)
    may_be_non_finite = not (subtype.startswith("PCM_") or subtype in ("ULAW", "ALAW"))
    progress(0.0, f"Reading {name}…")
    while True:
        if cancel is not None:
            cancel.check()
        try:
            data = op.f.read(step, dtype="float32", always_2d=True)
        except A._DECODE_ERRORS as exc:
            raise A._sf_error(exc, op.where) from None
        k = data.shape[0]
        if k == 0:
            break
        if builder.frames + k > max_frames:
            raise A._too_long((builder.frames + k) / rate, limits, op.where)
        mono = data[:, 0] if nch == 1 else data.mean(axis=1, dtype=np.float32)
        if may_be_non_finite and not np.isfinite(mono).all():
            raise A._non_finite(op.where)
        builder.push(mono)
        if known:
            frac = min(builder.frames / header_frames, 1.0)
            progress(0.99 * frac, f"Reading {name}: {builder.frames / rate / 60:.0f} of "
                                  f"{header_frames / rate / 60:.0f} min")
        else:
            progress(0.5, f"Reading {name}: {builder.frames / rate / 60:.0f} min")
    if builder.frames == 0:
        raise MediaUnreadable("the audio file holds no samples (zero length).",
                              location=op.where, detail="media.zero-length")
    if cancel is not None:
        cancel.check()
    peaks = builder.finish()
    progress(1.0, f"Read {name}: {peaks.duration / 60:.1f} min")
    return peaks
