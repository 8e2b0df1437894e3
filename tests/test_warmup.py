"""engine.warmup loads the models in order, reports progress, and stops when cancelled."""

from __future__ import annotations

import pytest

from engine import warmup
from engine.errors import Cancelled
from engine.jobs import CancelToken


def test_steps_run_in_order_with_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []
    steps = tuple((name, lambda name=name: ran.append(name)) for name in ("a", "b", "c"))
    monkeypatch.setattr(warmup, "STEPS", steps)
    seen: list[tuple[float, str]] = []
    warmup.warm_up(lambda f, m="": seen.append((f, m)))
    assert ran == ["a", "b", "c"]
    assert [f for f, _ in seen] == pytest.approx([0, 1 / 3, 2 / 3, 1.0])
    assert "(b)" in seen[1][1]


def test_cancel_stops_between_models(monkeypatch: pytest.MonkeyPatch) -> None:
    token = CancelToken()
    ran: list[str] = []

    def first() -> None:
        ran.append("first")
        token.cancel()

    monkeypatch.setattr(warmup, "STEPS", (("first", first), ("second", lambda: ran.append("x"))))
    with pytest.raises(Cancelled):
        warmup.warm_up(cancel=token)
    assert ran == ["first"]


def test_every_step_is_a_model_of_the_pipeline() -> None:
    names = [name for name, _ in warmup.STEPS]
    assert names[0] == "speaker model"  # enrollment's model first
    assert {"voice activity model", "diarization model", "segmentation model"} <= set(names)
