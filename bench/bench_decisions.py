"""The decision layer's rules on and off: right names against strangers named, and DER.

Runs :func:`engine.identify.identify` on every dev conversation under several
:class:`engine.pipeline.decision.Decisions` settings and prints, per setting:

- right-name %: speech time of enrolled speakers (single-speaker 10 ms frames with speech
  energy: within 40 dB of the loudest, and on the dev set also speech to Silero VAD,
  :func:`vad_frames`; ``--energy-only`` for the energy gate alone) under a turn with
  their name;
- stranger-named %: speech time of never-enrolled speakers under a turn with ANY library
  name (the false accepts);
- DER with a 0.25 s collar (pyannote.metrics, overlap scored) of the labelled turns;
  "DER25 sp" (dev set): the same against the truth turns cut to Silero VAD's speech
  regions (:func:`spoken_regions`), without the source recordings' noise tails.

Model outputs are cached per window, so each setting only re-runs the decisions.

Dev material: the real-speech conversations of bench/bench_accuracy.py (tests/data:
the pyannote sample's two speakers enrolled, two CMU ARCTIC voices never enrolled; and
the five pocketsphinx calib voices enrolled too), plus the dev set of bench/data when
``--devset`` is given and present.

    python bench/bench_decisions.py
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

from engine.audio import Audio  # noqa: E402
from engine.pipeline.decision import Decisions  # noqa: E402
from engine.segments import is_unknown  # noqa: E402
from engine.voiceprint import Voiceprint  # noqa: E402
from tests import _helpers_identify as H  # noqa: E402


@dataclass(frozen=True)
class Conv:
    """A dev conversation: samples, truth ``(start, end, speaker)``, the library and the
    enrolled-name of each reference speaker (strangers absent)."""

    name: str
    samples: np.ndarray
    truth: tuple[tuple[float, float, str], ...]
    library: dict[str, Any]
    names: dict[str, str]
    speech: np.ndarray | None = None  # optional 10 ms frames that count
    spoken: tuple[tuple[float, float], ...] | None = None  # speech regions for "DER25 sp"


class _Cached:
    """A model whose per-window outputs are memoised (same window -> same output)."""

    def __init__(self, inner: Any, method: str) -> None:
        self._inner = inner
        self._fn = getattr(inner, method)
        self._cache: dict[bytes, np.ndarray] = {}
        setattr(self, method, self._call)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def load(self, path: Path) -> None:
        """Add the outputs saved by :meth:`save` (same model, same windows)."""
        if path.exists():
            with np.load(path, allow_pickle=False) as z:
                for k, v in zip(z["keys"], z["values"], strict=True):
                    self._cache[bytes(k)] = v

    def save(self, path: Path) -> None:
        if self._cache:
            keys = list(self._cache)
            np.savez(path, keys=np.array(keys, dtype="S20"),
                     values=np.stack([self._cache[k] for k in keys]))

    def _key(self, row: np.ndarray) -> bytes:
        return hashlib.sha1(np.ascontiguousarray(row).tobytes()).digest()

    def _call(self, x: np.ndarray, lengths: np.ndarray | None = None, **kw: Any) -> np.ndarray:
        rows = [x[i, : int(lengths[i])] if lengths is not None else x[i] for i in range(x.shape[0])]
        keys = [self._key(r) for r in rows]
        miss = [i for i, k in enumerate(keys) if k not in self._cache]
        if miss:
            if lengths is not None:
                out = self._fn(x[miss], lengths=lengths[miss], **kw)
            else:
                out = self._fn(x[miss], **kw)
            for i, o in zip(miss, np.asarray(out), strict=True):
                self._cache[keys[i]] = o
        return np.stack([self._cache[k] for k in keys])


def frame_scores(conv: Conv, turns: Any) -> tuple[float, float, float, float]:
    """``(right s, enrolled s, stranger-named s, stranger s)`` on single-speaker frames."""
    dur = conv.samples.shape[0] / H.SR
    n = int(np.ceil(dur * 100))
    t = (np.arange(n) + 0.5) / 100
    count = np.zeros(n, int)
    who = np.full(n, "", dtype=object)
    for a, b, s in conv.truth:
        m = (t >= a) & (t < b)
        count[m] += 1
        who[m] = s
    ok = count == 1
    if conv.speech is not None:
        ok &= np.pad(conv.speech, (0, max(0, n - conv.speech.shape[0])))[:n]
    named_any = np.zeros(n, bool)
    by_label: dict[str, np.ndarray] = {}
    for tr in turns:
        m = (t >= tr.start) & (t < tr.end)
        if not is_unknown(tr.speaker):
            named_any |= m
        by_label.setdefault(tr.speaker, np.zeros(n, bool))
        by_label[tr.speaker] |= m
    right = enrolled = fa = stranger = 0.0
    for spk in set(who[ok].tolist()):
        m = ok & (who == spk)
        if spk in conv.names:
            hit = by_label.get(conv.names[spk], np.zeros(n, bool))
            right += (m & hit).sum() / 100
            enrolled += m.sum() / 100
        else:
            fa += (m & named_any).sum() / 100
            stranger += m.sum() / 100
    return right, enrolled, fa, stranger


def der25(conv: Conv, turns: Any, spoken_only: bool = False) -> float:
    """DER with a 0.25 s collar against the truth turns; ``spoken_only``: against the
    truth cut to :attr:`Conv.spoken` (NaN without it)."""
    from bench_accuracy import der

    ref = [(a, b, conv.names.get(s, "stranger:" + s)) for a, b, s in conv.truth]
    if spoken_only:
        if conv.spoken is None:
            return float("nan")
        ref = [(max(a, x), min(b, y), s) for a, b, s in ref for x, y in conv.spoken
               if min(b, y) > max(a, x)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return der(ref, [(x.start, x.end, x.speaker) for x in turns], collar=0.25)


def builtin_convs(enc: Any, n: int) -> list[Conv]:
    """bench_accuracy.py's conversations from tests/data (see its docstring)."""
    from bench_accuracy import _assemble

    names2 = {"A": "alice", "B": "bob"}
    lib2 = {
        names2[s]: Voiceprint(enc.embed(H.clip(s, "enroll")[None])[0], enc.model_id)
        for s in ("A", "B")
    }
    rng = np.random.default_rng(7)
    tests = [("A", "test", i) for i in range(3)] + [("B", "test", i) for i in range(2)]
    out = []
    for k in range(n):
        parts = [tests[i] for i in rng.permutation(len(tests))]
        parts.insert(int(rng.integers(1, len(parts))), ("C" if k % 2 == 0 else "D", "", 0))
        c = H.conversation(parts, rng.uniform(0.3, 1.5, len(parts) + 1).tolist(), seed=k)
        out.append(Conv(f"ab{k}", c.samples, c.truth, lib2, names2))
    calib = H.calib_speakers()
    lib3 = dict(lib2)
    tests3: dict[str, list[np.ndarray]] = {
        "A": [H.clip("A", "test", i) for i in range(3)],
        "B": [H.clip("B", "test", i) for i in range(2)],
    }
    for name, (enr, test) in calib.items():
        lib3[name] = Voiceprint(enc.embed(enr[None])[0], enc.model_id)
        tests3[name] = [test]
    names3 = {"A": "alice", "B": "bob", **{k: k for k in calib}}
    unknowns = {"C": H.clip("C", "", 0), "D": H.clip("D", "", 0)}
    for k in range(n if calib else 0):
        spk = rng.choice(sorted(tests3), size=3, replace=False).tolist()
        pieces = [(s, c) for s in spk for c in tests3[s]]
        pieces = [pieces[i] for i in rng.permutation(len(pieces))]
        u = "C" if k % 2 == 0 else "D"
        pieces.insert(int(rng.integers(1, len(pieces))), (u, unknowns[u]))
        x, ref = _assemble(pieces, rng)
        out.append(Conv(f"lib{k}", x, tuple(ref), lib3, names3, H.speech_frames(x)))
    return out


def devset_convs(enc: Any, which: str, n: int, seed: int, vad_gate: bool = True) -> list[Conv]:
    """Conversations, cross-session and split-person sets of bench/devset.py (issue 11)."""
    from devset import load

    ds = load(which)
    lib = {
        s: Voiceprint(enc.embed(ds.enrollment(s)[None])[0], enc.model_id) for s in ds.enrolled
    }
    names = {s: s for s in ds.enrolled}
    out = []
    for kind, convs in (
        ("conv", ds.conversations(n, seed=seed)),
        ("cross", ds.cross_session(max(2, n // 2), seed=seed)),
        ("split", ds.split_person(max(2, n // 4), seed=seed)),
    ):
        for c in convs:
            # scored on speech frames: a dev turn's truth spans the pauses between its
            # words (digital silence), which no system should call speech
            from engine import vad

            track = vad.speech_probabilities(c.samples)  # one Silero pass for both uses
            speech = H.speech_frames(c.samples)
            if vad_gate:
                speech &= vad_frames(c.samples, speech.shape[0], track)
            out.append(Conv(f"{kind}:{c.name}", c.samples, tuple(c.truth), lib, names, speech,
                            spoken_regions(c.samples, track)))
    return out


def spoken_regions(x: np.ndarray, track: Any) -> tuple[tuple[float, float], ...]:
    """Silero VAD's speech regions (pauses of 0.4 s or more split them) from its
    probability ``track`` of ``x``: the truth of "DER25 sp" keeps only these parts of
    each turn, leaving out the source recordings' noise tails (see :func:`vad_frames`)
    that the turn truth counts as speech."""
    from engine import vad

    regions = vad.regions_from_probabilities(track, x.shape[0] / vad.VAD_RATE, min_silence=0.4)
    return tuple((r.start, r.end) for r in regions)


def vad_frames(x: np.ndarray, n: int, track: Any) -> np.ndarray:
    """bool ``(n,)`` per 10 ms frame: Silero VAD (engine/vad.py; ``track`` its speech
    probabilities of ``x``) calls most of it speech.

    The energy gate alone (:func:`tests._helpers_identify.speech_frames`, 40 dB under the
    loudest frame) counts the source recordings' own noise floor as speech: KLettres'
    isolated letters end in 0.5-1 s of room noise at about -45 dBFS, which no diarization
    should label (issue 11: 8 of the 34 s of enrolled "speech" without any turn were
    such tails).
    """
    from engine import vad

    m = vad.speech_mask(vad.regions_from_probabilities(track, x.shape[0] / vad.VAD_RATE),
                        x.shape[0])
    m = np.pad(m, (0, max(0, n * 160 - m.shape[0])))[: n * 160]
    return np.asarray(m.reshape(n, 160).mean(axis=1) > 0.5)


SETTINGS: dict[str, Callable[[np.ndarray | None], Decisions]] = {
    "legacy (one-to-one)": lambda c: Decisions(legacy=True, cohort=c),
    "+ shared names": lambda c: Decisions(normalisation="none", margin=0, split_mixed=False, cohort=c),
    "+ margin 8": lambda c: Decisions(normalisation="none", margin=8, split_mixed=False, cohort=c),
    "+ margin 15": lambda c: Decisions(normalisation="none", margin=15, split_mixed=False, cohort=c),
    "+ AS-Norm 2.5": lambda c: Decisions(margin=0, split_mixed=False, cohort=c),
    "+ margin 8 + AS-Norm 2.5": lambda c: Decisions(split_mixed=False, cohort=c),
    "all (default) + split": lambda c: Decisions(cohort=c),
}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--conversations", type=int, default=6)
    ap.add_argument("--cohort", type=Path, default=None, help=".npy/.npz impostor voiceprints")
    ap.add_argument("--threshold", type=float, default=None)
    ap.add_argument("--devset", choices=("full", "mini"), default=None,
                    help="use bench/devset.py's dev set instead of the tests/data material")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--energy-only", action="store_true",
                    help="dev set: score every frame within 40 dB of the loudest (the "
                         "measure before the Silero VAD gate; counts recordings' noise tails)")
    ap.add_argument("--grid", action="store_true", help="also sweep the AS-Norm threshold (margin off)")
    ap.add_argument("--only", default=None, help="comma-separated setting names")
    ap.add_argument("--cluster-distance", type=float, default=None,
                    help="CAM++ average-linkage distance (default: the model's)")
    ap.add_argument("--part-min-seconds", type=float, default=None,
                    help="override cluster_voiceprint.PART_MIN_SECONDS (mixed-cluster check)")
    ap.add_argument("--cache", type=Path, default=None,
                    help="folder keeping the model outputs between runs (tuning)")
    ap.add_argument("--det", type=Path, default=None,
                    help="sweep the threshold for the last setting run and write the "
                         "right-name vs stranger-named curve (DET) as this PNG")
    args = ap.parse_args()

    from engine.campp import default_diarization_encoder
    from engine.encoder import default_encoder
    from engine.pipeline.cohort import load_cohort
    from engine.segmentation import default_segmenter

    enc = _Cached(default_encoder(), "embed")
    dia = _Cached(default_diarization_encoder(), "embed")
    seg = _Cached(default_segmenter(), "run")
    if args.part_min_seconds is not None:
        import engine.pipeline.cluster_voiceprint as cvp

        cvp.PART_MIN_SECONDS = args.part_min_seconds
    if args.cluster_distance is not None:
        dia.cluster_distance = args.cluster_distance
    models = {"ecapa": enc, "campp": dia, "seg": seg}
    if args.cache:
        args.cache.mkdir(parents=True, exist_ok=True)
        for key, m in models.items():
            m.load(args.cache / f"{key}.npz")
    cohort = load_cohort(args.cohort)[0] if args.cohort else None
    convs = (
        devset_convs(enc, args.devset, args.conversations, args.seed, not args.energy_only)
        if args.devset
        else builtin_convs(enc, args.conversations)
    )
    print(f"{len(convs)} conversations; cohort: "
          f"{'shipped/none' if cohort is None else cohort.shape[0]} voiceprints")
    print(f"{'setting':28s} {'right %':>8s} {'stranger named %':>17s} {'DER25 %':>8s} {'DER25 sp %':>11s}   "
          "tuning half / test half (right/stranger/DER)   per kind (right/stranger)")
    settings = dict(SETTINGS)
    if args.grid:
        for top in (5, 10, 20, 50):
            for nt in (2.0, 2.5, 3.0, 3.5, 4.0):
                settings[f"AS-Norm {nt:g} top {top}"] = (
                    lambda c, nt=nt, top=top: Decisions(norm_threshold=nt, cohort_top=top, cohort=c)
                )
    only = set(args.only.split(",")) if args.only else None
    last: Decisions | None = None
    for name, make in settings.items():
        if only is not None and name not in only:
            continue
        rules = make(cohort)
        last = rules
        per = evaluate(convs, rules, args.threshold, enc, dia, seg)
        print(f"{name:28s} {summary(per, convs, range(len(convs)))}   "
              f"tune {summary(per, convs, range(0, len(convs), 2), short=True)}   "
              f"test {summary(per, convs, range(1, len(convs), 2), short=True)}   "
              f"{by_kind(per, convs)}", flush=True)
    if args.cache:
        for key, m in models.items():
            m.save(args.cache / f"{key}.npz")
    if args.det is not None and last is not None:
        det_curve(convs, last, enc, dia, seg, args.det)


def evaluate(
    convs: list[Conv], rules: Decisions, threshold: float | None, enc: Any, dia: Any, seg: Any
) -> list[tuple[np.ndarray, float, float]]:
    """Per conversation: ``(frame_scores as an array, DER25, DER25 sp)``."""
    from engine.identify import identify

    out = []
    for c in convs:
        r = identify(Audio(c.samples[None]), c.library, encoder=enc, diarization_encoder=dia,
                     segmenter=seg, decisions=rules, threshold=threshold)
        out.append((np.asarray(frame_scores(c, r.turns)), der25(c, r.turns),
                    der25(c, r.turns, spoken_only=True)))
    return out


def summary(per: list[tuple[np.ndarray, float, float]], convs: list[Conv], idx: Any,
            short: bool = False) -> str:
    """right % / stranger-named % / DER25 % (/ DER25 sp %) over the conversations ``idx``."""
    idx = list(idx)
    if not idx:
        return "-"
    tot = np.sum([per[i][0] for i in idx], axis=0)
    right = 100 * tot[0] / max(tot[1], 1e-9)
    fa = 100 * tot[2] / max(tot[3], 1e-9)
    d = 100 * float(np.mean([per[i][1] for i in idx]))
    if short:
        return f"{right:.1f}/{fa:.1f}/{d:.1f}"
    dsp = 100 * float(np.mean([per[i][2] for i in idx]))
    return f"{right:8.1f} {fa:17.1f} {d:8.1f} {dsp:11.1f}"


def by_kind(per: list[tuple[np.ndarray, float, float]], convs: list[Conv]) -> str:
    kinds: dict[str, np.ndarray] = {}
    for (v, _, _), c in zip(per, convs, strict=True):
        k = c.name.split(":")[0]
        kinds[k] = kinds.get(k, np.zeros(4)) + v
    return "  ".join(
        f"{k}: {100 * v[0] / max(v[1], 1e-9):.1f}/{100 * v[2] / max(v[3], 1e-9):.1f}"
        for k, v in kinds.items()
    )


DET_THRESHOLDS = (20.0, 30.0, 40.0, 45.0, 50.0, 55.0, 60.0, 70.0, 80.0)


def det_curve(convs: list[Conv], rules: Decisions, enc: Any, dia: Any, seg: Any,
              png: Path) -> list[tuple[float, float, float, float]]:
    """Right-name % and stranger-named % at :data:`DET_THRESHOLDS` (0-100 score); prints
    the table and writes the curve (miss % = 100 - right % against stranger-named %)."""
    rows = []
    print(f"\n{'threshold':>9s} {'right %':>8s} {'stranger named %':>17s} {'DER25 %':>8s} "
          f"{'DER25 sp %':>11s}")
    for t in DET_THRESHOLDS:
        per = evaluate(convs, rules, t, enc, dia, seg)
        tot = np.sum([p[0] for p in per], axis=0)
        right = 100 * tot[0] / max(tot[1], 1e-9)
        fa = 100 * tot[2] / max(tot[3], 1e-9)
        d = 100 * float(np.mean([p[1] for p in per]))
        dsp = 100 * float(np.mean([p[2] for p in per]))
        rows.append((t, right, fa, d))
        print(f"{t:9.0f} {right:8.1f} {fa:17.1f} {d:8.1f} {dsp:11.1f}", flush=True)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[plots]'): no PNG written")
        return rows
    fig, ax = plt.subplots(figsize=(5.5, 4.5), dpi=110)
    miss = [100 - r[1] for r in rows]
    fas = [r[2] for r in rows]
    ax.plot(fas, miss, "o-")
    for (t, _r, _f, _d), x, y in zip(rows, fas, miss, strict=True):
        ax.annotate(f"{t:.0f}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("never-enrolled speech given a library name (%)")
    ax.set_ylabel("enrolled speech not given its name (%)")
    ax.set_title("Identification trade-off on the dev set (labels: threshold)")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png)
    plt.close(fig)
    print(f"DET curve written to {png}")
    return rows


if __name__ == "__main__":
    main()
