"""The window's review session: never lose a correction.

A mixin of :class:`gui.main_window.MainWindow` holding: the unsaved-edits guard
(Save / Discard / Cancel before quitting, closing or opening another file; the
title bar's modified marker), saving and reopening sessions with what was on
screen (per-speaker curves, cluster scores, undo history), the autosave and the
offer to restore it, a new identification pushed on the undo stack (so Undo
brings back the previous result and its edits), and names re-decided when the
threshold moves.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.errors import VPError
from gui.autosave import Autosaver
from gui.review_model import Edit, ReviewError, ReviewModel
from gui.session_io import (
    edits_from_json,
    edits_to_json,
    result_from_json,
    result_to_json,
    write_private_json,
)
from gui.undo_commands import EditCommand, ResultCommand, ThresholdCommand
from gui.wording import plural, result_summary

SESSION_FILTER = "Voiceprint Studio session (*.vpsession.json *.json)"


class SessionActions:
    """Session safety (mixed into the main window)."""

    # ================================================================ set-up
    def _init_session_safety(self) -> None:
        """Call once the undo stack and the prompts exist."""
        self.autosaver = Autosaver(self._autosave_data, self)
        self.undo_stack.cleanChanged.connect(lambda clean: self.setWindowModified(not clean))
        self.undo_stack.indexChanged.connect(self._on_stack_changed)

    def _on_stack_changed(self, _index: int) -> None:
        if self.is_modified():
            self.autosaver.schedule()

    # ================================================================ unsaved edits
    def is_modified(self) -> bool:
        """True when the review on screen has changes no session file holds."""
        return self.review is not None and not self.undo_stack.isClean()

    def review_edits(self) -> list[Edit]:
        """The edits made to the result on screen, oldest first (up to the undo index)."""
        out: list[Edit] = []
        for i in range(self.undo_stack.index() - 1, -1, -1):
            cmd = self.undo_stack.command(i)
            if not isinstance(cmd, EditCommand):
                break  # a ResultCommand: older edits belong to the previous result
            out.append(cmd.edit)
        return out[::-1]

    def confirm_leave(self, doing: str) -> bool:
        """Ask Save / Discard / Cancel when there are unsaved edits; True: go ahead."""
        if not self.is_modified():
            return True
        name = Path(self.audio_path).name if self.audio_path else "the recording"
        answer = self.prompts.ask_unsaved(
            "Unsaved review",
            f"The review of {name} has changes that are not saved. Save them before {doing}?")
        if answer == "save":
            return self.save_session_dialog()
        if answer == "discard":
            self.undo_stack.setClean()
            self.autosaver.discard()
            return True
        return False

    # ================================================================ saving
    def session_data(self) -> dict[str, Any] | None:
        """The session as JSON-able data (None without a review)."""
        if self.review is None:
            return None
        data = self.review.to_session(self.audio_path)
        data["result"] = result_to_json(self.result)
        data["undo"] = edits_to_json(self.review_edits())
        return data

    def _autosave_data(self) -> dict[str, Any] | None:
        # a recording with no file cannot be reopened from the autosave: nothing to keep
        if not self.is_modified() or not self.audio_path:
            return None
        return self.session_data()

    def save_session_dialog(self) -> bool:
        if self.review is None:
            return False
        stem = Path(self.audio_path).stem if self.audio_path else "session"
        path = self.prompts.save_file("Save session", SESSION_FILTER, f"{stem}.vpsession.json")
        return self.save_session(path) if path else False

    def save_session(self, path: str) -> bool:
        if self.review is None:
            return False
        if self.audio_path is None and self.audio is not None:
            # a recording has no file: keep it next to the session so it can be reopened
            wav = str(Path(path).with_suffix("")) + ".wav"
            try:
                self.engine.save_wav(self.audio, wav)
                self.audio_path = wav
            except (VPError, OSError) as exc:
                self.show_message(f"Could not save the recording: {exc}")
        try:
            write_private_json(path, self.session_data())
        except OSError as exc:
            self.prompts.error("Save failed", str(exc))
            return False
        self.undo_stack.setClean()
        self.autosaver.discard()
        self.show_message(f"Session saved to {path}.")
        return True

    # ================================================================ reopening
    def open_session_dialog(self) -> None:
        path = self.prompts.open_file("Open session", SESSION_FILTER)
        if path:
            self.open_session(path)

    def open_session(self, path: str, *, restored: bool = False) -> bool:
        """Reopen a session (``restored``: the autosave of a run that ended unsaved)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            review, audio_path = ReviewModel.from_session(data)
            result = (result_from_json(data["result"], review.original, review.confidence,
                                       review.duration) if data.get("result") else None)
            edits = edits_from_json(data.get("undo"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            msg = str(exc) if isinstance(exc, ReviewError) else f"Cannot read the session file: {exc}"
            self.prompts.error("Cannot open session", msg)
            return False
        if not restored and not self.confirm_leave("opening the session"):
            return False
        pending = (review, result, edits, restored)
        if audio_path and audio_path == self.audio_path and self.audio is not None:
            self._finish_session(*pending)
            return True
        if not audio_path or not Path(audio_path).is_file():
            self.prompts.error("Cannot open session",
                               f"The session's audio file is missing: {audio_path}")
            return False
        self._pending_session = pending
        self.load_audio_file(audio_path)
        return True

    def _finish_session(self, review: ReviewModel, result: Any, edits: Sequence[Edit],
                        restored: bool) -> None:
        """Show a reopened session as it was: result, curves, then its edits replayed."""
        replay = list(edits) if edits and edits[-1].after == review.turns else []
        if replay:
            review.turns = replay[0].before
            review.names = dict(replay[0].names_before)
            review.history = review.history[: max(0, len(review.history) - len(replay))]
        self._apply_review(review, result)
        for e in replay:
            self.push_edit(e)
        if restored:
            self.undo_stack.resetClean()  # still unsaved: it came from the autosave
            self.autosaver.schedule()
        else:
            self.undo_stack.setClean()
        what = "Restored the unsaved session" if restored else "Reopened the session"
        edits_txt = f", {plural(len(replay), 'edit')} (Undo with Ctrl+Z)" if replay else ""
        self.show_message(f"{what}: {result_summary(len(review.turns), review.labels())}"
                          f"{edits_txt}.")
        self.resultApplied.emit()

    def offer_restore(self) -> bool:
        """At start-up: offer the autosave a crashed or killed run left behind."""
        path = self.autosaver.pending()
        if path is None:
            return False
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            audio = str(data.get("audio") or "")
            n = len(data.get("turns", []))
        except (OSError, ValueError, AttributeError):
            self.autosaver.discard()
            return False
        if not self.prompts.confirm(
                "Restore unsaved review",
                f"The last session ended with unsaved review edits ({plural(n, 'turn')} of "
                f"{Path(audio).name or 'a recording'}). Restore them?"):
            self.autosaver.discard()
            return False
        return self.open_session(str(path), restored=True)

    # ================================================================ a new result
    def replace_result(self, review: ReviewModel, result: Any) -> None:
        """Show a new identification; the one on screen (and its edits) stays on Undo."""
        if self.review is None:
            self._apply_review(review, result)
        else:
            self.undo_stack.push(ResultCommand(self, (self.review, self.result), (review, result)))

    def confirm_identify_again(self) -> bool:
        edits = self.review_edits()
        if self.review is None or not edits:
            return True
        return self.prompts.confirm(
            "Identify again",
            f"Identify again? The new result replaces the names on screen and your "
            f"{plural(len(edits), 'edit')}; Undo (Ctrl+Z) brings them back.")

    # ================================================================ threshold
    def redecide_names(self, threshold: float) -> bool:
        """Re-name the clusters at ``threshold`` from the result's scores (no re-run).

        Turns a person relabelled keep their label; the change is one undo step
        (consecutive moves merge). Without per-cluster scores (an old session), says
        that a re-run is needed. True when names were re-decided.
        """
        if self.review is None or self.result is None:
            return False
        clusters = getattr(self.result, "clusters", ()) or ()
        if not any(c.matches for c in clusters):
            self.show_message(f"Threshold {threshold:.0f}: Run Identify again (Ctrl+R) to "
                              "re-decide the names (this result has no scores to reuse).")
            return False
        from engine.decide import decide

        new = decide(self.result, float(threshold))
        old_by = {c.label: c for c in clusters}
        new_by = {c.label: c for c in new.clusters}
        after = []
        for t in self.review.turns:
            o, n = old_by.get(t.cluster), new_by.get(t.cluster)
            if o is not None and n is not None and t.speaker == o.speaker:
                t = replace(t, speaker=n.speaker, score=n.score)
            after.append(t)
        changed = sum(a != b for a, b in zip(after, self.review.turns, strict=True))
        if not changed:
            self.result = new
        else:
            edit = self.review._edit(f"Threshold {threshold:.0f}", after)
            self.undo_stack.push(ThresholdCommand(self, edit, self.result, new))
        self.show_message(f"Threshold {threshold:.0f}: names re-decided from the scores "
                          f"({plural(changed, 'turn')} changed).")
        return True

    def label_scores(self, label: str) -> dict[str, float]:
        """Each cluster's score against enrolled speaker ``label``, from the result's
        matches (empty for an unknown or new label: a person's judgement has no score)."""
        out: dict[str, float] = {}
        for c in getattr(self.result, "clusters", ()) or ():
            for vid, score in c.matches:
                if str(vid) == label:
                    out[c.label] = float(score)
        return out

    def scores_for(self, voiceprint: Any) -> dict[str, float]:
        """Each cluster's score against a newly enrolled voiceprint (for its relabelled turns)."""
        if self.result is None or not getattr(self.result, "clusters", ()):
            return {}
        from engine.decide import score_clusters

        try:
            return score_clusters(self.result, voiceprint)
        except (AttributeError, TypeError, ValueError):
            return {}
