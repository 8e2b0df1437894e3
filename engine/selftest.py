"""The tiny real engine round trip behind ``voiceprint-studio --self-test``.

It proves an installed (or frozen) app can decode audio, find speech, embed it,
round-trip a voiceprint blob, compare, and identify, with the weights that ship
in the packages. The clip is the real two-speaker recording shipped for tests
when present (``engine/data`` in a build, ``tests/data`` in a source tree),
otherwise a synthetic voiced signal.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import lfilter

from engine.errors import VPError
from engine.jobs import CancelToken, ProgressFn, no_progress

SAMPLE_NAMES = ("selftest.wav", "pyannote_sample.wav")
# 14 s from 6 s on: the shipped sample is silent before ~6.5 s; within the 30 s voiceprint
# limit, long enough for both of its speakers' turns, short enough to identify quickly
CLIP_START_S = 6.0
CLIP_SECONDS = 14.0


def find_sample() -> Path | None:
    """A real speech clip shipped with the app or the source tree, or None."""
    here = Path(__file__).resolve().parent
    for folder in (here / "data", here.parent / "tests" / "data"):
        for name in SAMPLE_NAMES:
            if (folder / name).is_file():
                return folder / name
    return None


def synthetic_voice(seconds: float = 8.0, rate: int = 16000, seed: int = 0) -> np.ndarray:
    """A voiced-speech-like signal: glottal pulse train through moving formants, with pauses.

    float32 ``(n,)`` at ``rate`` Hz, peak about 0.5. Used only when no real clip exists.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    src = np.sign(np.sin(phase)) * 0.3 + 0.02 * rng.standard_normal(n)
    out = np.zeros(n)
    for fc, bw in ((700, 130), (1220, 70), (2600, 160)):
        r = np.exp(-np.pi * bw / rate)
        a1, a2 = -2 * r * np.cos(2 * np.pi * fc / rate), r * r
        y = lfilter([1.0], [1.0, a1, a2], src)
        out += y / np.max(np.abs(y))
    envelope = (np.sin(2 * np.pi * 0.5 * t) > -0.3).astype(float)  # syllable-ish pauses
    x = out * envelope
    return (0.5 * x / max(np.max(np.abs(x)), 1e-9)).astype(np.float32)





def run(progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> dict[str, Any]:
    """Run every step; never raises (except ``Cancelled``). Returns a JSON-ready summary:

    ``{"ok": bool, "sample": str, "steps": [{"name", "ok", "seconds", "detail"|"error"}]}``.
    """
    cancel = cancel or CancelToken()
    steps: list[dict[str, Any]] = []
    state: dict[str, Any] = {}

    def step(name: str, fn: Callable[[], str]) -> None:
        cancel.check()
        t0 = time.perf_counter()
        entry: dict[str, Any] = {"name": name}
        try:
            entry["detail"] = fn()
            entry["ok"] = True
        except VPError as exc:
            entry["ok"] = False
            entry["error"] = exc.to_dict()
        except Exception as exc:  # the summary must say what broke, not crash
            entry["ok"] = False
            entry["error"] = {"type": "internal.error", "message": f"{type(exc).__name__}: {exc}",
                              "traceback": traceback.format_exc(limit=4)}
        entry["seconds"] = round(time.perf_counter() - t0, 3)
        steps.append(entry)
        progress(len(steps) / 6, f"self-test: {name}")

    def load() -> str:
        from engine.audio import VOICEPRINT_LIMITS, load_audio

        sample = find_sample()
        if sample is not None:
            full = load_audio(str(sample))
            a = int(CLIP_START_S * 16000) if full.duration > CLIP_START_S + CLIP_SECONDS else 0
            x = full.mono()[a : a + int(CLIP_SECONDS * 16000)]
            state["sample"] = str(sample)
        else:
            x = synthetic_voice()
            state["sample"] = "synthetic"
        state["audio"] = load_audio(np.array(x), limits=VOICEPRINT_LIMITS, sample_rate=16000)
        return f"{state['audio'].duration:.1f} s from {Path(state['sample']).name}"

    def vad() -> str:
        from engine.vad import speech_regions

        regions = speech_regions(state["audio"].mono())
        speech = sum(r.duration for r in regions)
        if state["sample"] != "synthetic" and speech <= 1.0:
            raise VPError(f"VAD found only {speech:.2f} s of speech in a real speech clip.")
        return f"{len(regions)} regions, {speech:.1f} s of speech"

    def embed() -> str:
        from engine.encoder import default_encoder

        enc = default_encoder()
        x = state["audio"].mono()
        win = 24000
        windows = np.stack([x[i : i + win] for i in range(0, x.size - win + 1, win)][:4])
        e = enc.embed(windows)
        norms = np.linalg.norm(e, axis=1)
        if e.shape != (windows.shape[0], enc.dim) or not np.allclose(norms, 1.0, atol=1e-3):
            raise VPError(f"embeddings look wrong: shape {e.shape}, norms {norms}")
        return f"{e.shape[0]} windows -> {enc.dim}-d ({enc.model_id})"

    def voiceprint() -> str:
        from engine.enroll import extract_voiceprint
        from engine.voiceprint import Voiceprint

        res = extract_voiceprint(state["audio"])
        vp = res.voiceprint
        back = Voiceprint.from_bytes(vp.to_bytes())
        if back != vp or Voiceprint.from_base64(vp.to_base64()) != vp:
            raise VPError("voiceprint blob round trip changed the voiceprint")
        state["voiceprint"] = vp
        return f"{res.quality.net_speech_s:.1f} s net speech, verdict {res.quality.verdict}"

    def compare() -> str:
        from engine.compare import compare as cmp

        r = cmp([state["voiceprint"]], [state["voiceprint"]])
        score = float(np.asarray(r.score)[0, 0])
        if not float(np.asarray(r.cosine)[0, 0]) > 0.999:
            raise VPError(f"a voiceprint compared with itself gave cosine {r.cosine}")
        return f"self score {score:.1f}"

    def identify() -> str:
        from engine.identify import identify as ident

        res = ident(state["audio"], {"selftest": state["voiceprint"]}, cancel=cancel)
        if not res.turns:
            raise VPError("identification found no turns")
        speakers = sorted({t.speaker for t in res.turns})
        return f"{len(res.turns)} turns, speakers {speakers}; diarization model: {_diarizer()}"

    step("audio", load)
    if "audio" in state:
        step("vad", vad)
        step("embed", embed)
        step("voiceprint", voiceprint)
        if "voiceprint" in state:
            step("compare", compare)
            step("identify", identify)
    ok = len(steps) == 6 and all(s["ok"] for s in steps)
    return {"ok": ok, "sample": state.get("sample"), "steps": steps}


def _diarizer() -> str:
    """Which diarization encoder identification used (for support: ONNX or the slower
    PyTorch fallback, or ECAPA when CAM++ is not installed)."""
    from engine.errors import ModelUnavailable

    try:
        from engine.campp import default_diarization_encoder

        return f"CAM++ ({default_diarization_encoder().backend})"
    except ModelUnavailable:
        return "ECAPA (CAM++ not installed)"


if __name__ == "__main__":  # pragma: no cover - manual use
    import json

    print(json.dumps(run(), indent=1))
