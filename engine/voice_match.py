"""Does a new recording sound like the speaker it is about to be added to?

Adding the wrong person's recording to a speaker silently blends two voices into one
voiceprint, and every later identification of either person suffers. So before an
enrollment is added to an existing speaker, its voiceprint is scored against the
speaker's current voiceprint on the same 0-100 scale and threshold as identification
(:mod:`engine.calibration`): the GUI warns below it, ``vpstudio enroll`` refuses.

Measured with the real ECAPA encoder on tests/data: two different people
(``calib_forever.ogg`` vs ``calib_chan3.ogg``) score 1.5; halves of one recording of
one person score 93-98, and the two stretches of the pyannote sample's speaker90
(3.8 s and 2.8 s) score 89.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.calibration import DEFAULT_THRESHOLD, cosine_to_score
from engine.errors import ModelMismatch, NotFound, VoiceMismatch

if TYPE_CHECKING:
    from engine.library import Library
    from engine.voiceprint import Voiceprint


@dataclass(frozen=True)
class VoiceMatch:
    """How well a new voiceprint matches a speaker's voiceprint.

    Attributes:
        speaker: the speaker's name ("" when compared with a bare voiceprint).
        cosine: cosine similarity of the two unit voiceprints (-1..1).
        score: calibrated 0-100 score of ``cosine``.
        threshold: the 0-100 score at or above which it counts as the same person.
    """

    speaker: str
    cosine: float
    score: float
    threshold: float

    @property
    def matches(self) -> bool:
        """True when the score reaches the threshold."""
        return self.score >= self.threshold

    def message(self) -> str:
        """One sentence for a person: the score, the threshold, what it means."""
        who = repr(self.speaker) if self.speaker else "this speaker"
        if self.matches:
            return f"This recording matches {who} (score {self.score:.0f} of 100)."
        return (
            f"This recording does not sound like {who}: score {self.score:.0f} of 100, "
            f"below the threshold of {self.threshold:.0f}. It may be another person."
        )

    def error(self) -> VoiceMismatch:
        """The typed error to raise when a mismatch must stop the enrollment."""
        return VoiceMismatch(
            self.message(),
            location="voiceprint",
            detail="voiceprint.speaker-mismatch",
            context={"speaker": self.speaker, "score": round(self.score, 1),
                     "threshold": self.threshold},
        )


def voice_match(
    reference: Voiceprint,
    candidate: Voiceprint,
    *,
    speaker: str = "",
    threshold: float = DEFAULT_THRESHOLD,
) -> VoiceMatch:
    """Score ``candidate`` against ``reference`` (both unit ``(dim,)`` float32, same model).

    Raises:
        ModelMismatch: the two come from different speaker models.
    """
    if reference.model_id != candidate.model_id or reference.dim != candidate.dim:
        raise ModelMismatch(
            f"This voiceprint was made by model {candidate.model_id!r}, the speaker's by "
            f"{reference.model_id!r}; they cannot be compared.",
            location="voiceprint",
            context={"expected_model_id": reference.model_id, "model_id": candidate.model_id},
        )
    cos = float(np.dot(reference.vector.astype(np.float64), candidate.vector.astype(np.float64)))
    return VoiceMatch(speaker, cos, float(cosine_to_score(cos)), float(threshold))


def speaker_match(
    library: Library,
    name_or_id: int | str,
    candidate: Voiceprint,
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> VoiceMatch | None:
    """Score ``candidate`` against an enrolled speaker's voiceprint.

    Returns None when there is nothing to compare with: ``name_or_id`` is a name not in
    the library (a new speaker) or a speaker with no enrollments yet.

    Raises:
        NotFound: ``name_or_id`` is an id (int) that does not exist.
        ModelMismatch: the speaker was enrolled with another speaker model.
    """
    try:
        info = library.find(name_or_id)
    except NotFound:
        if isinstance(name_or_id, str):
            return None
        raise
    if info.num_enrollments == 0:
        return None
    return voice_match(library.voiceprint(info.id), candidate, speaker=info.name,
                       threshold=threshold)
