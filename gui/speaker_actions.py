"""The window's speaker work: enroll (file, selection, unknown cluster, recording) and
library upkeep (details, rename, delete, merge, import, export).

Nothing reaches the library by accident: the enroll dialog starts on a NEW speaker
with an empty name, adding to an existing speaker is its own choice, and a recording
that does not sound like that speaker (``engine.voice_match``) is shown with its score
and must be confirmed. Each enrollment keeps its quality report and a private copy of
its audio, so the details dialog can list, play and remove it.

A mixin of :class:`gui.main_window.MainWindow`: it uses the window's ``engine``,
``prompts``, ``review``, ``timeline``, ``library_panel`` and ``submit``. Voiceprint
extraction runs as a job; the quality report is shown and too little speech is
refused before anything is written to the library.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine.enroll import verdict_text
from engine.errors import VPError
from engine.segments import is_unknown
from gui.dialogs import format_quality
from gui.speaker_details import SpeakerDetailsDialog
from gui.wording import identify_hint

AUDIO_FILTER = ("Audio (*.wav *.flac *.ogg *.mp3 *.opus *.aiff *.aif *.m4a *.w64 *.caf);;"
                "All files (*)")


class SpeakerActions:
    """Enrollment and library actions (mixed into the main window)."""

    def enroll_from_file_dialog(self) -> None:
        path = self.prompts.open_file("Enroll a speaker from a recording", AUDIO_FILTER)
        if path:
            self.enroll_from_file(path)

    def enroll_from_file(self, path: str, name: str | None = None) -> int:
        engine = self.engine

        def job(progress: Any, cancel: Any) -> Any:
            progress(0.05, f"Reading {Path(path).name}…")
            audio = engine.load_audio(path, for_enrollment=True)
            return engine.extract_voiceprint(audio, progress=progress, cancel=cancel), audio

        return self.submit("enroll", job,
                           lambda r: self.finish_enroll(r[0], Path(path).name, default_name=name,
                                                        clip=r[1].mono()),
                           "Extracting a voiceprint")

    def enroll_recording(self, samples: Any, rate: int, source: str = "recording") -> int:
        """Enroll from recorded mono float samples at ``rate`` Hz (their first 30 s)."""
        engine = self.engine

        def job(progress: Any, cancel: Any) -> Any:
            audio = engine.audio_from_array(samples, rate, source)
            clip = engine.excerpt(audio, [(0.0, audio.duration)])
            return engine.extract_voiceprint(clip, progress=progress, cancel=cancel), clip

        return self.submit("enroll", job,
                           lambda r: self.finish_enroll(r[0], source, clip=r[1].mono()),
                           "Extracting a voiceprint from the recording")

    def enroll_spans(self, spans: Sequence[tuple[float, float]], *, default_name: str | None = None,
                     relabel: str | None = None) -> int | None:
        """Enroll from spans (seconds) of the current audio, at most 30 s of them."""
        if self.audio is None or not spans:
            self.show_message("Select a region (Shift+drag on the waveform) or a segment first.")
            return None
        engine, audio = self.engine, self.audio
        source = Path(self.audio_path).name if self.audio_path else "recording"

        def job(progress: Any, cancel: Any) -> Any:
            progress(0.02, "Cutting the speech…")
            clip = engine.excerpt(audio, spans)
            return engine.extract_voiceprint(clip, progress=progress, cancel=cancel), clip

        return self.submit(
            "enroll", job,
            lambda r: self.finish_enroll(r[0], source, default_name=default_name,
                                         relabel=relabel, clip=r[1].mono()),
            "Extracting a voiceprint",
        )

    def enroll_from_selection(self) -> int | None:
        region = self.timeline.selection()
        if region is not None:
            spans = [region]
        elif self.review is not None and self.selected:
            spans = [(self.review.turns[i].start, self.review.turns[i].end) for i in self.selected]
        else:
            spans = []
        default = None
        if self.review is not None and self.selected:
            lab = self.review.turns[self.selected[0]].speaker
            if not is_unknown(lab):
                default = self.name_of(lab)
        return self.enroll_spans(spans, default_name=default)

    def enroll_unknown(self, label: str | None = None) -> int | None:
        """Enroll an unknown (or newly named) speaker from all of their turns."""
        label = label or self._selected_unknown_label()
        if label is None or self.review is None:
            self.show_message("Select a turn of an unknown speaker first.")
            return None
        spans = [(t.start, t.end) for t in self.review.turns if t.speaker == label]
        default = self.review.names.get(label)
        return self.enroll_spans(spans, default_name=default, relabel=label)

    def finish_enroll(self, enrollment: Any, source: str, *, default_name: str | None = None,
                      relabel: str | None = None, clip: Any = None) -> Any:
        """Show the quality report, ask new speaker or existing one, check that an existing
        one's voice matches, add to the library (main thread).

        ``default_name``: a new speaker's suggested name; when it is an existing speaker's
        name, that speaker is only preselected under "Add to existing". ``clip``: the
        audio (16 kHz mono) the voiceprint came from, kept with the enrollment.
        """
        report = enrollment.quality
        text = format_quality(report)
        if str(report.verdict) == "too-short":
            msg = (f"Too little speech to enroll: {float(report.net_speech_s):.1f} s found, "
                   f"at least {float(report.min_speech_s):.1f} s are needed. Select a longer "
                   "stretch of this speaker alone.")
            self.show_message(msg)
            self.prompts.error("Not enough speech", msg + "\n\n" + text)
            return None
        known = self._speaker_named(default_name or "")
        choice = self.prompts.ask_enroll(
            text, list(self.speakers), new_name="" if known else (default_name or ""),
            existing_id=None if known is None else int(known.id))
        if choice is None:
            self.show_message("Enrollment canceled.")
            return None
        try:
            if choice.speaker_id is not None:
                if not self._same_voice_or_confirmed(int(choice.speaker_id), enrollment.voiceprint):
                    self.show_message("Enrollment canceled: nothing was added.")
                    return None
                target: Any = int(choice.speaker_id)
            else:
                taken = self._speaker_named(choice.name)
                if taken is not None:  # the dialog prevents it; a name typed in a fake may not
                    msg = (f"{taken.name} is already in the library. Choose \"Add to an "
                           "existing speaker\" to add this recording to them.")
                    self.show_message(msg)
                    self.prompts.error("Enrollment failed", msg)
                    return None
                target = choice.name
            info = self.engine.library.enroll(target, enrollment.voiceprint,
                                              float(report.net_speech_s), source,
                                              quality=report, clip=clip)
        except VPError as exc:
            self.show_message(exc.message)
            self.prompts.error("Enrollment failed", exc.message)
            return None
        self.refresh_library()
        self.library_panel.select_id(int(info.id))
        if relabel is not None and self.review is not None:
            rows = self.review.turns_of(relabel)
            if rows:
                self.push_edit(self.review.relabel(rows, str(info.id),
                                                   scores=self.scores_for(enrollment.voiceprint)))
        self.show_message(f"Enrolled {info.name} ({float(report.net_speech_s):.1f} s of speech; "
                          f"{verdict_text(report)}). {identify_hint(self.review is not None)}")
        return info

    def _speaker_named(self, name: str) -> Any | None:
        key = name.strip().casefold()
        return next((s for s in self.speakers if str(s.name).casefold() == key), None) if key \
            else None

    def _same_voice_or_confirmed(self, speaker_id: int, voiceprint: Any) -> bool:
        """True when the voiceprint matches the speaker, or the user adds it anyway."""
        from engine.voice_match import speaker_match

        match = speaker_match(self.engine.library, speaker_id, voiceprint)
        if match is None or match.matches:
            return True
        return bool(self.prompts.confirm(
            "A different voice?",
            f"{match.message()}\n\nAdding it would blend two voices into {match.speaker}'s "
            "voiceprint and make both harder to recognise. Add it anyway?"))

    # ================================================================ library
    def refresh_library(self) -> None:
        try:
            self.speakers = list(self.engine.library.list_speakers())
        except VPError as exc:
            self.speakers = []
            self.show_message(exc.message)
        self._speaker_index = {str(s.id): s for s in self.speakers}
        self.library_panel.set_speakers(self.speakers)
        if self.review is not None:
            self.refresh_review()
        self._update_actions()
        self.libraryChanged.emit()

    def _library_call(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            out = fn()
        except VPError as exc:
            self.show_message(exc.message)
            self.prompts.error(what, exc.message)
            return None
        self.refresh_library()
        return out

    def rename_speaker(self) -> None:
        ids = self.library_panel.selected_ids()
        if len(ids) != 1:
            return
        info = self._speaker_index[str(ids[0])]
        name = self.prompts.ask_text("Rename speaker", "New name:", str(info.name))
        if name and name != info.name:
            self._library_call("Rename", lambda: self.engine.library.rename(int(info.id), name))

    def delete_speaker(self) -> None:
        ids = self.library_panel.selected_ids()
        if not ids:
            return
        names = ", ".join(str(self._speaker_index[str(i)].name) for i in ids)
        if not self.prompts.confirm("Delete speakers",
                                    f"Delete {names} and all their voiceprints? This cannot be undone."):
            return
        self._library_call("Delete", lambda: [self.engine.library.delete_speaker(i) for i in ids])

    def merge_speakers(self) -> None:
        ids = self.library_panel.selected_ids()
        if len(ids) != 2:
            self.show_message("Select exactly two speakers to merge.")
            return
        a, b = (self._speaker_index[str(i)] for i in ids)
        keep = self.prompts.ask_choice("Merge speakers", "Keep the name:", [str(a.name), str(b.name)])
        if keep is None:
            return
        into, frm = (a, b) if keep == str(a.name) else (b, a)
        self._library_call("Merge", lambda: self.engine.library.merge(int(into.id), int(frm.id)))

    def import_library_dialog(self) -> None:
        path = self.prompts.open_file("Import speakers", "Voiceprint library (*.json)")
        if not path:
            return
        choice = self.prompts.ask_choice(
            "Import speakers", "When a name already exists:",
            ["skip it", "import under a new name", "merge into the existing speaker"])
        if choice is None:
            return
        mode = {"skip it": "skip", "import under a new name": "rename"}.get(choice, "merge")
        self.import_library(path, mode)

    def import_library(self, path: str, on_conflict: str = "skip") -> int:
        lib = self.engine.library

        def job(progress: Any, cancel: Any) -> Any:
            return lib.import_json(path, on_conflict, progress=progress, cancel=cancel)

        def done(report: Any) -> None:
            self.refresh_library()
            self.show_message(f"Imported {len(report.added)} new speakers, merged "
                              f"{len(report.merged)}, skipped {len(report.skipped)}.")

        return self.submit("library", job, done, "Importing speakers")

    def export_library_dialog(self) -> None:
        """Export EVERY speaker (a selection in the list does not narrow it)."""
        path = self.prompts.save_file("Export library", "Voiceprint library (*.json)",
                                      "voiceprints.json")
        if path:
            self.export_library(path)

    def export_selected_dialog(self) -> None:
        ids = self.library_panel.selected_ids()
        if not ids:
            self.show_message("Select the speakers to export first.")
            return
        n = len(ids)
        path = self.prompts.save_file(f"Export {n} selected speaker{'' if n == 1 else 's'}",
                                      "Voiceprint library (*.json)", "voiceprints.json")
        if path:
            self.export_library(path, ids)

    def export_library(self, path: str, ids: Sequence[int] | None = None) -> int:
        """Write the speakers ``ids`` (None: all of them) to ``path``; says how many."""
        lib = self.engine.library
        chosen = None if ids is None else list(ids)

        def done(n: int) -> None:
            what = "" if chosen is None else "selected "
            self.show_message(f"Exported {n} {what}speaker{'' if n == 1 else 's'} to {path}.")

        return self.submit("library", lambda p, c: lib.export_json(path, chosen), done,
                           "Exporting speakers")

    # ================================================================ details, context menu
    def _build_library_actions(self) -> None:
        """The library's own actions and the list's context menu (called by the window)."""
        self._act("speaker_details", "Speaker &details…", self.show_speaker_details, None,
                  "Each enrollment of the speaker: source, date, speech, quality; play or "
                  "remove one")
        self._act("export_selected", "Export &selected speakers…", self.export_selected_dialog,
                  None, "Export only the speakers selected in the library list")

    def _install_library_menu(self) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtGui import QAction

        lst = self.library_panel.list
        lst.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        for key in ("speaker_details", "rename", "delete_speaker", "merge_speakers", None,
                    "export_selected"):
            if key is None:
                sep = QAction(lst)
                sep.setSeparator(True)
                lst.addAction(sep)
            else:
                lst.addAction(self.actions[key])

    def _update_library_actions(self) -> None:
        n = len(self.library_panel.selected_ids())
        self.actions["speaker_details"].setEnabled(n == 1)
        self.actions["export_selected"].setEnabled(n >= 1)

    def show_speaker_details(self, speaker_id: int | None = None) -> SpeakerDetailsDialog | None:
        if speaker_id is None:
            ids = self.library_panel.selected_ids()
            if len(ids) != 1:
                self.show_message("Select one speaker to see their details.")
                return None
            speaker_id = ids[0]
        dlg = SpeakerDetailsDialog(self.engine.library, int(speaker_id), self.prompts, self)
        dlg.changed.connect(self.refresh_library)
        self.details_dialog = dlg
        dlg.open()
        return dlg

    def _on_speaker_activated(self, speaker_id: int) -> None:
        if self.review is None:
            return
        rows = self.review.turns_of(str(speaker_id))
        if rows:
            self.select_turns(rows)

