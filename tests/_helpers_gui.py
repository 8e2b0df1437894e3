"""GUI test helpers: a fake engine (real audio + real SQLite library, fake models),
prompts that answer without dialogs, a fake ``sounddevice`` module, and waits."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.segments import ScoreTrack, Turn
from gui.engine_facade import Engine

MODEL = "fake-model@1"
DIM = 16


@dataclass(frozen=True)
class FakeQuality:
    net_speech_s: float
    voices_found: int = 1
    clipping_ratio: float = 0.0
    level_dbfs: float = -20.0
    snr_db: float = 30.0
    verdict: str = "ok"
    min_speech_s: float = 3.0
    messages: tuple[str, ...] = ()

    @property
    def verdict_text(self) -> str:
        from engine.enroll import verdict_text

        return verdict_text(self)  # type: ignore[arg-type]


@dataclass(frozen=True)
class FakeEnrollment:
    voiceprint: Any
    quality: FakeQuality


@dataclass(frozen=True)
class FakeResult:
    turns: tuple[Turn, ...]
    confidence: ScoreTrack
    speaker_curves: ScoreTrack | None = None
    speaker_ids: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()
    duration: float = 0.0


def fake_voiceprint(seed: int) -> Any:
    from engine.voiceprint import Voiceprint

    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return Voiceprint(vector=v / np.linalg.norm(v), model_id=MODEL)


def make_result(duration: float, labels: list[str], *, step: float = 0.02) -> FakeResult:
    """Alternating turns of ``labels`` every 2 s; cluster ``SPEAKER_k`` per label."""
    turns = []
    t, k = 0.0, 0
    while t + 1.5 <= duration:
        lab = labels[k % len(labels)]
        turns.append(Turn(t, t + 1.5, lab, 80.0 if not lab.startswith("UNKNOWN") else 0.0,
                          f"SPEAKER_{labels.index(lab):02d}"))
        t += 2.0
        k += 1
    n = int(duration / step)
    conf = ScoreTrack(0.0, step, (50 + 40 * np.sin(np.arange(n) * 0.01)).astype(np.float32))
    return FakeResult(tuple(turns), conf, duration=duration)


class FakeEngine(Engine):
    """Real audio decoding and a real library in ``VPSTUDIO_HOME``; fake models.

    ``identify_fn(audio, voiceprints, cancel, progress)`` and ``extract_fn(audio)``
    can be replaced per test.
    """

    def __init__(self) -> None:
        super().__init__()
        self.identify_calls: list[dict[str, Any]] = []
        self.identify_fn: Callable[..., Any] = self._default_identify
        self.extract_fn: Callable[[Any], Any] = self._default_extract
        self.extracted: list[Any] = []
        self.warm_up_fn: Callable[[Any, Any], None] = lambda progress, cancel: None

    @property
    def default_threshold(self) -> float:
        return 55.0

    def _default_identify(self, audio: Any, vps: dict[str, Any], cancel: Any, progress: Any) -> Any:
        ids = sorted(vps)[:1]
        return make_result(audio.duration, [*ids, "UNKNOWN_00"])

    def _default_extract(self, audio: Any) -> Any:
        secs = float(audio.duration)
        verdict = "ok" if secs >= 3.0 else "too-short"
        self.extracted.append(audio)
        return FakeEnrollment(fake_voiceprint(len(self.extracted)), FakeQuality(secs, verdict=verdict))

    def identify(self, audio, voiceprints, *, num_speakers=None, threshold=None,
                 channel_mode="mix", channels=None, progress=None, cancel=None):
        self.identify_calls.append({"num_speakers": num_speakers, "threshold": threshold,
                                    "voiceprints": dict(voiceprints),
                                    "channel_mode": channel_mode, "channels": channels})
        return self.identify_fn(audio, voiceprints, cancel, progress)

    def extract_voiceprint(self, audio, progress=None, cancel=None):
        return self.extract_fn(audio)

    def warm_up(self, progress=None, cancel=None):
        return self.warm_up_fn(progress, cancel)

    def write_result(self, result, path, fmt, *, uri=None):
        import json

        with open(path, "w", encoding="utf-8") as f:
            json.dump({"fmt": fmt, "uri": uri,
                       "turns": [[t.start, t.end, t.speaker] for t in result.turns]}, f)


@dataclass
class FakePrompts:
    """Answers dialogs from queues; records what was shown."""

    texts: list[str | None] = field(default_factory=list)
    choices: list[str | None] = field(default_factory=list)
    files: list[str | None] = field(default_factory=list)
    confirm_answer: bool = True
    errors: list[tuple[str, str]] = field(default_factory=list)
    infos: list[tuple[str, str]] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)
    unsaved: list[str] = field(default_factory=list)  # answers to Save / Discard / Cancel
    unsaved_asked: list[str] = field(default_factory=list)
    enroll_choices: list[Any] = field(default_factory=list)
    enroll_asks: list[dict[str, Any]] = field(default_factory=list)
    confirms: list[tuple[str, str]] = field(default_factory=list)

    def open_file(self, title: str, filters: str) -> str | None:
        return self.files.pop(0) if self.files else None

    def save_file(self, title: str, filters: str, default: str = "") -> str | None:
        return self.files.pop(0) if self.files else None

    def ask_text(self, title: str, label: str, text: str = "", choices=()) -> str | None:
        self.asked.append(label)
        return self.texts.pop(0) if self.texts else None

    def ask_enroll(self, report_text: str, speakers, new_name: str = "",
                   existing_id: int | None = None) -> Any:
        """The next of ``enroll_choices`` (an EnrollChoice or None), else a NEW speaker
        named by the next of ``texts``; records what the dialog would have started with."""
        from gui.enroll_dialog import EnrollChoice

        self.asked.append(report_text)
        self.enroll_asks.append({"new_name": new_name, "existing_id": existing_id,
                                 "names": [str(s.name) for s in speakers]})
        if self.enroll_choices:
            return self.enroll_choices.pop(0)
        name = self.texts.pop(0) if self.texts else None
        return EnrollChoice(name) if name else None

    def ask_choice(self, title: str, label: str, choices) -> str | None:
        return self.choices.pop(0) if self.choices else None

    def confirm(self, title: str, text: str) -> bool:
        self.confirms.append((title, text))
        return self.confirm_answer

    def ask_unsaved(self, title: str, text: str) -> str:
        self.unsaved_asked.append(text)
        return self.unsaved.pop(0) if self.unsaved else "discard"

    def info(self, title: str, text: str) -> None:
        self.infos.append((title, text))

    def error(self, title: str, text: str) -> None:
        self.errors.append((title, text))


class FakeSoundDevice:
    """Stands in for the ``sounddevice`` module: one input device whose stream calls
    the callback from its own thread with a 440 Hz tone (peak ``amplitude``)."""

    class PortAudioError(Exception):
        pass

    class CallbackStop(Exception):
        pass

    class _Default:
        device = (0, 1)

    default = _Default()

    def __init__(self, rate: int = 48000, amplitude: float = 0.5, with_input: bool = True) -> None:
        self.rate = rate
        self.amplitude = amplitude
        self.with_input = with_input
        self.streams: list[Any] = []
        self.out_streams: list[Any] = []
        outer = self

        class InputStream:
            def __init__(self, device=None, channels=1, samplerate=None, dtype="float32",
                         callback=None, **kw) -> None:
                self.callback = callback
                self.samplerate = int(samplerate or outer.rate)
                self.active = False
                self._thread: threading.Thread | None = None
                self.frames_sent = 0
                outer.streams.append(self)

            def _run(self) -> None:
                block = self.samplerate // 100
                while self.active:
                    n0 = self.frames_sent
                    t = (np.arange(block) + n0) / self.samplerate
                    data = (outer.amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
                    self.callback(data.reshape(-1, 1), block, None, None)
                    self.frames_sent += block
                    time.sleep(0.002)

            def start(self) -> None:
                self.active = True
                self._thread = threading.Thread(target=self._run, daemon=True)
                self._thread.start()

            def stop(self) -> None:
                self.active = False
                if self._thread is not None:
                    self._thread.join()

            def close(self) -> None:
                self.active = False

        self.InputStream = InputStream

    def query_devices(self) -> list[dict[str, Any]]:
        devs = [{"name": "Fake speakers", "max_input_channels": 0, "max_output_channels": 2,
                 "default_samplerate": float(self.rate)}]
        if self.with_input:
            devs.insert(0, {"name": "Fake microphone", "max_input_channels": 1,
                            "max_output_channels": 0, "default_samplerate": float(self.rate)})
        return devs

    def OutputStream(self, samplerate=16000, channels=1, dtype="float32",  # noqa: N802
                     callback=None, **kw: Any) -> Any:
        """A stream that pulls blocks from ``callback`` on its own thread, 10x real time."""
        outer = self

        class _Out:
            def __init__(self) -> None:
                self.active = False
                self.played: list[np.ndarray] = []
                outer.out_streams.append(self)

            def _run(self) -> None:
                block = int(samplerate) // 100
                while self.active:
                    buf = np.zeros((block, channels), np.float32)
                    try:
                        callback(buf, block, None, None)
                    except outer.CallbackStop:
                        self.played.append(buf[:, 0].copy())
                        self.active = False
                        break
                    self.played.append(buf[:, 0].copy())
                    time.sleep(0.001)

            def start(self) -> None:
                self.active = True
                self._t = threading.Thread(target=self._run, daemon=True)
                self._t.start()

            def stop(self) -> None:
                self.active = False
                self._t.join()

            def close(self) -> None:
                self.active = False

        return _Out()


def wait_for(qtbot: Any, cond: Callable[[], bool], timeout: float = 15.0) -> None:
    qtbot.waitUntil(cond, timeout=int(timeout * 1000))
