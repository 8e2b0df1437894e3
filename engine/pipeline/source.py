"""Stage 0: the audio, as mono 16 kHz blocks and then as 10 s segmentation chunks.

A path is streamed with :func:`engine.audio.iter_blocks` (only about one chunk plus one
block of samples is held at a time), so a 24 h file never sits in memory.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from engine.errors import ValidationError
from engine.segmentation import CHUNK_SAMPLES

SAMPLE_RATE = 16000

BlockSource = Callable[[], Iterator[np.ndarray]]
"""Opens the audio (again) as an iterator of mono 16 kHz float32 blocks."""


class Source(NamedTuple):
    """What :func:`open_source` knows before reading.

    Attributes:
        blocks: iterator of float32 ``(n,)`` mono 16 kHz blocks.
        total: samples expected (-1 when the file's length is unknown).
        duration: seconds expected (NaN when unknown).
    """

    blocks: Iterator[np.ndarray]
    total: int
    duration: float


class Chunk(NamedTuple):
    """A 10 s segmentation chunk.

    Attributes:
        start: first sample, from the start of the audio.
        samples: float32 ``(CHUNK_SAMPLES,)``, zero-padded past the end of the audio.
        is_last: the chunk reaches the end of the audio.
        valid: samples of real audio in ``samples``.
    """

    start: int
    samples: np.ndarray
    is_last: bool
    valid: int


def open_source(audio: Any, *, block_seconds: float) -> Source:
    """Blocks of ``audio`` (an :class:`engine.audio.Audio`, mixed to mono, a file path
    streamed in ``block_seconds`` blocks, or one channel of a file,
    :class:`engine.audio.FileChannel`)."""
    from engine.audio import Audio, FileChannel, iter_blocks, output_length, probe

    if isinstance(audio, FileChannel):  # one channel of a file (engine.identify_channels)
        info = probe(audio.path)
        n = output_length(info.frames, info.original_rate) if info.frames > 0 else -1
        return Source(audio.blocks(block_seconds), n, n / SAMPLE_RATE if n > 0 else float("nan"))
    if isinstance(audio, Audio):
        x = audio.mono()

        def arr() -> Iterator[np.ndarray]:
            yield x

        return Source(arr(), int(x.shape[0]), x.shape[0] / SAMPLE_RATE)
    if isinstance(audio, (str, os.PathLike)):
        path = Path(audio)
        info = probe(path)
        total = (
            int(math.ceil(info.frames * SAMPLE_RATE / info.original_rate))
            if info.frames > 0
            else -1
        )

        def blocks() -> Iterator[np.ndarray]:
            for _, block in iter_blocks(path, block_seconds=block_seconds):
                yield block

        return Source(blocks(), total, total / SAMPLE_RATE if total > 0 else float("nan"))
    raise ValidationError("audio must be an engine.audio.Audio or a file path.", location="audio")


def chunk_count(total: int, step: int) -> int:
    """Number of chunks for ``total`` samples at ``step`` (the last reaches the end)."""
    if total <= CHUNK_SAMPLES:
        return 1
    return int(math.ceil((total - CHUNK_SAMPLES) / step)) + 1


def iter_chunks(blocks: Iterator[np.ndarray], step: int) -> Generator[Chunk, None, None]:
    """Yield the :class:`Chunk` s every ``step`` samples of a block stream.

    Only about one chunk plus one block of samples is held at a time.
    """
    buf = np.zeros(0, dtype=np.float32)
    buf_start = 0  # absolute sample index of buf[0]
    next_start = 0
    exhausted = False
    it = iter(blocks)
    while True:
        while not exhausted and buf_start + buf.shape[0] < next_start + CHUNK_SAMPLES:
            try:
                b = np.asarray(next(it), dtype=np.float32).reshape(-1)
            except StopIteration:
                exhausted = True
                break
            buf = np.concatenate([buf, b]) if buf.shape[0] else b
        end = buf_start + buf.shape[0]
        if next_start > 0 and next_start >= end:
            return
        lo = next_start - buf_start
        piece = buf[lo : lo + CHUNK_SAMPLES]
        valid = int(piece.shape[0])
        is_last = exhausted and next_start + CHUNK_SAMPLES >= end
        if valid < CHUNK_SAMPLES:
            piece = np.pad(piece, (0, CHUNK_SAMPLES - valid))
        yield Chunk(next_start, piece, is_last, valid)
        if is_last:
            return
        next_start += step
        drop = next_start - buf_start
        if drop > 0:
            buf = buf[drop:]
            buf_start = next_start


class CountingBlocks:
    """Wraps a block iterator, counting samples (the true length of streamed files)."""

    def __init__(self, blocks: Iterator[np.ndarray]) -> None:
        self._it = iter(blocks)
        self.total = 0
        self.done = False

    def __iter__(self) -> CountingBlocks:
        return self

    def __next__(self) -> np.ndarray:
        try:
            b = next(self._it)
        except StopIteration:
            self.done = True
            raise
        self.total += int(np.asarray(b).reshape(-1).shape[0])
        return b
