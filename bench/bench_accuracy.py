"""Accuracy of diarization + identification on the real-speech dev set.

Dev set (tests/data/README.md has provenance and licences):

1. ``pyannote_sample.wav`` with its reference RTTM (30 s, two speakers, overlap):
   DER of pure diarization (empty library). Then identification with both speakers
   enrolled from one single-speaker stretch each; those stretches are excluded from
   scoring (UEM), so the enrolment audio is held out.
2. Synthetic conversations (``--conversations``, default 6) cut from held-out
   single-speaker stretches of the same two speakers plus two CMU ARCTIC voices that
   are never enrolled, with random order, gaps and gains: exact boundaries.
3. A larger library: the two speakers above plus the five single-speaker
   ``calib_*.ogg`` recordings (each enrolled from its first 40 %, tested on the
   rest); conversations of 3 random enrolled speakers and one never-enrolled ARCTIC
   voice, scored on energy-gated speech frames (the long clips hold pauses).

Prints DER (pyannote.metrics, collar 0 and 0.25 s, overlap scored) and the share of
speech time attributed to the right enrolled speaker (10 ms frames; overlapped
reference frames skipped), and the share of unenrolled speakers' time kept unknown.

    python bench/bench_accuracy.py
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

from engine.audio import Audio, load_audio  # noqa: E402
from engine.encoder import default_encoder  # noqa: E402
from engine.formats import from_rttm  # noqa: E402
from engine.identify import identify  # noqa: E402
from engine.segments import is_unknown  # noqa: E402
from engine.voiceprint import Voiceprint  # noqa: E402
from tests import _helpers_identify as H  # noqa: E402

NAMES = {"A": "alice", "B": "bob"}


def der(ref, hyp, uem=None, collar=0.0) -> float:
    """DER with pyannote.metrics (ref/hyp: lists of (start, end, label))."""
    from pyannote.core import Annotation, Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    r, h = Annotation(), Annotation()
    for i, (a, b, s) in enumerate(ref):
        r[Segment(a, b), i] = s
    for i, (a, b, s) in enumerate(hyp):
        h[Segment(a, b), i] = s
    u = Timeline([Segment(a, b) for a, b in uem]) if uem else None
    return float(DiarizationErrorRate(collar=collar)(r, h, uem=u))


def attribution(
    ref, hyp, duration, uem=None, speech=None, names=None
) -> tuple[float, float, float, float]:
    """(right-enrolled seconds, enrolled seconds, kept-unknown seconds, unknown seconds).

    ``speech``: optional boolean per 10 ms frame; only those frames are scored.
    ``names``: reference speaker -> enrolled id (default :data:`NAMES`).
    """
    names = NAMES if names is None else names
    n = int(np.ceil(duration * 100))
    t = (np.arange(n) + 0.5) / 100
    keep = np.zeros(n, bool)
    for a, b in uem or [(0.0, duration)]:
        keep |= (t >= a) & (t < b)
    if speech is not None:
        keep &= np.pad(speech, (0, max(0, n - speech.shape[0])))[:n]
    count = np.zeros(n, int)
    who = np.full(n, "", dtype=object)
    for a, b, s in ref:
        m = (t >= a) & (t < b)
        count[m] += 1
        who[m] = s
    ok = keep & (count == 1)
    right = enrolled = kept = unknown = 0.0
    for spk in set(who[ok].tolist()):
        m = ok & (who == spk)
        hit = np.zeros(n, bool)
        for a, b, lab in hyp:
            if spk in names and lab == names[spk]:
                hit |= (t >= a) & (t < b)
            if spk not in names and is_unknown(lab):
                hit |= (t >= a) & (t < b)
        if spk in names:
            right += (m & hit).sum() / 100
            enrolled += m.sum() / 100
        else:
            kept += (m & hit).sum() / 100
            unknown += m.sum() / 100
    return right, enrolled, kept, unknown


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--conversations", type=int, default=6)
    args = ap.parse_args()
    enc = default_encoder()
    lib = {
        NAMES[spk]: Voiceprint(enc.embed(H.clip(spk, "enroll")[None])[0], enc.model_id)
        for spk in ("A", "B")
    }

    # 1. the pyannote sample
    audio = load_audio(H.DATA / "pyannote_sample.wav")
    ref = [
        ("A" if t.speaker == "speaker90" else "B", t.start, t.end)
        for t in from_rttm((H.DATA / "pyannote_sample.rttm").read_text())
    ]
    ref = [(a, b, s) for s, a, b in ref]
    r = identify(audio, {}, encoder=enc)
    hyp = [(t.start, t.end, t.speaker) for t in r.turns]
    print(
        f"pyannote sample, diarization: DER {der(ref, hyp):.3f} (collar 0), "
        f"{der(ref, hyp, collar=0.25):.3f} (collar 0.25 s); {r.num_speakers} speakers found (truth 2)"
    )
    held = sorted(v for p in H.STRETCHES.values() for v in p["enroll"])
    uem, pos = [], 0.0
    for a, b in held:
        uem.append((pos, a))
        pos = b
    uem.append((pos, audio.duration))
    r = identify(audio, lib, encoder=enc)
    hyp = [(t.start, t.end, t.speaker) for t in r.turns]
    refn = [(a, b, NAMES[s]) for a, b, s in ref]
    right, total, _, _ = attribution(ref, hyp, audio.duration, uem)
    print(
        f"pyannote sample, identification (enrollment stretches held out): DER {der(refn, hyp, uem):.3f}; "
        f"right enrolled speaker {right / total:.1%} of {total:.1f} s"
    )

    # 2. synthetic conversations with exact boundaries
    rng = np.random.default_rng(7)
    tests = [("A", "test", i) for i in range(len(H.STRETCHES["A"]["test"]))]
    tests += [("B", "test", i) for i in range(len(H.STRETCHES["B"]["test"]))]
    tot = np.zeros(4)
    ders, ders_id = [], []
    for k in range(args.conversations):
        parts = [tests[i] for i in rng.permutation(len(tests))]
        parts.insert(int(rng.integers(1, len(parts))), ("C" if k % 2 == 0 else "D", "", 0))
        gaps = rng.uniform(0.3, 1.5, len(parts) + 1).tolist()
        conv = H.conversation(parts, gaps, seed=k)
        a = Audio(conv.samples[None])
        ref = list(conv.truth)
        r0 = identify(a, {}, encoder=enc)
        ders.append(der(ref, [(t.start, t.end, t.speaker) for t in r0.turns]))
        r1 = identify(a, lib, encoder=enc)
        hyp = [(t.start, t.end, t.speaker) for t in r1.turns]
        refn = [(x, y, NAMES.get(s, s)) for x, y, s in ref]
        ders_id.append(der(refn, [(x, y, "UNK" if is_unknown(s) else s) for x, y, s in hyp]))
        tot += attribution(ref, hyp, conv.duration)
    print(
        f"synthetic conversations ({args.conversations}, 3 speakers each, {tot[1] + tot[3]:.0f} s of speech): "
        f"diarization DER {np.mean(ders):.3f} (mean; worst {np.max(ders):.3f}); "
        f"identification DER {np.mean(ders_id):.3f}"
    )
    print(
        f"right enrolled speaker: {tot[0] / tot[1]:.1%} of {tot[1]:.0f} s; "
        f"unenrolled speakers kept UNKNOWN: {tot[2] / tot[3]:.1%} of {tot[3]:.0f} s"
    )

    # 3. a larger library: the pyannote speakers + the single-speaker calib recordings
    calib = H.calib_speakers()
    if not calib:
        return
    lib3 = dict(lib)
    tests3: dict[str, list[np.ndarray]] = {
        "A": [H.clip("A", "test", i) for i in range(3)],
        "B": [H.clip("B", "test", i) for i in range(2)],
    }
    for name, (enr, test) in calib.items():
        lib3[name] = Voiceprint(enc.embed(enr[None])[0], enc.model_id)
        tests3[name] = [test]
    names3 = {"A": "alice", "B": "bob", **{k: k for k in calib}}
    unknowns = {"C": H.clip("C", "", 0), "D": H.clip("D", "", 0)}
    tot3 = np.zeros(4)
    n_conv = 0
    for k in range(args.conversations):
        spk = rng.choice(sorted(tests3), size=3, replace=False).tolist()
        pieces = [(s, c) for s in spk for c in tests3[s]]
        pieces = [pieces[i] for i in rng.permutation(len(pieces))]
        u = "C" if k % 2 == 0 else "D"
        pieces.insert(int(rng.integers(1, len(pieces))), (u, unknowns[u]))
        x, ref = _assemble(pieces, rng)
        r = identify(Audio(x[None]), lib3, encoder=enc)
        hyp = [(t.start, t.end, t.speaker) for t in r.turns]
        tot3 += attribution(ref, hyp, x.shape[0] / H.SR, speech=H.speech_frames(x), names=names3)
        n_conv += 1
    print(
        f"larger library ({len(lib3)} enrolled speakers, {n_conv} conversations of 3 enrolled + 1 "
        f"unknown, scored on energy-gated speech frames): right enrolled speaker "
        f"{tot3[0] / tot3[1]:.1%} of {tot3[1]:.0f} s; unenrolled kept UNKNOWN "
        f"{tot3[2] / tot3[3]:.1%} of {tot3[3]:.0f} s"
    )


def _assemble(pieces, rng) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    out, ref, pos = [], [], 0
    for spk, c in pieces:
        g = int(rng.uniform(0.3, 1.5) * H.SR)
        out.append(np.zeros(g, np.float32))
        pos += g
        ref.append((pos / H.SR, (pos + c.shape[0]) / H.SR, spk))
        out.append(c)
        pos += c.shape[0]
    out.append(np.zeros(H.SR, np.float32))
    x = np.concatenate(out)
    x = x + rng.normal(0, 10 ** (-70 / 20), x.shape[0]).astype(np.float32)
    return x.astype(np.float32), ref


if __name__ == "__main__":
    main()
