"""The quality report text shown before an enrollment is accepted."""

from __future__ import annotations

from types import SimpleNamespace

from gui.dialogs import format_quality


def _report(snr_db: float | None) -> SimpleNamespace:
    return SimpleNamespace(
        net_speech_s=4.2, min_speech_s=3.0, voices_found=1, clipping_ratio=0.001,
        level_dbfs=-23.5, snr_db=snr_db, verdict="ok", messages=("Good enough.",),
    )


def test_quality_text_states_the_figures() -> None:
    text = format_quality(_report(18.25))
    assert "4.2 s" in text and "3.0 s needed" in text and "18.2 dB" in text
    assert text.startswith("Good: 4.2 s of speech") and text.endswith("Good enough.")
    assert "Verdict: ok" not in text  # issue 12: words, not code words


def test_quality_text_without_measurable_noise() -> None:
    # speech with no silence around it: the engine reports snr_db=None
    assert "not measurable" in format_quality(_report(None))
