"""The window's annotation files: import one as the result to review, or load one as a
reference to compare with.

A mixin of :class:`gui.main_window.MainWindow`:

- **Import annotation…** (File menu) reads turns from RTTM, ELAN ``.eaf``, Praat
  TextGrid, or any format the window exports (:func:`engine.formats.read`) and shows
  them as the result to review, for the recording that is open (a speaker whose name is
  an enrolled speaker's becomes that speaker). Replacing a result on screen is one undo
  step, like a new identification.
- **Load reference…** reads an annotation (:func:`engine.reference.read_reference`) and
  shows it as read-only "ref:" lanes under the speaker lanes, with DER, missed speech,
  false alarm and confusion (``pyannote.metrics``) for the whole file and for the
  visible range in the Reference dock. The scores follow every edit and every zoom or
  scroll (debounced). **Clear reference** removes it; opening another recording does too.

State for tests: ``reference`` (:class:`engine.reference.Reference` or None) and
``reference_scores`` (``(whole file, visible range)`` :class:`DiarizationScores`, or None).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QDockWidget

from engine.errors import VPError
from engine.reference import score
from gui.reference_view import ReferencePanel, lane_names, lane_tips
from gui.review_model import ReviewModel
from gui.wording import plural, result_summary

ANNOTATION_FILTER = ("Annotations (*.rttm *.eaf *.TextGrid *.textgrid *.json *.csv *.txt "
                     "*.vtt *.srt);;RTTM (*.rttm);;ELAN (*.eaf);;Praat TextGrid (*.TextGrid *.textgrid);;"
                     "All files (*)")
REFERENCE_FILTER = ("Reference annotation (*.rttm *.eaf *.TextGrid *.textgrid);;"
                    "All files (*)")
SCORE_DELAY_MS = 120
REFERENCE_FILE_JOB = "scoring"
REFERENCE_VIEW_JOB = "scoring view"


def _score(*args: Any, progress: Any, **kwargs: Any) -> Any:
    """:func:`engine.reference.score` as a job: its progress only in the progress bar
    (the status line keeps what the user did last: scoring follows every edit and
    scroll), a missing pyannote.metrics (or the pandas it needs) said plainly."""
    try:
        return score(*args, progress=lambda f, _m="": progress(f), **kwargs)
    except ImportError as exc:
        raise VPError(f"scoring needs pyannote.metrics and its dependencies, and this "
                      f"installation lacks one ({exc.name or exc}).",
                      type="internal.missing-dependency") from None


class ReferenceActions:
    """Import annotation, load / clear a reference, the scores (mixed into the window)."""

    # ================================================================ set-up
    def _init_reference(self) -> None:
        """Call once the menus and the timeline exist: adds the actions to the File menu,
        the Reference dock (and its View menu entry)."""
        self.reference: Any = None
        self.reference_scores: Any = None
        self._reference_audio: str | None = None
        self._whole_scores: Any = None
        self._visible_scores: Any = None
        self._visible_is_whole = False
        for key, text, slot, tip in (
            ("import_annotation", "Import &annotation…", self.import_annotation_dialog,
             "Review the turns of an RTTM, ELAN (.eaf) or Praat TextGrid file for this "
             "recording"),
            ("load_reference", "Load re&ference…", self.load_reference_dialog,
             "Compare the result with a reference annotation (RTTM, .eaf, TextGrid): "
             "ref: lanes and DER"),
            ("clear_reference", "C&lear reference", self.clear_reference,
             "Remove the reference lanes and scores"),
        ):
            self._act(key, text, slot, None, tip)
        file_menu = self.menus["file"]
        before = self.actions["quit"]
        for key in ("import_annotation", "load_reference", "clear_reference"):
            file_menu.insertAction(before, self.actions[key])
        file_menu.insertSeparator(before)

        self.reference_panel = ReferencePanel(self)
        self.reference_dock = QDockWidget("Reference", self)
        self.reference_dock.setObjectName("reference_dock")
        self.reference_dock.setWidget(self.reference_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.reference_dock)
        self.reference_dock.hide()
        self.menus["view"].addAction(self.reference_dock.toggleViewAction())

        self._range_timer = QTimer(self)
        self._range_timer.setSingleShot(True)
        self._range_timer.setInterval(SCORE_DELAY_MS)
        self._range_timer.timeout.connect(lambda: self.update_reference_scores(whole=False))
        self._whole_timer = QTimer(self)
        self._whole_timer.setSingleShot(True)
        self._whole_timer.setInterval(SCORE_DELAY_MS)
        self._whole_timer.timeout.connect(lambda: self.update_reference_scores(whole=True))
        self.timeline.wave_plot.sigXRangeChanged.connect(lambda *_: self._rescore(False))
        self.undo_stack.indexChanged.connect(lambda _i: self._rescore(True))
        self.resultApplied.connect(lambda: self._rescore(True))
        self.audioLoaded.connect(self._on_audio_for_reference)
        self.reference_panel.collar.currentIndexChanged.connect(lambda _i: self._rescore(True))
        self._update_reference_actions()

    def _update_reference_actions(self) -> None:
        has_audio = self.audio is not None
        self.actions["import_annotation"].setEnabled(has_audio)
        self.actions["load_reference"].setEnabled(has_audio)
        self.actions["clear_reference"].setEnabled(self.reference is not None)

    def _on_audio_for_reference(self) -> None:
        if self.reference is not None and self.audio_path != self._reference_audio:
            self.clear_reference()  # it was the truth of another recording
        self._update_reference_actions()

    # ================================================================ import
    def import_annotation_dialog(self) -> None:
        path = self.prompts.open_file("Import annotation", ANNOTATION_FILTER)
        if path:
            self.import_annotation(path)

    def import_annotation(self, path: str) -> bool:
        """Show the turns of the annotation file ``path`` as the result to review."""
        from engine import formats

        if self.audio is None:
            self.show_message("Open the recording first, then import its annotation.")
            return False
        try:
            turns = formats.read(path)
        except VPError as exc:
            self.prompts.error("Cannot import the annotation", exc.message)
            return False
        by_name = {str(s.name).lower(): str(s.id) for s in self.speakers}
        turns = [dataclasses.replace(t, speaker=by_name.get(t.speaker.lower(), t.speaker))
                 for t in turns]
        duration = float(self.audio.duration)
        late = sum(t.end > duration + 0.01 for t in turns)
        review = ReviewModel(turns, duration=duration)
        had = self.review is not None
        self.replace_result(review, None)
        if had:  # one undo step, named for what it did
            self.undo_stack.command(self.undo_stack.index() - 1).setText("Import annotation")
        note = (f" ({plural(late, 'turn')} end after the recording's {duration:.1f} s)"
                if late else "")
        self.show_message(f"Imported {Path(path).name}: "
                          f"{result_summary(len(review.turns), review.labels())}{note}.")
        self.resultApplied.emit()
        return True

    # ================================================================ reference
    def load_reference_dialog(self) -> None:
        path = self.prompts.open_file("Load reference", REFERENCE_FILTER)
        if path:
            self.load_reference(path)

    def load_reference(self, path: str) -> bool:
        """Read ``path`` as the reference of the open recording: lanes and scores."""
        from engine.reference import read_reference

        try:
            ref = read_reference(path)
        except VPError as exc:
            self.prompts.error("Cannot load the reference", exc.message)
            return False
        self.reference = ref
        self._reference_audio = self.audio_path
        labels = list(ref.labels)
        # the lanes at once (grey); coloured by the speaker mapping once scored
        self.timeline.set_reference(ref.turns, labels, lane_names(labels), {})
        self.timeline.ref_lanes.why = lane_tips(labels, {}, Path(ref.path).name)
        self.reference_dock.show()
        self.update_reference_scores(whole=True)
        self._update_reference_actions()
        self.show_message(f"Reference {Path(path).name}: "
                          f"{plural(len(ref.turns), 'turn')} of {plural(len(ref.labels), 'speaker')}.")
        return True

    def clear_reference(self) -> None:
        self.reference = None
        self.reference_scores = None
        self._whole_scores = self._visible_scores = None
        for kind in (REFERENCE_FILE_JOB, REFERENCE_VIEW_JOB):
            self.bridge.cancel_kind(kind)
        self.timeline.set_reference([], [], {}, {})
        self.reference_panel.clear()
        self._update_reference_actions()

    def _rescore(self, whole: bool) -> None:
        if self.reference is None:
            return
        (self._whole_timer if whole else self._range_timer).start()

    def visible_range(self) -> tuple[float, float]:
        """The time range in view (s), within the recording."""
        (x0, x1), _ = self.timeline.wave_plot.vb.viewRange()
        end = self._score_end()
        a = min(max(0.0, float(x0)), end)
        return a, min(max(a, float(x1)), end)

    def _score_end(self) -> float:
        if self.audio is not None:
            return float(self.audio.duration)
        ends = [t.end for t in (self.reference.turns if self.reference is not None else ())]
        return max(ends, default=0.0)

    def update_reference_scores(self, *, whole: bool = True) -> None:
        """Score the turns on screen against the reference on workers: ``whole``: the
        whole file (and the lanes' colours from its speaker mapping) and the visible
        range; else the visible range only. A newer request supersedes an older one."""
        if self.reference is None:
            return
        self._range_timer.stop()
        ref = self.reference
        hyp = tuple(self.review.turns) if self.review is not None else ()
        collar = self.reference_panel.collar_s()
        end = self._score_end()
        if whole or self._whole_scores is None:
            self._whole_timer.stop()
            self._whole_scores = None
            self.bridge.submit(
                REFERENCE_FILE_JOB,
                lambda progress, cancel: _score(ref, hyp, start=0.0, end=end, collar=collar,
                                                progress=progress, cancel=cancel),
                on_done=self._whole_scored, on_error=self._scoring_failed)
        a, b = self.visible_range()
        self._visible_scores = None
        self._visible_is_whole = a <= 0.0 and b >= end  # zoomed out: the same figures
        if self._visible_is_whole:
            self.bridge.cancel_kind(REFERENCE_VIEW_JOB)
            if self._whole_scores is not None:
                self._visible_scored(self._whole_scores)
            else:
                self.reference_panel.busy()
            return
        self.bridge.submit(
            REFERENCE_VIEW_JOB,
            lambda progress, cancel: _score(ref, hyp, start=a, end=b, collar=collar,
                                            progress=progress, cancel=cancel),
            on_done=self._visible_scored, on_error=self._scoring_failed)
        self.reference_panel.busy()

    def _whole_scored(self, s: Any) -> None:
        if self.reference is None:
            return
        self._whole_scores = s
        if self._visible_is_whole:
            self._visible_scores = s
        labels = list(self.reference.labels)
        mapped = dict(s.mapping)
        colours = {r: self.colour_of(h) for r, h in mapped.items()}
        shown = {r: self.name_of(h) for r, h in mapped.items()}
        self.timeline.set_reference(self.reference.turns, labels, lane_names(labels), colours)
        self.timeline.ref_lanes.why = lane_tips(labels, shown, Path(self.reference.path).name)
        self._show_scores()

    def _visible_scored(self, s: Any) -> None:
        self._visible_scores = s
        self._show_scores()

    def _scoring_failed(self, err: VPError) -> None:
        self.show_message(f"Could not score against the reference: {err.message}")

    def _show_scores(self) -> None:
        whole, visible = self._whole_scores, self._visible_scores
        if self.reference is None or whole is None or visible is None:
            return
        self.reference_scores = (whole, visible)
        self.reference_panel.show_scores(
            f"Reference: {Path(self.reference.path).name} ({self.reference.fmt}, "
            f"{plural(len(self.reference.labels), 'speaker')}) against the result on screen",
            whole, visible)
