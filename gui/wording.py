"""Counts and summaries in the words the window shows ("1 speaker", "2 speakers")."""

from __future__ import annotations

from collections.abc import Sequence

from engine.segments import is_unknown


def plural(n: int, word: str, many: str | None = None) -> str:
    """``"1 turn"``, ``"2 turns"``, ``"0 turns"`` (``many``: an irregular plural)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def result_summary(num_turns: int, labels: Sequence[str]) -> str:
    """``"12 turns, 2 speakers (1 unknown)"``."""
    n_unknown = sum(1 for lab in labels if is_unknown(lab))
    out = f"{plural(num_turns, 'turn')}, {plural(len(labels), 'speaker')}"
    return out + (f" ({n_unknown} unknown)" if n_unknown else "")


def identify_hint(has_run: bool) -> str:
    """How to use a new speaker: "Run Identify again" only once it has run."""
    return "Run Identify (Ctrl+R) again to use it." if has_run else \
        "Press Identify (Ctrl+R) to find them in the recording."
