"""engine.reference: reading a reference and scoring against it, checked against
pyannote.metrics run on the exported RTTM files (pyannote.database reads them)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from engine import formats
from engine.errors import ValidationError
from engine.reference import (
    BENCH_COLLAR_S,
    CHUNK_S,
    read_reference,
    score,
    speaker_mapping,
)
from engine.segments import Turn

DATA = Path(__file__).resolve().parent / "data"
TRUTH = DATA / "pyannote_sample.rttm"  # 30 s, speaker90 / speaker91, with overlap
DURATION = 30.0


def hypothesis() -> list[Turn]:
    """A plausible, imperfect hypothesis of the sample: the truth with other labels, the
    boundaries moved by 0.1-0.3 s, the first turn missed, one turn given to the wrong
    speaker, an extra unknown speaker over the last turn, and a channel mark (which
    scoring ignores)."""
    ref = formats.read(TRUTH)
    names = {"speaker90": "Alice", "speaker91": "Bob"}
    out = []
    for i, t in enumerate(ref[1:], 1):
        who = names[t.speaker]
        if i == 4:
            who = "Bob" if who == "Alice" else "Alice"
        out.append(Turn(round(t.start + 0.1 * (i % 3), 3), round(t.end - 0.3 * (i % 2), 3),
                        who, 70.0, f"SPEAKER_{i % 2:02d}", channel=0))
    out.append(Turn(29.2, 29.9, "UNKNOWN_00", 0.0, "SPEAKER_02"))
    return out


def pyannote_figures(ref_rttm: Path, hyp_rttm: Path, uem: tuple[float, float],
                     collar: float) -> dict[str, float]:
    from pyannote.core import Segment, Timeline
    from pyannote.database.util import load_rttm
    from pyannote.metrics.diarization import DiarizationErrorRate

    (ref,) = load_rttm(ref_rttm).values()
    (hyp,) = load_rttm(hyp_rttm).values()
    return DiarizationErrorRate(collar=collar)(ref, hyp, uem=Timeline([Segment(*uem)]),
                                               detailed=True)


@pytest.mark.parametrize("chunk_s", [CHUNK_S, 2.5, 7.0])
@pytest.mark.parametrize("collar", [0.0, BENCH_COLLAR_S])
@pytest.mark.parametrize("span", [(0.0, DURATION), (5.0, 12.5), (18.1, 18.4)])
def test_scores_match_pyannote_on_the_exported_rttm(tmp_path: Path, collar: float,
                                                    span: tuple[float, float],
                                                    chunk_s: float) -> None:
    # chunk_s below the sample's length: scored piecewise, as a long recording is
    hyp = hypothesis()
    hyp_rttm = formats.write(hyp, tmp_path / "hyp.rttm", uri="sample")
    want = pyannote_figures(TRUTH, hyp_rttm, span, collar)
    got = score(read_reference(TRUTH), formats.read(hyp_rttm), start=span[0], end=span[1],
                collar=collar, chunk_s=chunk_s)
    assert (got.start, got.end, got.collar) == (span[0], span[1], collar)
    assert got.der == pytest.approx(want["diarization error rate"], abs=1e-9)
    assert got.missed == pytest.approx(want["missed detection"], abs=1e-9)
    assert got.false_alarm == pytest.approx(want["false alarm"], abs=1e-9)
    assert got.confusion == pytest.approx(want["confusion"], abs=1e-9)
    assert got.total == pytest.approx(want["total"], abs=1e-9)
    # the turns as the window holds them (not read back from RTTM) score the same
    assert score(read_reference(TRUTH), hyp, start=span[0], end=span[1],
                 collar=collar, chunk_s=chunk_s).der == pytest.approx(got.der, abs=1e-9)


def test_speaker_mapping_is_pyannotes(tmp_path: Path) -> None:
    from pyannote.database.util import load_rttm
    from pyannote.metrics.diarization import DiarizationErrorRate

    hyp = hypothesis()
    (ref,) = load_rttm(TRUTH).values()
    (h,) = load_rttm(formats.write(hyp, tmp_path / "h.rttm")).values()
    want = {r: x for x, r in DiarizationErrorRate().optimal_mapping(ref, h).items()}
    assert speaker_mapping(read_reference(TRUTH), hyp) == want == {
        "speaker90": "Alice", "speaker91": "Bob"}
    assert score(read_reference(TRUTH), hyp, chunk_s=4.0).mapping == (
        ("speaker90", "Alice"), ("speaker91", "Bob"))


def test_whole_file_figures_are_not_trivial() -> None:
    s = score(read_reference(TRUTH), hypothesis(), end=DURATION)
    # every kind of error is there, so a mix-up of the components would show
    assert s.missed > 0.4 and s.false_alarm > 0.2 and s.confusion > 1.0
    assert 0.05 < s.der < 0.5
    assert s.der == pytest.approx((s.missed + s.false_alarm + s.confusion) / s.total)


def test_a_hand_computed_case() -> None:
    ref = [Turn(0, 10, "A"), Turn(10, 20, "B")]
    # X->A, Y->B: 9-10 s is Y where the reference says A (1 s confusion), 20-21 s is a
    # false alarm, 19.5-20 s is missed
    hyp = [Turn(0, 9, "X"), Turn(9, 19.5, "Y"), Turn(20, 21, "Z")]
    s = score(ref, hyp, end=21.0)
    assert (s.total, s.missed, s.false_alarm, s.confusion) == pytest.approx((20, 0.5, 1, 1))
    assert s.der == pytest.approx(2.5 / 20)
    assert s.rate(s.confusion) == pytest.approx(0.05)
    # the range 0-9.5 s: X->A is all there is, 0.5 s confusion out of 9.5 s
    r = score(ref, hyp, start=0, end=9.5)
    assert (r.total, r.confusion, r.missed, r.false_alarm) == pytest.approx((9.5, 0.5, 0, 0))
    # nothing to score: zeros, not a division by zero
    e = score(ref, hyp, start=5.0, end=5.0)
    assert (e.total, e.der) == (0.0, 0.0)


def test_read_reference_from_each_annotation_format(tmp_path: Path) -> None:
    ref = read_reference(TRUTH)
    assert ref.fmt == "rttm" and ref.labels == ("speaker90", "speaker91")
    assert len(ref.turns) == 10 and ref.end == pytest.approx(30.0)
    for suffix in (".eaf", ".TextGrid"):
        p = formats.write(list(ref.turns), tmp_path / f"truth{suffix}")
        other = read_reference(p)
        assert other.fmt == formats.format_for(p)
        assert [(round(t.start, 3), round(t.end, 3), t.speaker) for t in other.turns] == [
            (round(t.start, 3), round(t.end, 3), t.speaker) for t in ref.turns]
        assert score(other, list(ref.turns), end=DURATION).der == 0.0


def test_bad_references_and_ranges(tmp_path: Path) -> None:
    empty = tmp_path / "empty.rttm"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ValidationError) as e:
        read_reference(empty)
    assert e.value.detail == "reference.empty"
    with pytest.raises(ValidationError):
        read_reference(tmp_path / "missing.eaf")
    with pytest.raises(ValidationError):
        score([Turn(0, 1, "A")], [], start=2.0, end=1.0)
    with pytest.raises(ValidationError):
        score([Turn(0, 1, "A")], [], collar=-0.1)
    hyp = [dataclasses.replace(t) for t in hypothesis()]
    assert score(read_reference(TRUTH), hyp).end == pytest.approx(30.0)  # default: last end
