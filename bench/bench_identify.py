"""Real-time factor of diarization + identification, against the slower alternatives.

Builds a recording by tiling real speech (tests/_helpers_identify.py: the pyannote
sample's two speakers and two CMU ARCTIC voices, with random gain, speed and gaps),
runs :func:`engine.identify.identify` against a library of the two enrolled
speakers, and prints the time, the RTF (processing time / audio duration), where
the time goes (segmentation, CAM++ diarization embeddings, ECAPA identification
embeddings) and the DER against the tiling's exact truth. Then, for comparison:

- the same pipeline with ECAPA for the diarization embeddings too (the single-model
  path used when CAM++ is not installed), on the first ``--ecapa-minutes``;
- the naive approach: one ECAPA call per 1.5 s window over all the speech (no
  batching, no segmentation), on the first ``--naive-minutes``.

Both are extrapolated linearly to the whole recording.

``--compare N`` runs the settings before issue 15's speed work (:data:`OLD`: 7.5 s
chunk step, 3 s CAM++ windows, two-threaded segmentation, only digital silence skipped)
and the current ones (:data:`NEW`) N times each, interleaved (old, new, new, old, ...),
so both see the same load; it prints each run's stage breakdown, the medians and the
ratio. ``--sweep`` prints the DER/time trade-off of the chunk step and the CAM++ window
length: DER on the tiled recording and, on the dev set of bench/devset.py, DER (0.25 s
collar), right-name % and stranger-named % with the default decisions.

    python bench/bench_identify.py                 # 60 min recording
    python bench/bench_identify.py --minutes 10    # shorter run
    python bench/bench_identify.py --compare 3 --naive-minutes 0 --ecapa-minutes 0
    python bench/bench_identify.py --sweep --minutes 10
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

import engine.identify as identify_module  # noqa: E402
from engine import segmentation  # noqa: E402
from engine.audio import Audio  # noqa: E402
from engine.campp import default_diarization_encoder  # noqa: E402
from engine.encoder import default_encoder  # noqa: E402
from engine.identify import identify  # noqa: E402
from engine.pipeline import embedding as embedding_stage  # noqa: E402
from engine.pipeline import segment as segment_stage  # noqa: E402
from engine.segmentation import default_segmenter  # noqa: E402
from engine.voiceprint import Voiceprint  # noqa: E402
from tests import _golden_identify as G  # noqa: E402
from tests import _helpers_identify as H  # noqa: E402


@dataclass(frozen=True)
class Settings:
    """The speed knobs of the pipeline: chunk step (s), CAM++ window (s), segmentation
    threads, and whether quiet chunks skip segmentation (energy gate)."""

    step: float
    embed: float
    seg_threads: int
    gate: bool
    ahead: bool = True
    issue11: bool = True
    """The accuracy work of issue 11 (quiet-stretch gate, 6 s units, cuts at short pauses,
    misfit clusters, 0.4 s pauses bridged); False: the values before it."""

    def label(self) -> str:
        return (f"step {self.step:g} s, CAM++ {self.embed:g} s, seg {self.seg_threads} thr, "
                f"gate {'on' if self.gate else 'off'}, segment ahead {'on' if self.ahead else 'off'}, "
                f"issue 11 {'on' if self.issue11 else 'off'}")


_ISSUE11 = tuple((importlib.import_module(m), name, v) for m, name, v in G.BEFORE_ISSUE11)
"""Module constants and their values before issue 11 (the CAM++ window among them is
then set from :attr:`Settings.embed`)."""


OLD = Settings(step=7.5, embed=3.0, seg_threads=2, gate=False, ahead=False, issue11=False)
"""The pipeline's settings before the speed work of issue 15."""
NEW = Settings(
    step=identify_module.CHUNK_STEP_SECONDS,
    embed=embedding_stage.EMBED_SECONDS,
    seg_threads=min(segmentation.THREADS, os.cpu_count() or 1),
    gate=segment_stage.ENERGY_GATE,
    ahead=segment_stage.SEGMENT_AHEAD,
)
"""The current defaults."""
BEFORE_ISSUE11 = Settings(NEW.step, 3.0, NEW.seg_threads, NEW.gate, NEW.ahead, issue11=False)
"""The settings before issue 11's accuracy work (``--baseline issue11``): today's speed
knobs, the CAM++ window of 3 s it had then, and :data:`_ISSUE11`."""


@contextlib.contextmanager
def applied(s: Settings) -> Iterator[Any]:
    """Run the pipeline with ``s`` (module constants patched, restored after); yields the
    segmenter to pass to identify()."""
    saved = (identify_module.CHUNK_STEP_SECONDS, embedding_stage.EMBED_SECONDS,
             segment_stage.ENERGY_GATE, segment_stage.SEGMENT_AHEAD)
    saved11 = [(mod, name, getattr(mod, name)) for mod, name, _ in _ISSUE11]
    if not s.issue11:
        for mod, name, value in _ISSUE11:
            setattr(mod, name, value)
    identify_module.CHUNK_STEP_SECONDS = s.step
    embedding_stage.EMBED_SECONDS = s.embed
    segment_stage.ENERGY_GATE = s.gate
    segment_stage.SEGMENT_AHEAD = s.ahead
    try:
        yield default_segmenter(s.seg_threads)
    finally:
        (identify_module.CHUNK_STEP_SECONDS, embedding_stage.EMBED_SECONDS,
         segment_stage.ENERGY_GATE, segment_stage.SEGMENT_AHEAD) = saved
        for mod, name, value in saved11:
            setattr(mod, name, value)


class _Timed:
    """Wraps one model method, adding up its wall time and the audio it saw."""

    def __init__(self, obj: Any, name: str) -> None:
        self.seconds = 0.0
        self.audio = 0.0
        inner = getattr(obj, name)

        def timed(x: np.ndarray, *args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return inner(x, *args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0
                lens = kwargs.get("lengths")
                self.audio += (float(np.sum(lens)) if lens is not None else x.size) / H.SR

        setattr(obj, name, timed)


def _der(truth: list[tuple[float, float, str]], turns: Any) -> float | None:
    try:
        sys.path.insert(0, str(ROOT / "bench"))
        from bench_accuracy import der
    except ImportError:  # pyannote.metrics is a bench extra
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return der(truth, [(t.start, t.end, t.cluster) for t in turns])


class _Stages:
    """Timers on the three models (segmenters of every thread count, CAM++, ECAPA)."""

    def __init__(self, enc: Any, dia: Any) -> None:
        self.dia, self.ecapa = _Timed(dia, "embed"), _Timed(enc, "embed")
        self._segs: dict[int, _Timed] = {}

    def seg(self, segmenter: Any) -> None:
        if id(segmenter) not in self._segs:
            self._segs[id(segmenter)] = _Timed(segmenter, "run")

    def reset(self) -> None:
        for t in (self.dia, self.ecapa, *self._segs.values()):
            t.seconds = t.audio = 0.0

    @property
    def segmentation(self) -> float:
        return sum(t.seconds for t in self._segs.values())


def _one_run(x: np.ndarray, lib: dict[str, Any], s: Settings, stages: _Stages) -> dict[str, float]:
    """One identify() of ``x`` under ``s``: wall, CPU and per-stage seconds."""
    with applied(s) as seg:
        stages.seg(seg)
        stages.reset()
        t0, c0 = time.perf_counter(), time.process_time()
        r = identify(Audio(x[None]), lib, segmenter=seg)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "wall": wall, "cpu": cpu, "seg": stages.segmentation, "campp": stages.dia.seconds,
        "campp_audio": stages.dia.audio, "ecapa": stages.ecapa.seconds,
        "rest": wall - stages.segmentation - stages.dia.seconds - stages.ecapa.seconds,
        "speakers": float(r.num_speakers), "turns": float(len(r.turns)),
        "load": os.getloadavg()[0], "result": r,  # type: ignore[dict-item]
    }


OVERLAP = " (segmentation overlaps CAM++: stage times add up to more than the wall)"


def compare(x: np.ndarray, truth: list, lib: dict[str, Any], repeats: int, stages: _Stages,
            old: Settings = OLD) -> None:
    """Old (``old``) and new settings, interleaved ABBA..., medians and the ratio."""
    dur = x.shape[0] / H.SR
    per_h = 3600 / dur
    print(f"old: {old.label()}\nnew: {NEW.label()}")
    runs: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    order = []
    for i in range(repeats):
        order += ["old", "new"] if i % 2 == 0 else ["new", "old"]
    for name in order:
        r = _one_run(x, lib, old if name == "old" else NEW, stages)
        d = _der(truth, r["result"].turns)  # type: ignore[attr-defined]
        r["der"] = float("nan") if d is None else d
        runs[name].append(r)
        print(
            f"  {name}: {r['wall'] * per_h:5.1f} s per hour (CPU {r['cpu'] * per_h:5.1f} s): "
            f"segmentation {r['seg'] * per_h:4.1f}, CAM++ {r['campp'] * per_h:4.1f} "
            f"({r['campp_audio'] * per_h:.0f} s of audio), ECAPA {r['ecapa'] * per_h:4.1f}, "
            f"rest {r['rest'] * per_h:4.1f}{OVERLAP if name == 'new' and NEW.ahead else ''}; "
            f"DER {r['der']:.3f}, {int(r['speakers'])} speakers; "
            f"load {r['load']:.2f}", flush=True,
        )
    med = {k: {f: float(np.median([r[f] for r in v])) for f in
               ("wall", "cpu", "seg", "campp", "ecapa", "rest", "der", "load")}
           for k, v in runs.items()}
    for k in ("old", "new"):
        m = med[k]
        print(f"median {k}: {m['wall'] * per_h:.1f} s per hour of audio (CPU {m['cpu'] * per_h:.1f} s; "
              f"segmentation {m['seg'] * per_h:.1f}, CAM++ {m['campp'] * per_h:.1f}, "
              f"ECAPA {m['ecapa'] * per_h:.1f}, rest {m['rest'] * per_h:.1f}"
              f"{OVERLAP if k == 'new' and NEW.ahead else ''}); DER {m['der']:.3f}; "
              f"load {m['load']:.2f}")
    print(f"ratio old/new (median wall): {med['old']['wall'] / med['new']['wall']:.2f}x; "
          f"CPU: {med['old']['cpu'] / med['new']['cpu']:.2f}x")


def sweep(x: np.ndarray, truth: list, enc: Any, dia: Any, steps: list[float],
          embeds: list[float], devset: str | None) -> None:
    """The DER/work trade-off table of chunk step x CAM++ window length.

    Model outputs are memoised per window (bench_decisions._Cached), so settings that
    share a chunk step share its segmentation; the table gives the work each setting
    asks of the models per hour of audio (segmented chunks, seconds of audio through
    CAM++), which does not depend on the load; ``--compare`` times the chosen one.
    """
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_decisions import _Cached, der25, devset_convs, frame_scores

    enc_c, dia_c = _Cached(enc, "embed"), _Cached(dia, "embed")
    t_dia = _Timed(dia_c, "embed")
    libs = {
        name: Voiceprint(enc.embed(H.clip(spk, "enroll")[None])[0], enc.model_id)
        for name, spk in (("alice", "A"), ("bob", "B"))
    }
    convs = devset_convs(enc_c, devset, 6, 0) if devset else []
    audio = x.shape[0] / H.SR + sum(c.samples.shape[0] for c in convs) / H.SR
    print(f"tiled recording {x.shape[0] / H.SR / 60:.0f} min; dev set: {len(convs)} "
          f"conversations ({sum(c.samples.shape[0] for c in convs) / H.SR:.0f} s); work is per "
          f"hour of all that audio")
    print(f"{'step s':>6s} {'CAM++ s':>7s} {'chunks/h':>8s} {'CAM++ audio s/h':>15s} "
          f"{'DER tiled':>9s} {'dev DER25 %':>11s} {'right %':>7s} {'stranger %':>10s}")
    segs: dict[float, Any] = {}
    for st in steps:
        for em in embeds:
            s = Settings(st, em, NEW.seg_threads, NEW.gate)
            with applied(s) as seg0:
                seg = segs.setdefault(st, _Cached(seg0, "run"))
                cached_run = seg.run
                t_seg = _Timed(seg, "run")
                t_dia.seconds = t_dia.audio = 0.0
                r = identify(Audio(x[None]), libs, encoder=enc_c, diarization_encoder=dia_c,
                             segmenter=seg)
                d = _der(truth, r.turns)
                tot = np.zeros(4)
                ders = []
                for c in convs:
                    rc = identify(Audio(c.samples[None]), c.library, encoder=enc_c,
                                  diarization_encoder=dia_c, segmenter=seg)
                    tot += frame_scores(c, rc.turns)
                    ders.append(der25(c, rc.turns))
            chunks = t_seg.audio / 10.0  # _Timed counts x.size / SR: 10 s per chunk row
            seg.run = cached_run  # drop this setting's timer
            print(f"{st:6g} {em:7g} {chunks * 3600 / audio:8.0f} {t_dia.audio * 3600 / audio:15.0f} "
                  f"{d if d is not None else float('nan'):9.3f} "
                  f"{100 * float(np.mean(ders)) if ders else float('nan'):11.1f} "
                  f"{100 * tot[0] / max(tot[1], 1e-9):7.1f} {100 * tot[2] / max(tot[3], 1e-9):10.1f}",
                  flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--naive-minutes", type=float, default=2.0)
    ap.add_argument("--ecapa-minutes", type=float, default=10.0)
    ap.add_argument("--compare", type=int, default=0, metavar="N",
                    help="run the old and the new settings N times each, interleaved")
    ap.add_argument("--baseline", choices=("issue15", "issue11"), default="issue15",
                    help="what --compare calls old: the settings before issue 15's speed "
                         "work, or today's without issue 11's accuracy work")
    ap.add_argument("--sweep", action="store_true",
                    help="DER/time table of chunk step x CAM++ window length")
    ap.add_argument("--steps", default="7.5,8,8.5,9")
    ap.add_argument("--embeds", default="3,2.5,2,1.5")
    ap.add_argument("--devset", choices=("full", "mini", "none"), default="full",
                    help="dev set scored by --sweep")
    args = ap.parse_args()

    enc = default_encoder()
    dia = default_diarization_encoder()
    seg = default_segmenter()
    lib = {
        name: Voiceprint(enc.embed(H.clip(spk, "enroll")[None])[0], enc.model_id)
        for name, spk in (("alice", "A"), ("bob", "B"))
    }
    x, truth = H.tiled_speech(args.minutes * 60, seed=1)
    dur = x.shape[0] / H.SR
    speech = sum(b - a for a, b, _ in truth)
    print(f"recording: {dur / 60:.1f} min, {speech / 60:.1f} min of speech (tiled real speech)")
    print(f"cpu cores visible: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}")
    old = OLD if args.baseline == "issue15" else BEFORE_ISSUE11
    for s in (old, NEW):  # warm-up: model loads are not timed
        with applied(s) as sg:
            identify(Audio(x[None, : 20 * H.SR]), lib, segmenter=sg)
    stages = _Stages(enc, dia)
    if args.sweep:
        sweep(x, truth, enc, dia, [float(v) for v in args.steps.split(",")],
              [float(v) for v in args.embeds.split(",")],
              None if args.devset == "none" else args.devset)
        return
    if args.compare:
        compare(x, truth, lib, args.compare, stages, old)
        return

    stages.seg(seg)
    stages.reset()
    t0, c0 = time.perf_counter(), time.process_time()
    r = identify(Audio(x[None]), lib, segmenter=seg)
    dt, ct = time.perf_counter() - t0, time.process_time() - c0
    t_seg, t_dia, t_ecapa = stages.segmentation, stages.dia, stages.ecapa
    per_h = 3600 / dur
    print(
        f"identify: {dt:.1f} s wall ({ct:.1f} s CPU) for {dur:.0f} s -> RTF {dt / dur:.4f} "
        f"({dt * per_h:.0f} s per hour of audio); {r.num_speakers} speakers "
        f"(truth {len({s for _, _, s in truth})}), {len(r.turns)} turns"
    )
    other = dt - t_seg - t_dia.seconds - t_ecapa.seconds
    print(
        f"  where the time goes: segmentation {t_seg:.1f} s, CAM++ {t_dia.seconds:.1f} s "
        f"({t_dia.audio:.0f} s of audio, {t_dia.seconds / max(t_dia.audio, 1e-9):.3f} s/s), "
        f"ECAPA {t_ecapa.seconds:.1f} s ({t_ecapa.audio:.0f} s of audio, "
        f"{t_ecapa.seconds / max(t_ecapa.audio, 1e-9):.3f} s/s), the rest {other:.1f} s"
    )
    d = _der(truth, r.turns)
    if d is not None:
        print(f"  DER against the tiling's truth (collar 0, overlap scored): {d:.3f}")

    if args.ecapa_minutes > 0:
        n = int(min(args.ecapa_minutes * 60, dur) * H.SR)
        t0 = time.perf_counter()
        r1 = identify(Audio(x[None, :n]), lib, diarization_encoder=enc)
        e_dt = (time.perf_counter() - t0) / (n / H.SR)
        sub = [(a, min(b, n / H.SR), s) for a, b, s in truth if a < n / H.SR]
        d1, d2 = _der(sub, r1.turns), _der(sub, identify(Audio(x[None, :n]), lib).turns)
        ders = f"; DER {d1:.3f} (CAM++ path on the same minutes: {d2:.3f})" if d1 is not None else ""
        print(
            f"single-model path (ECAPA for clustering too), first {n / H.SR / 60:.1f} min: "
            f"RTF {e_dt:.4f} ({e_dt * 3600:.0f} s per hour){ders}"
        )

    # naive: one encoder call per 1.5 s window over all speech of the first minutes
    win = int(1.5 * H.SR)
    limit = args.naive_minutes * 60
    windows = []
    for a, b, _ in truth:
        if a >= limit:
            break
        s, e = int(a * H.SR), int(min(b, limit) * H.SR)
        for w0 in range(s, e - win + 1, win):
            windows.append(x[w0 : w0 + win])
    t0, c0 = time.perf_counter(), time.process_time()
    for w in windows:
        enc.embed(w[None])
    nt = time.perf_counter() - t0
    covered = min(limit, dur)
    # extrapolate per second of speech (the naive cost follows speech, not duration)
    naive_total = nt / max(len(windows) * 1.5, 1e-9) * speech
    naive_rtf = naive_total / dur
    print(
        f"naive (one ECAPA call per 1.5 s speech window, {len(windows)} windows over the "
        f"first {covered / 60:.1f} min): {nt:.1f} s; extrapolated to all {speech:.0f} s of "
        f"speech: {naive_total:.0f} s -> RTF {naive_rtf:.4f} ({naive_rtf * 3600:.0f} s per hour)"
    )
    print(f"ratio naive / identify: {naive_rtf / (dt / dur):.1f}x")


if __name__ == "__main__":
    main()
