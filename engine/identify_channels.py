"""Split-channel identification: call recordings with one party per channel.

Each selected channel is diarized and identified on its own by
:func:`engine.identify.identify` (same options, same library), and the
per-channel results are combined into one :class:`~engine.identify.IdentificationResult`
whose turns carry their 0-based ``channel``.

Labels in the combined result:

* **Clusters** are renumbered across channels (``SPEAKER_00``... for the first
  channel's clusters in their order, then the next channel's, in the order the
  channels were asked for), so a cluster label
  names one voice on one channel and "relabel the whole cluster" never crosses
  channels.
* **Unknown speakers** are renumbered the same way (channel by channel, then in
  order of first appearance within the channel): ``UNKNOWN_00`` of channel 0 and
  ``UNKNOWN_00`` of channel 1 are different people, so the second one becomes
  ``UNKNOWN_01`` (or later). Two unknown labels are never merged across
  channels: nothing says they are the same person.
* **An enrolled speaker found on two channels** (crosstalk or echo of one party
  into the other line, or the same person on both ends) keeps the same label on
  both: the library says it is one person. Each channel's one-to-one assignment
  is independent, so this can happen; the turns stay apart by ``channel``, and
  the result's clusters keep one entry per channel.

The confidence track and the speaker curves are the frame-wise maximum over the
channels (the track is "the highest of several overlapping speakers" already).

A file is streamed one channel at a time (:class:`engine.audio.FileChannel`), so
memory stays that of a mono identification whatever the duration; each channel
costs one full decode of the file per identification pass.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from engine import identify as _identify
from engine.audio import Audio, FileChannel, probe, resolve_channels
from engine.errors import ValidationError
from engine.identify import ClusterInfo, IdentificationResult
from engine.jobs import CancelToken, ProgressFn, no_progress
from engine.segments import ScoreTrack, Turn, is_unknown, readonly, unknown_label

CLUSTER_PREFIX = "SPEAKER_"


def channel_count(source: str | os.PathLike[str] | Audio) -> int:
    """Channels of a file (from its header) or rows of an :class:`~engine.audio.Audio`."""
    if isinstance(source, Audio):
        return source.num_channels
    if isinstance(source, str | os.PathLike):
        return probe(source).channels
    raise ValidationError(
        "audio must be an engine.audio.Audio or a file path.", location="audio"
    )


def identify_channels(
    source: str | os.PathLike[str] | Audio,
    voiceprints: Mapping[str, Any],
    *,
    channels: Sequence[int] | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    **options: Any,
) -> IdentificationResult:
    """Identify each selected channel of ``source`` separately and combine the results.

    Args:
        source: a file path (each channel streamed on its own, up to 24 h / 1 GiB) or
            an :class:`~engine.audio.Audio` whose rows are the channels (float32
            ``(channels, n)`` at 16 kHz, e.g. ``load_audio(..., channel_mode="split")``).
        voiceprints: enrolled speaker id -> Voiceprint, as for :func:`engine.identify.identify`.
        channels: 0-based channels to identify, in any order (None: all of them).
        progress: monotonic 0 -> 1 over all channels; messages say the channel.
        cancel: polled by each channel's identification and between channels.
        **options: passed to :func:`engine.identify.identify` for every channel
            (``num_speakers`` and ``min_speakers``/``max_speakers`` are per channel,
            ``threshold``, ``confidence``, ``resolution``, models).

    Returns:
        One :class:`~engine.identify.IdentificationResult`, labels as in the module
        docstring; every turn's ``channel`` is set.

    Raises:
        ValidationError (location ``channels``; detail ``channels.empty``,
        ``channels.duplicate``, ``channels.out-of-range``, ``channels.invalid``) before
        any model runs; whatever :func:`engine.identify.identify` raises;
        :class:`~engine.errors.Cancelled`.
    """
    picks = resolve_channels(channels, channel_count(source))
    results: list[tuple[int, IdentificationResult]] = []
    n = len(picks)
    for i, ch in enumerate(picks):
        if cancel is not None:
            cancel.check()

        def sub(fraction: float, message: str = "", *, _i: int = i, _ch: int = ch) -> None:
            f = min(max(float(fraction), 0.0), 1.0)
            progress((_i + f) / n, f"Channel {_ch} ({_i + 1} of {n}): {message}" if message
                     else f"Channel {_ch} ({_i + 1} of {n})")

        one = _identify.identify(_channel_source(source, ch), voiceprints, progress=sub,
                                 cancel=cancel, **options)
        results.append((ch, one))
    progress(1.0, "Done")
    return combine(results)


def _channel_source(source: str | os.PathLike[str] | Audio, ch: int) -> Any:
    if isinstance(source, Audio):
        return Audio(source.samples[ch : ch + 1], source=source.source,
                     original_rate=source.original_rate,
                     original_channels=source.original_channels)
    return FileChannel(os.fspath(source), ch)


def combine(per_channel: Sequence[tuple[int, IdentificationResult]]) -> IdentificationResult:
    """One result from ``(channel, result)`` pairs (labels: see the module docstring).

    Raises:
        ValidationError: no results, or a channel given twice.
    """
    if not per_channel:
        raise ValidationError("no channel results to combine.", location="channels",
                              detail="channels.empty")
    chans = [ch for ch, _ in per_channel]
    if len(set(chans)) != len(chans):
        raise ValidationError(f"channel list {chans} names a channel more than once.",
                              location="channels", detail="channels.duplicate")
    turns: list[Turn] = []
    clusters: list[ClusterInfo] = []
    n_cluster = 0
    n_unknown = 0
    for ch, res in per_channel:
        cmap: dict[str, str] = {}
        umap: dict[str, str] = {}

        def cluster_of(label: str, _cmap: dict[str, str] = cmap) -> str:
            nonlocal n_cluster
            if not label:
                return label
            if label not in _cmap:
                _cmap[label] = f"{CLUSTER_PREFIX}{n_cluster:02d}"
                n_cluster += 1
            return _cmap[label]

        def speaker_of(label: str, _umap: dict[str, str] = umap) -> str:
            nonlocal n_unknown
            if not is_unknown(label):
                return label
            if label not in _umap:
                _umap[label] = unknown_label(n_unknown)
                n_unknown += 1
            return _umap[label]

        for c in res.clusters:  # label order, so SPEAKER_nn keep their order
            cluster_of(c.label)
        ordered = sorted(res.turns, key=lambda t: (t.start, t.end))
        for t in ordered:  # unknowns numbered by first appearance, as identify() does
            speaker_of(t.speaker)
        turns.extend(
            replace(t, speaker=speaker_of(t.speaker), cluster=cluster_of(t.cluster), channel=ch)
            for t in ordered
        )
        clusters.extend(
            replace(c, label=cluster_of(c.label), speaker=speaker_of(c.speaker))
            for c in res.clusters
        )
    results = [r for _, r in per_channel]
    first = results[0]
    return IdentificationResult(
        turns=tuple(sorted(turns, key=lambda t: (t.start, t.end, t.channel or 0))),
        confidence=_max_track([r.confidence for r in results]),
        speaker_curves=_max_track([r.speaker_curves for r in results]),
        speaker_ids=first.speaker_ids,
        clusters=tuple(clusters),
        duration=max(float(r.duration) for r in results),
        model_id=first.model_id,
        num_speakers=sum(int(r.num_speakers) for r in results),
    )


def _max_track(tracks: Sequence[ScoreTrack | None]) -> ScoreTrack | None:
    """Frame-wise maximum of tracks on one grid (shorter ones padded with 0); None if any is."""
    if not tracks or any(t is None for t in tracks):
        return None
    ts = [t for t in tracks if t is not None]
    if len({t.values.shape[:-1] for t in ts}) != 1:
        return None  # different voiceprint rows: no common curve
    frames = max(t.num_frames for t in ts)
    out = np.zeros((*ts[0].values.shape[:-1], frames), dtype=np.float32)
    for t in ts:
        np.maximum(out[..., : t.num_frames], t.values, out=out[..., : t.num_frames])
    return ScoreTrack(start=ts[0].start, step=ts[0].step, values=readonly(out))
