"""Voiceprint extraction from a short recording of one speaker (seeds 001 and 004).

Pipeline: silero VAD finds the speech; 1.5 s windows (0.75 s hop) over each speech
region are embedded by the speaker encoder; when the windows form more than one voice
(average-linkage clustering at :data:`CLUSTER_COSINE`) the most talkative voice wins;
its windows' mean embedding, weighted by their speech, is the voiceprint. A
:class:`QualityReport` says how much speech the voiceprint rests on and how clean it was.

The numbers here were measured with ``bench/calibrate.py`` on the real speech in
``tests/data`` (8 speakers; see tests/data/README.md):

- voiceprint from N s of speech vs a 5 s reference of the same speaker (other speech),
  and vs other speakers' voiceprints:

  ====  ===================  ==========================
  N     same: mean / min     different: p95 / max
  ====  ===================  ==========================
  1 s   0.45 / 0.21          0.23 / 0.39
  2 s   0.57 / 0.36          0.26 / 0.46
  3 s   0.62 / 0.49          0.27 / 0.45
  5 s   0.67 / 0.59          0.27 / 0.36
  8 s   0.69 / 0.63          0.26 / 0.31
  ====  ===================  ==========================

  Below 3 s the same-speaker and different-speaker ranges overlap; from 3 s on every
  same-speaker voiceprint scored above every different-speaker one, and the gain flattens
  after 5 s. Hence :data:`MIN_SPEECH_S` = 3 s (verdict ``too-short`` below it) and
  :data:`GOOD_SPEECH_S` = 5 s (a message below it).
- 1.5 s window pairs: see :data:`CLUSTER_COSINE`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.errors import NoSpeech, SizeLimitExceeded, ValidationError
from engine.jobs import CancelToken, ProgressFn, no_progress
from engine.segments import Segment

RATE = 16000
"""Sample rate of engine audio (``engine.audio.SAMPLE_RATE``), Hz."""
WINDOW_S = 1.5
"""Embedding window, seconds."""
HOP_S = 0.75
"""Hop between windows, seconds."""
MIN_SPEECH_S = 3.0
"""Net speech below which the verdict is ``too-short`` (measured: see the module docstring)."""
GOOD_SPEECH_S = 5.0
"""Net speech below which the report advises recording more (measured: see above)."""
MAX_SECONDS = 30.0
"""Longest audio accepted for a voiceprint (the seeds' limit)."""
CLUSTER_COSINE = 0.30
"""Average-linkage merge threshold for 1.5 s window embeddings (cosine).

Measured with ``bench/calibrate.py --seconds 1.5`` on tests/data (50 windows, 8
speakers): same-speaker window pairs had cosine mean 0.44 (p5 0.24), different-speaker
pairs mean 0.06 (p95 0.20, p99 0.31); EER 4.2 % at 0.21, midpoint of the means 0.25.
Average linkage compares cluster means of many pairs, so it needs a margin over the
pairwise EER point; the two people of the pyannote sample (one room) average 0.28 on
3 s segments, so 0.30 keeps them apart while one speaker's windows (mean 0.44) merge.
"""
MIN_VOICE_S = 2.0
"""A cluster counts as a voice only with at least this much speech and
:data:`MIN_VOICE_SHARE` of all speech: stray windows (a cough, a door) and the few
windows that straddle a change of speaker (on the pyannote sample they form a small
third cluster of 17 % of the speech) do not make another voice."""
MIN_VOICE_SHARE = 0.20
CLIP_LEVEL = 0.999
"""|sample| at or above this counts as clipped (full scale is 1.0)."""
MAX_CLIPPING_RATIO = 0.01
"""More clipped samples than this makes the verdict ``too-noisy`` (1 %)."""
WARN_CLIPPING_RATIO = 0.001
"""More clipped samples than this adds a message."""
MIN_SNR_DB = 10.0
"""Estimated SNR under this makes the verdict ``too-noisy``."""
NOISE_PERCENTILE = 10.0
"""The noise floor is this percentile of the 32 ms frame powers of the whole clip.

Not the power of what the VAD calls non-speech: that is often the tail of another voice
(the pyannote sample's 10.6-14.7 s stretch opens with 0.26 s of the previous speaker,
louder than the speaker enrolled, and its median gave "SNR -30 dB" for a clean
recording), and the pauses between words inside speech regions are where the floor
really shows. Measured on tests/data (8 clean clips, white noise added at 0/10/20 dB
SNR): the 10th percentile is within 1 dB of the true SNR with noise added, and reads
20-41 dB on the clean clips (the pyannote stretch: 26 dB)."""
MIN_SECONDS_FOR_SNR = 1.0
"""Audio needed to estimate the noise floor; with less, ``snr_db`` is None."""
LEVEL_FLOOR_DBFS = -120.0

VERDICTS = ("ok", "too-short", "too-noisy", "several-voices")


@dataclass(frozen=True)
class QualityReport:
    """How good the audio behind a voiceprint was.

    Attributes:
        net_speech_s: seconds of speech of the kept voice.
        voices_found: number of distinct voices in the speech (0 if none).
        clipping_ratio: share of samples at full scale (0..1).
        level_dbfs: RMS level of the speech in dBFS (<= 0).
        snr_db: speech-to-noise estimate from speech vs non-speech energy, dB; None when
            there is too little non-speech to measure the noise.
        verdict: ``"ok"``, ``"too-short"``, ``"too-noisy"`` or ``"several-voices"``.
        min_speech_s: the net speech needed for a usable voiceprint, seconds.
        messages: human sentences explaining the verdict and any warnings.
    """

    net_speech_s: float
    voices_found: int
    clipping_ratio: float
    level_dbfs: float
    snr_db: float | None
    verdict: str
    min_speech_s: float = MIN_SPEECH_S
    messages: tuple[str, ...] = field(default_factory=tuple)

    @property
    def usable(self) -> bool:
        """False only when there is too little speech for a reliable voiceprint."""
        return self.verdict != "too-short"

    @property
    def verdict_text(self) -> str:
        """The verdict as a person reads it (:func:`verdict_text`)."""
        return verdict_text(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field (``messages`` as a list)."""
        return {
            "net_speech_s": round(self.net_speech_s, 3),
            "voices_found": self.voices_found,
            "clipping_ratio": self.clipping_ratio,
            "level_dbfs": round(self.level_dbfs, 2),
            "snr_db": None if self.snr_db is None else round(self.snr_db, 2),
            "verdict": self.verdict,
            "verdict_text": self.verdict_text,
            "min_speech_s": self.min_speech_s,
            "messages": list(self.messages),
        }


def verdict_text(report: QualityReport) -> str:
    """One sentence a person reads for ``report.verdict`` (which stays the machine code).

    ``"Good"``, ``"Too short: 2.1 s of speech, 5 s or more is better"``, ``"Too noisy:
    ..."``, ``"Several voices: ..."``; the figures come from the report.
    """
    net, good = report.net_speech_s, GOOD_SPEECH_S
    if report.verdict == "too-short":
        return (f"Too short: {net:.1f} s of speech, {good:g} s or more is better "
                f"({report.min_speech_s:g} s at the least)")
    if report.verdict == "too-noisy":
        if report.clipping_ratio > MAX_CLIPPING_RATIO:
            return (f"Too loud: {100 * report.clipping_ratio:.1f} % of the samples are "
                    "clipped, lower the input gain")
        snr = "" if report.snr_db is None else f" (speech only {report.snr_db:.0f} dB above it)"
        return f"Too noisy: the background noise is loud{snr}, record somewhere quieter"
    if report.verdict == "several-voices":
        return (f"Several voices: {report.voices_found} found, the voiceprint is of the one "
                f"who speaks most ({net:.1f} s)")
    if net < good:
        return f"Good: {net:.1f} s of speech ({good:g} s or more is steadier)"
    return "Good"


@dataclass(frozen=True)
class EnrollmentResult:
    """A voiceprint and the quality report of the audio it came from.

    Attributes:
        voiceprint: :class:`engine.voiceprint.Voiceprint` of the kept (most talkative) voice.
        quality: :class:`QualityReport`.
        speech: the speech regions (seconds) whose windows made the voiceprint.
        channel: the channel row it came from, or None for the mono mix.
    """

    voiceprint: Any
    quality: QualityReport
    speech: tuple[Segment, ...] = ()
    channel: int | None = None


def _windows(regions: Sequence[Segment], n: int) -> list[tuple[int, int]]:
    """``(start, stop)`` sample spans of 1.5 s windows (0.75 s hop) inside each region.

    A region shorter than a window gives one window of its own length; the last window
    of a longer region ends at the region's end, so no speech is left out.
    """
    win, hop = int(WINDOW_S * RATE), int(HOP_S * RATE)
    spans: list[tuple[int, int]] = []
    for seg in regions:
        a = max(0, int(round(seg.start * RATE)))
        b = min(n, int(round(seg.end * RATE)))
        if b - a < 1600:  # under 0.1 s: nothing to embed
            continue
        if b - a <= win:
            spans.append((a, b))
            continue
        starts = list(range(a, b - win + 1, hop))
        if starts[-1] + win < b:
            starts.append(b - win)
        spans.extend((s, s + win) for s in starts)
    return spans


def _cluster(emb: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Cluster labels ``(n,)`` of unit embeddings ``(n, dim)``, 0 = the heaviest cluster."""
    n = emb.shape[0]
    if n < 2:
        return np.zeros(n, dtype=np.int64)
    from scipy.cluster.hierarchy import fcluster, linkage

    z = linkage(emb.astype(np.float64), method="average", metric="cosine")
    raw = fcluster(z, t=1.0 - CLUSTER_COSINE, criterion="distance")
    ids = np.unique(raw)
    mass = np.array([weights[raw == i].sum() for i in ids])
    order = ids[np.argsort(-mass, kind="stable")]
    remap = {int(c): k for k, c in enumerate(order)}
    return np.array([remap[int(c)] for c in raw], dtype=np.int64)


def _dbfs(power: float) -> float:
    return max(LEVEL_FLOOR_DBFS, 10.0 * math.log10(power)) if power > 0 else LEVEL_FLOOR_DBFS


def _snr_db(frame_power: np.ndarray, p_speech: float) -> float | None:
    """Speech-to-noise ratio in dB (clipped to -30..100) from frame powers ``(frames,)``.

    ``p_speech``: mean power of the speech frames. None when the clip is shorter than
    :data:`MIN_SECONDS_FOR_SNR` or holds no speech power.
    """
    if frame_power.size * 512 < MIN_SECONDS_FOR_SNR * RATE or p_speech <= 0:
        return None
    p_noise = float(np.percentile(frame_power, NOISE_PERCENTILE))
    ratio = max(p_speech - p_noise, 1e-12) / max(p_noise, 1e-12)
    return float(np.clip(10 * math.log10(ratio), -30, 100))


def _signal(audio: Any, channel: int | None) -> np.ndarray:
    from engine.audio import Audio

    if isinstance(audio, Audio):
        rows = audio.samples
    elif isinstance(audio, np.ndarray) and audio.ndim in (1, 2):
        rows = audio if audio.ndim == 2 else audio[None, :]
        if not np.issubdtype(rows.dtype, np.floating):
            raise ValidationError("audio samples must be float.", location="audio")
    else:
        raise ValidationError(
            f"audio must be an engine.audio.Audio (16 kHz); got {type(audio).__name__}.",
            location="audio",
        )
    if channel is None:
        x = rows[0] if rows.shape[0] == 1 else rows.mean(axis=0)
    else:
        if not isinstance(channel, int | np.integer) or not 0 <= channel < rows.shape[0]:
            raise ValidationError(
                f"channel {channel!r} is out of range: the audio has {rows.shape[0]} channel(s) "
                f"(0-based).",
                location="channel",
                context={"channel": str(channel), "channels": int(rows.shape[0])},
            )
        x = rows[int(channel)]
    x = np.ascontiguousarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        raise ValidationError("audio holds NaN or infinite samples.", location="audio")
    return x


def extract_voiceprint(
    audio: Any,
    *,
    encoder: Any = None,
    channel: int | None = None,
    require_ok: bool = False,
    max_seconds: float | None = MAX_SECONDS,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> EnrollmentResult:
    """The voiceprint of the most talkative speaker in a short recording.

    Args:
        audio: :class:`engine.audio.Audio` (16 kHz; or a float array ``(n,)`` /
            ``(channels, n)`` at 16 kHz). Several channels are mixed unless ``channel``
            picks one.
        encoder: a :class:`engine.encoder.SpeakerEncoder`; default
            :func:`engine.encoder.default_encoder`.
        channel: 0-based channel row to use; None mixes all rows.
        require_ok: raise :class:`NoSpeech` (detail ``media.too-little-speech``) instead of
            returning a ``too-short`` verdict when net speech < :data:`MIN_SPEECH_S`.
        max_seconds: longest audio accepted (None: no limit).
        progress: ``progress(fraction, message)`` callback, fraction 0..1.
        cancel: token checked between steps and embedding batches.

    Returns:
        :class:`EnrollmentResult` (voiceprint + :class:`QualityReport`).

    Raises:
        NoSpeech: no speech at all (or too little with ``require_ok``).
        ValidationError: not audio, bad channel, NaN/inf samples.
        SizeLimitExceeded: longer than ``max_seconds`` (detail ``media.too-long``).
        ModelUnavailable: the models do not load.
        Cancelled: ``cancel`` was set.
    """
    from engine.vad import speech_regions

    x = _signal(audio, channel)
    where = "audio" if channel is None else f"channel {channel}"
    duration = x.size / RATE
    if max_seconds is not None and duration > max_seconds + 1e-6:
        raise SizeLimitExceeded(
            f"A voiceprint is made from at most {max_seconds:g} s of audio; this is "
            f"{duration:.1f} s. Select a shorter part.",
            location=where,
            detail="media.too-long",
            context={"duration": round(duration, 3), "max_duration": max_seconds},
        )
    if cancel is not None:
        cancel.check()
    progress(0.0, "Finding speech")
    regions = speech_regions(x) if x.size else []
    spans = _windows(regions, x.size)
    if not spans:
        raise NoSpeech("No speech was found in the recording.", location=where)
    if cancel is not None:
        cancel.check()
    progress(0.2, "Embedding speech")

    if encoder is None:
        from engine.encoder import default_encoder

        encoder = default_encoder()
    width = max(b - a for a, b in spans)
    windows = np.zeros((len(spans), width), dtype=np.float32)
    lengths = np.array([b - a for a, b in spans], dtype=np.int64)
    for i, (a, b) in enumerate(spans):
        windows[i, : b - a] = x[a:b]
    emb = np.empty((len(spans), int(encoder.dim)), dtype=np.float32)
    batch = 16
    for i in range(0, len(spans), batch):
        if cancel is not None:
            cancel.check()
        emb[i : i + batch] = encoder.embed(windows[i : i + batch], lengths[i : i + batch])
        progress(0.2 + 0.7 * min(1.0, (i + batch) / len(spans)), "Embedding speech")

    # Cluster; the heaviest cluster (most speech) is the enrolled voice.
    weights = lengths.astype(np.float64)
    labels = _cluster(emb, weights)
    speech_mask = np.zeros(x.size, dtype=bool)
    for seg in regions:
        speech_mask[int(round(seg.start * RATE)) : int(round(seg.end * RATE))] = True
    covered = np.zeros((int(labels.max()) + 1, x.size), dtype=bool)
    for (a, b), lab in zip(spans, labels, strict=True):
        covered[lab, a:b] = True
    voice_s = (covered & speech_mask).sum(axis=1) / RATE
    total_s = float(speech_mask.sum() / RATE)
    voices = int(((voice_s >= MIN_VOICE_S) & (voice_s >= MIN_VOICE_SHARE * total_s)).sum())
    voices = max(voices, 1)
    keep = labels == 0
    vec = (emb[keep] * weights[keep, None]).sum(axis=0)
    from engine.voiceprint import Voiceprint

    voiceprint = Voiceprint(vec, str(encoder.model_id))
    net = float(voice_s[0])
    kept: list[list[int]] = []
    for (a, b), lab in zip(spans, labels, strict=True):
        if lab != 0:
            continue
        if kept and a <= kept[-1][1]:
            kept[-1][1] = max(kept[-1][1], b)
        else:
            kept.append([a, b])
    kept_regions = tuple(Segment(a / RATE, b / RATE) for a, b in kept)

    # Quality, on 32 ms frames: speech level = mean power of speech frames; noise floor =
    # a low percentile of every frame's power (see NOISE_PERCENTILE).
    clipping = float(np.mean(np.abs(x) >= CLIP_LEVEL)) if x.size else 0.0
    k = x.size // 512
    frame_p = (x[: k * 512].astype(np.float64).reshape(k, 512) ** 2).mean(axis=1)
    frame_speech = speech_mask[: k * 512].reshape(k, 512).mean(axis=1) > 0.5
    p_speech = float(frame_p[frame_speech].mean()) if frame_speech.any() else 0.0
    level = _dbfs(p_speech)
    snr = _snr_db(frame_p, p_speech)
    messages: list[str] = []
    if net < MIN_SPEECH_S:
        verdict = "too-short"
        messages.append(
            f"Only {net:.1f} s of speech; at least {MIN_SPEECH_S:g} s is needed "
            f"({GOOD_SPEECH_S:g} s or more is better)."
        )
    elif (snr is not None and snr < MIN_SNR_DB) or clipping > MAX_CLIPPING_RATIO:
        # before several-voices: in heavy noise the clusters are not voices
        verdict = "too-noisy"
    elif voices > 1:
        verdict = "several-voices"
    else:
        verdict = "ok"
    if voices > 1:
        messages.append(
            f"{voices} voices found; the voiceprint is of the one who speaks most "
            f"({net:.1f} s of {total_s:.1f} s of speech)."
        )
    if MIN_SPEECH_S <= net < GOOD_SPEECH_S:
        messages.append(
            f"{net:.1f} s of speech; {GOOD_SPEECH_S:g} s or more gives a steadier voiceprint."
        )
    if snr is not None and snr < MIN_SNR_DB:
        messages.append(
            f"Background noise is high (SNR about {snr:.0f} dB); record somewhere quieter."
        )
    if clipping > WARN_CLIPPING_RATIO:
        messages.append(f"{100 * clipping:.1f} % of samples are clipped; lower the input gain.")
    if level < -40.0:
        messages.append(f"The speech is very quiet ({level:.0f} dBFS); raise the input gain.")
    quality = QualityReport(
        net_speech_s=net,
        voices_found=voices,
        clipping_ratio=clipping,
        level_dbfs=level,
        snr_db=snr,
        verdict=verdict,
        min_speech_s=MIN_SPEECH_S,
        messages=tuple(messages),
    )
    if require_ok and net < MIN_SPEECH_S:
        raise NoSpeech(
            messages[0],
            location=where,
            detail="media.too-little-speech",
            context={"net_speech_s": round(net, 3), "min_speech_s": MIN_SPEECH_S},
        )
    progress(1.0, "Voiceprint ready")
    return EnrollmentResult(voiceprint, quality, kept_regions, channel)


class _ChannelProgress:
    """Maps one channel's 0..1 progress into its share of the whole."""

    def __init__(self, progress: ProgressFn, channel: int, channels: int) -> None:
        self._progress, self._c, self._n = progress, channel, channels

    def __call__(self, fraction: float, message: str = "") -> None:
        label = f"Channel {self._c + 1}/{self._n}: {message}" if message else ""
        self._progress((self._c + fraction) / self._n, label)


def extract_per_channel(
    audio: Any,
    *,
    encoder: Any = None,
    require_ok: bool = False,
    max_seconds: float | None = MAX_SECONDS,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> list[EnrollmentResult]:
    """One :class:`EnrollmentResult` per channel row of ``audio`` (seed 004).

    Load the file with ``channel_mode="split"`` so that each channel is a row. Raises as
    :func:`extract_voiceprint`, with ``location`` naming the channel at fault.
    """
    x = audio.samples if hasattr(audio, "samples") else np.asarray(audio)
    rows = 1 if x.ndim == 1 else int(x.shape[0])
    out = []
    for c in range(rows):
        out.append(
            extract_voiceprint(
                audio,
                encoder=encoder,
                channel=c,
                require_ok=require_ok,
                max_seconds=max_seconds,
                progress=_ChannelProgress(progress, c, rows),
                cancel=cancel,
            )
        )
    return out
