"""The window's annotation files: export to the new formats, Import annotation, and the
reference overlay (ref: lanes, DER for the whole file and the visible range) checked
against pyannote.metrics run on the window's exported RTTM."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _helpers_gui import FakeEngine, FakePrompts, fake_voiceprint, wait_for  # noqa: E402

from engine import formats  # noqa: E402
from engine.segments import Turn  # noqa: E402
from gui.engine_facade import Engine  # noqa: E402
from gui.main_window import MainWindow  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data"
SAMPLE = DATA / "pyannote_sample.wav"
TRUTH = DATA / "pyannote_sample.rttm"


@pytest.fixture
def win(qtbot, fake_sd, monkeypatch: pytest.MonkeyPatch) -> MainWindow:
    """The fake-engine window, writing real files, with the sample open."""
    from gui.main_window import MainWindow

    monkeypatch.setattr(FakeEngine, "write_result", Engine.write_result)
    w = MainWindow(engine=FakeEngine(), prompts=FakePrompts())
    qtbot.addWidget(w)
    w.show()
    w.open_path(SAMPLE)
    wait_for(qtbot, lambda: w.audio is not None)
    return w


def hypothesis() -> list[Turn]:
    """The truth with other names, moved boundaries, a missed turn, one turn given to a
    speaker the reference does not have (Dave: confusion) and an extra speaker over the
    last turn (Carol: false alarm), as another tool would have written it."""
    names = {"speaker90": "Alice", "speaker91": "Bob"}
    out = []
    for i, t in enumerate(formats.read(TRUTH)[1:], 1):
        who = names[t.speaker] if i != 4 else "Dave"
        out.append(Turn(round(t.start + 0.1 * (i % 3), 3), round(t.end - 0.3 * (i % 2), 3), who))
    return [*out, Turn(29.2, 29.9, "Carol")]


def pyannote_der(ref_rttm: Path, hyp_rttm: Path, span: tuple[float, float],
                 collar: float = 0.0) -> dict[str, float]:
    from pyannote.core import Segment, Timeline
    from pyannote.database.util import load_rttm
    from pyannote.metrics.diarization import DiarizationErrorRate

    (ref,) = load_rttm(ref_rttm).values()
    (hyp,) = load_rttm(hyp_rttm).values()
    return DiarizationErrorRate(collar=collar)(ref, hyp, uem=Timeline([Segment(*span)]),
                                               detailed=True)


def _plain(turns) -> list[tuple[float, float, str]]:
    return [(round(t.start, 3), round(t.end, 3), t.speaker) for t in turns]


@pytest.mark.parametrize("suffix", [".eaf", ".TextGrid", ".vtt", ".srt"])
def test_export_then_import_annotation_round_trips(qtbot, win: MainWindow, tmp_path: Path,
                                                   suffix: str) -> None:
    src = formats.write(hypothesis(), tmp_path / f"hyp{suffix}")
    assert win.actions["import_annotation"].isEnabled()
    win.prompts.files.append(str(src))
    win.import_annotation_dialog()
    assert win.review is not None and win.result is None
    assert _plain(win.review.turns) == _plain(sorted(hypothesis()))
    assert win.review.labels() == ["Alice", "Bob", "Carol", "Dave"]
    # relabel, export in the same format: the file says the new name
    win.select_turns([0])
    win.relabel_selected("Bob")
    out = tmp_path / f"out{suffix}"
    assert win.export_result(str(out))
    back = formats.read(out)
    assert back[0].speaker == "Bob" and _plain(back[1:]) == _plain(sorted(hypothesis())[1:])


def test_import_maps_enrolled_names_and_is_one_undo_step(qtbot, win: MainWindow,
                                                         tmp_path: Path) -> None:
    alice = win.engine.library.enroll("Alice", fake_voiceprint(1), 10.0, "a.wav")
    win.refresh_library()
    win.run_identify()
    wait_for(qtbot, lambda: win.review is not None and not win.bridge.busy)
    before = win.review.turns
    assert win.import_annotation(str(formats.write(hypothesis(), tmp_path / "h.eaf")))
    assert {t.speaker for t in win.review.turns} == {str(alice.id), "Bob", "Carol", "Dave"}
    assert win.name_of(str(alice.id)) == "Alice"
    assert win.undo_stack.undoText() == "Import annotation"
    win.undo_stack.undo()
    assert win.review.turns == before


def test_broken_annotation_shows_an_error(qtbot, win: MainWindow, tmp_path: Path) -> None:
    bad = tmp_path / "bad.eaf"
    bad.write_text("<nope", encoding="utf-8")
    assert not win.import_annotation(str(bad))
    assert not win.load_reference(str(bad))
    assert [t for t, _ in win.prompts.errors] == ["Cannot import the annotation",
                                                  "Cannot load the reference"]
    assert win.review is None and win.reference is None


def test_reference_overlay_lanes_and_scores(qtbot, win: MainWindow, tmp_path: Path) -> None:
    assert win.import_annotation(str(formats.write(hypothesis(), tmp_path / "h.TextGrid")))
    assert not win.actions["clear_reference"].isEnabled()
    win.prompts.files.append(str(TRUTH))
    win.load_reference_dialog()
    assert win.reference is not None and win.reference_dock.isVisible()
    wait_for(qtbot, lambda: win.reference_scores is not None)  # scored on workers
    assert win.actions["clear_reference"].isEnabled()

    # the lanes: the result's four speakers, then the reference's two, read-only
    tl = win.timeline
    ref = tl.ref_lanes
    hyp_labels = win.review.labels()
    assert ref.labels == ["speaker90", "speaker91"]
    assert ref.names == {"speaker90": "ref: speaker90", "speaker91": "ref: speaker91"}
    assert _plain(ref.turns) == _plain(formats.read(TRUTH))
    assert ref.pos().y() == len(hyp_labels) == 4
    ticks = tl.lanes_plot.getAxis("left")._tickLevels[0]
    assert [name for _, name in ticks] == ["Alice", "Bob", "Carol", "Dave", "ref: speaker90",
                                           "ref: speaker91"]
    assert tl.lanes_plot.vb.viewRange()[1] == pytest.approx([0, 6])
    # DER's mapping colours each reference lane like the result's speaker scored as it
    assert ref.colours["speaker90"] == win.colour_of("Alice")
    assert ref.colours["speaker91"] == win.colour_of("Bob")
    assert "Alice" in ref.why["speaker90"] and "pyannote_sample.rttm" in ref.why["speaker90"]
    assert ref.hit(10.0, 0.5) is None  # a click on the reference selects nothing
    assert win.timeline.lanes.hit(9.0, 0.5) is not None  # Alice, 8.32-9.72 s

    # the scores: pyannote.metrics on the exported RTTM gives the same figures
    hyp_rttm = tmp_path / "window.rttm"
    assert win.export_result(str(hyp_rttm))
    whole, visible = win.reference_scores
    want = pyannote_der(TRUTH, hyp_rttm, (0.0, 30.0))
    assert (whole.start, whole.end) == (0.0, pytest.approx(30.0, abs=0.01))
    assert whole.der == pytest.approx(want["diarization error rate"], abs=1e-6)
    assert whole.missed == pytest.approx(want["missed detection"], abs=1e-6)
    assert whole.false_alarm == pytest.approx(want["false alarm"], abs=1e-6)
    assert whole.confusion == pytest.approx(want["confusion"], abs=1e-6)
    assert whole.missed > 0 and whole.false_alarm > 0 and whole.confusion > 0
    assert visible.der == pytest.approx(whole.der)  # the whole file is in view
    shown = win.reference_panel.texts()
    assert shown[("DER", "Whole file")] == f"{100 * whole.der:.1f} %"
    assert shown[("Confusion", "Whole file")] == (
        f"{whole.confusion:.2f} s ({100 * whole.confusion / whole.total:.1f} %)")

    # zoom in: the visible range is scored again (after the debounce), the whole not
    tl.wave_plot.setXRange(5.0, 12.5, padding=0)
    wait_for(qtbot, lambda: win.reference_scores is not None
             and win.reference_scores[1].start == pytest.approx(5.0, abs=1e-6))
    whole2, vis = win.reference_scores
    assert "Scoring" not in win.status_label.text()  # the status line keeps the user's news
    assert whole2 is whole and vis.end == pytest.approx(12.5, abs=1e-6)
    want = pyannote_der(TRUTH, hyp_rttm, (vis.start, vis.end))
    assert vis.der == pytest.approx(want["diarization error rate"], abs=1e-6)
    assert vis.missed == pytest.approx(want["missed detection"], abs=1e-6)
    assert vis.confusion == pytest.approx(want["confusion"], abs=1e-6)
    assert vis.der != pytest.approx(whole.der)
    assert win.reference_panel.texts()[("DER", "Visible range")] == f"{100 * vis.der:.1f} %"
    assert "5.00–12.50 s" in win.reference_panel.range_label.text()

    # the collar of the benches
    win.reference_panel.collar.setCurrentIndex(1)
    wait_for(qtbot, lambda: win.reference_scores is not None
             and win.reference_scores[0].collar == 0.25)
    want = pyannote_der(TRUTH, hyp_rttm, (0.0, 30.0), collar=0.25)
    assert win.reference_scores[0].der == pytest.approx(want["diarization error rate"], abs=1e-6)
    win.reference_panel.collar.setCurrentIndex(0)

    # an edit is scored: give Dave's turn to its speaker
    wrong = next(i for i, t in enumerate(win.review.turns) if t.speaker == "Dave")
    win.select_turns([wrong])
    win.relabel_selected("Alice")
    wait_for(qtbot, lambda: win.reference_scores is not None
             and win.reference_scores[0].confusion < whole.confusion - 1.0)
    fixed = tmp_path / "fixed.rttm"
    assert win.export_result(str(fixed))
    want = pyannote_der(TRUTH, fixed, (0.0, 30.0))
    assert win.reference_scores[0].der == pytest.approx(want["diarization error rate"], abs=1e-6)

    win.clear_reference()
    assert win.reference is None and win.reference_scores is None
    assert ref.labels == [] and not tl.ref_separator.isVisible()
    assert [name for _, name in tl.lanes_plot.getAxis("left")._tickLevels[0]] == [
        "Alice", "Bob", "Carol"]  # Dave has no turn left


def test_reference_without_a_result_is_all_missed(qtbot, win: MainWindow) -> None:
    assert win.load_reference(str(TRUTH))
    wait_for(qtbot, lambda: win.reference_scores is not None)
    whole, _ = win.reference_scores
    assert whole.der == pytest.approx(1.0) and whole.missed == pytest.approx(whole.total)
    assert win.timeline.ref_lanes.pos().y() == 0
    # another recording: the reference of this one goes
    other = DATA / "arctic_slt_a0009.wav"
    win.open_path(other)
    wait_for(qtbot, lambda: win.audio_path == str(other))
    assert win.reference is None


def test_new_formats_are_in_the_export_dialog(win: MainWindow) -> None:
    from gui.main_window import EXPORT_EXT, EXPORT_FORMATS

    for fmt, suffix in (("eaf", ".eaf"), ("textgrid", ".textgrid"), ("vtt", ".vtt"),
                        ("srt", ".srt")):
        assert EXPORT_EXT[suffix] == fmt and fmt in EXPORT_FORMATS
    titles = [a.text() for a in win.menus["file"].actions()]
    assert "Import &annotation…" in titles and "Load re&ference…" in titles



def test_missing_scoring_dependency_is_said_plainly(qtbot, win: MainWindow,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # the frozen app leaves pandas out (packaging/voiceprint_studio.spec): pyannote.core
    # cannot be imported there
    import gui.reference_actions as ra

    def no_pandas(*a, **k):
        raise ImportError("No module named 'pandas'", name="pandas")

    monkeypatch.setattr(ra, "score", no_pandas)
    assert win.load_reference(str(TRUTH))
    wait_for(qtbot, lambda: "pandas" in win.status_label.text())
    assert "pyannote.metrics" in win.status_label.text()
    assert win.reference_scores is None
    # the reference is still drawn, in grey (no mapping to colour it by)
    assert win.timeline.ref_lanes.labels == ["speaker90", "speaker91"]
    assert win.timeline.ref_lanes.colours == {} and win.prompts.errors == []
