"""The engine work behind each job kind, as job functions ``fn(progress, cancel) -> JSON``.

Outputs use the project's JSON export names: an identification job's output is
:func:`engine.formats.to_json_dict` of the result (``identification``, ``diarization``,
``voiceprints``, ``confidence`` when asked), speakers by name. The model modules are
imported inside the functions, so building the app loads no model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from engine.jobs import CancelToken, ProgressFn
from engine.segments import is_unknown

DEEPAFFECTS_UNKNOWN = "UserNotIdentified"
LABEL_STYLES = ("pyannote", "deepaffects")


def apply_label_style(doc: dict[str, Any], style: str) -> dict[str, Any]:
    """``deepaffects``: every unknown speaker (``UNKNOWN_nn``) becomes ``UserNotIdentified``."""
    if style != "deepaffects":
        return doc
    for item in doc.get("identification", ()):
        if is_unknown(str(item.get("speaker", ""))):
            item["speaker"] = DEEPAFFECTS_UNKNOWN
    return doc


def identify_job(
    path: Path,
    voiceprints: Mapping[str, Any],
    *,
    options: dict[str, Any],
    confidence: bool,
    label_style: str,
    channel_mode: str = "mix",
    channels: Sequence[int] | None = None,
) -> Any:
    """A job identifying ``path`` against ``voiceprints`` (label -> Voiceprint)."""

    def run(progress: ProgressFn, cancel: CancelToken) -> dict[str, Any]:
        from engine import formats

        if channel_mode == "split":
            from engine.identify_channels import identify_channels

            result = identify_channels(str(path), voiceprints, channels=channels,
                                       progress=progress, cancel=cancel,
                                       confidence=confidence, **options)
        else:
            from engine.identify import identify

            result = identify(str(path), voiceprints, progress=progress, cancel=cancel,
                              confidence=confidence, **options)
        doc = formats.to_json_dict(result, confidence=confidence)
        return apply_label_style(doc, label_style)

    return run


def voiceprint_job(path: Path, *, channel_mode: Literal["mix", "split"], channels: Sequence[int] | None) -> Any:
    """A job extracting the voiceprint (one per channel with ``split``) of ``path``."""

    def run(progress: ProgressFn, cancel: CancelToken) -> dict[str, Any]:
        from engine.audio import VOICEPRINT_LIMITS, load_audio

        audio = load_audio(str(path), limits=VOICEPRINT_LIMITS, channel_mode=channel_mode,
                           channels=channels)
        cancel.check()
        items: list[dict[str, Any]] = []
        model_id: str | None = None
        if channel_mode == "split":
            from engine.enroll import extract_per_channel

            picked = list(channels) if channels is not None else list(range(audio.num_channels))
            results = extract_per_channel(audio, progress=progress, cancel=cancel)
            for ch, res in zip(picked, results, strict=False):
                model_id = res.voiceprint.model_id
                items.append({"channel": ch, "voiceprint": res.voiceprint.to_base64(),
                              "quality": res.quality.to_dict()})
        else:
            from engine.enroll import extract_voiceprint

            res = extract_voiceprint(audio, progress=progress, cancel=cancel)
            model_id = res.voiceprint.model_id
            items.append({"voiceprint": res.voiceprint.to_base64(),
                          "quality": res.quality.to_dict()})
        return {"voiceprints": items, "modelId": model_id}

    return run
