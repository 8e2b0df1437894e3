"""Speaker colours: the library's colour for enrolled speakers, a stable palette otherwise."""

from __future__ import annotations

import hashlib

from PySide6.QtGui import QColor

from engine.segments import is_unknown

# Okabe-Ito-like palette: distinguishable for common colour-vision deficiencies
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#7F3C8D", "#11A579", "#3969AC", "#F2B701", "#E73F74"]
UNKNOWN_PALETTE = ["#8C8C8C", "#A89F91", "#7A8B99", "#9C8AA5", "#8FA38A", "#B0A07A"]


def colour_for(label: str, library_colour: str | None = None) -> QColor:
    if library_colour:
        c = QColor(library_colour)
        if c.isValid():
            return c
    digest = int(hashlib.sha1(label.encode("utf-8")).hexdigest(), 16)
    if is_unknown(label):
        tail = label.rsplit("_", 1)[-1]
        i = int(tail) if tail.isdigit() else digest
        return QColor(UNKNOWN_PALETTE[i % len(UNKNOWN_PALETTE)])
    return QColor(PALETTE[digest % len(PALETTE)])
