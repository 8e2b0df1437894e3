"""The decision layer's rules on and off: right names against strangers named, and DER.

Runs :func:`engine.identify.identify` on every dev conversation under several
:class:`engine.pipeline.decision.Decisions` settings and prints, per setting:

- right-name %: speech time of enrolled speakers (single-speaker 10 ms frames) under a
  turn with their name;
- stranger-named %: speech time of never-enrolled speakers under a turn with ANY library
  name (the false accepts);
- DER with a 0.25 s collar (pyannote.metrics, overlap scored) of the labelled turns.

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


class _Cached:
    """A model whose per-window outputs are memoised (same window -> same output)."""

    def __init__(self, inner: Any, method: str) -> None:
        self._inner = inner
        self._fn = getattr(inner, method)
        self._cache: dict[bytes, np.ndarray] = {}
        setattr(self, method, self._call)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

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


def der25(conv: Conv, turns: Any) -> float:
    from bench_accuracy import der

    ref = [(a, b, conv.names.get(s, "stranger:" + s)) for a, b, s in conv.truth]
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


def devset_convs(enc: Any, which: str, n: int, seed: int) -> list[Conv]:
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
            out.append(Conv(f"{kind}:{c.name}", c.samples, tuple(c.truth), lib, names))
    return out


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
    ap.add_argument("--grid", action="store_true", help="also sweep margin x AS-Norm threshold")
    ap.add_argument("--only", default=None, help="comma-separated setting names")
    args = ap.parse_args()

    from engine.campp import default_diarization_encoder
    from engine.encoder import default_encoder
    from engine.identify import identify
    from engine.pipeline.cohort import load_cohort
    from engine.segmentation import default_segmenter

    enc = _Cached(default_encoder(), "embed")
    dia = _Cached(default_diarization_encoder(), "embed")
    seg = _Cached(default_segmenter(), "run")
    cohort = load_cohort(args.cohort)[0] if args.cohort else None
    convs = (
        devset_convs(enc, args.devset, args.conversations, args.seed)
        if args.devset
        else builtin_convs(enc, args.conversations)
    )
    print(f"{len(convs)} conversations; cohort: "
          f"{'shipped/none' if cohort is None else cohort.shape[0]} voiceprints")
    print(f"{'setting':28s} {'right %':>8s} {'stranger named %':>17s} {'DER25 %':>8s}")
    settings = dict(SETTINGS)
    if args.grid:
        for m in (0.0, 5.0, 10.0, 15.0):
            for nt in (None, 1.5, 2.5, 3.5):
                settings[f"margin {m:g}, norm {nt if nt is not None else 'off'}"] = (
                    lambda c, m=m, nt=nt: Decisions(
                        margin=m, normalisation="none" if nt is None else "asnorm",
                        norm_threshold=nt or 0.0, cohort=c,
                    )
                )
    only = set(args.only.split(",")) if args.only else None
    for name, make in settings.items():
        if only is not None and name not in only:
            continue
        rules = make(cohort)
        tot = np.zeros(4)
        ders = []
        per_kind: dict[str, np.ndarray] = {}
        for c in convs:
            r = identify(Audio(c.samples[None]), c.library, encoder=enc, diarization_encoder=dia,
                         segmenter=seg, decisions=rules, threshold=args.threshold)
            tot += frame_scores(c, r.turns)
            ders.append(der25(c, r.turns))
            kind = c.name.split(":")[0]
            per_kind.setdefault(kind, np.zeros(4))
            per_kind[kind] += frame_scores(c, r.turns)
        detail = "  ".join(
            f"{k}: {100 * v[0] / max(v[1], 1e-9):.1f}/{100 * v[2] / max(v[3], 1e-9):.1f}"
            for k, v in per_kind.items()
        )
        print(f"{name:28s} {100 * tot[0] / max(tot[1], 1e-9):8.1f} "
              f"{100 * tot[2] / max(tot[3], 1e-9):17.1f} {100 * np.mean(ders):8.1f}   {detail}",
              flush=True)


if __name__ == "__main__":
    main()
