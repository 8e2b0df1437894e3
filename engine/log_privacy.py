"""Log records that hold no speaker names unless debug logging is on.

Speaker names are personal data and the log file outlives the session, so:

* messages that may carry a name (status lines, renames, enrollments) are logged at
  DEBUG, never at INFO or above (a rule for callers);
* exception messages may carry a name too (``"No speaker named 'Ada'"``), so
  :class:`PrivateFormatter` writes tracebacks with their frames (file, line, function)
  but without the exception's message unless debug logging is on.
"""

from __future__ import annotations

import logging
import traceback
from types import TracebackType
from typing import TypeAlias

_ExcInfo: TypeAlias = (
    "tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]"
)

WITHHELD = "(message withheld: it may name a speaker; run with --debug to log it)"


class PrivateFormatter(logging.Formatter):
    """A ``logging.Formatter`` that leaves exception messages out unless ``debug``."""

    def __init__(self, fmt: str | None = None, *, debug: bool = False) -> None:
        super().__init__(fmt)
        self.debug = debug

    def format(self, record: logging.LogRecord) -> str:
        # logging caches the formatted traceback on the record: another handler (the
        # console's, pytest's) may have put the full text there first, and ours must not
        # leak into theirs either
        cached = record.exc_text
        record.exc_text = None
        try:
            return super().format(record)
        finally:
            record.exc_text = cached

    def formatException(self, ei: _ExcInfo) -> str:  # noqa: N802  (logging's name)
        if self.debug or ei[0] is None:
            return super().formatException(ei)
        lines = ["Traceback (most recent call last):\n"]
        lines += traceback.format_list(traceback.extract_tb(ei[2]))
        lines.append(f"{ei[0].__module__}.{ei[0].__qualname__} {WITHHELD}")
        return "".join(lines)
