"""The window loads the models on a worker as soon as it opens; closing meanwhile is clean."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _helpers_gui import FakeEngine, FakePrompts, wait_for  # noqa: E402

from gui.main_window import LOADING_MODELS, WARM_UP, MainWindow  # noqa: E402


def _warm_up_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(f"job-{WARM_UP}-")]


class _SlowWarmUp:
    """Loads "models" until released or cancelled."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.cancelled = False

    def __call__(self, progress, cancel) -> None:
        self.started.set()
        progress(0.2, "Loading models… (speaker model)")
        while not self.release.is_set():
            if cancel.cancelled:
                self.cancelled = True
            cancel.check()
            time.sleep(0.005)


def test_models_load_in_the_background_when_the_window_opens(qtbot) -> None:
    engine = FakeEngine()
    warm = _SlowWarmUp()
    engine.warm_up_fn = warm
    w = MainWindow(engine=engine, prompts=FakePrompts())
    qtbot.addWidget(w)
    w.show()
    assert warm.started.wait(5)
    assert w.bridge.busy and LOADING_MODELS in w.progress_bar.format()
    assert w.actions["enroll_selection"] is not None  # the window is usable meanwhile
    status = w.status_label.text()
    wait_for(qtbot, lambda: w.progress_bar.value() > 0)
    assert w.status_label.text() == status  # its messages stay in the progress bar
    warm.release.set()
    wait_for(qtbot, lambda: not w.bridge.busy)
    assert w.bridge.last[WARM_UP].state.value == "succeeded"
    assert not w.progress_bar.isVisible()


def test_closing_during_warm_up_cancels_it_and_leaves_no_thread(qtbot) -> None:
    engine = FakeEngine()
    warm = _SlowWarmUp()
    engine.warm_up_fn = warm
    w = MainWindow(engine=engine, prompts=FakePrompts())
    qtbot.addWidget(w)
    w.show()
    assert warm.started.wait(5) and _warm_up_threads()
    w.close()
    # joined by the close itself: no model is still loading when the interpreter exits
    assert not _warm_up_threads()
    assert warm.cancelled and not warm.release.is_set()


def test_cancel_button_stops_the_warm_up(qtbot) -> None:
    engine = FakeEngine()
    warm = _SlowWarmUp()
    engine.warm_up_fn = warm
    w = MainWindow(engine=engine, prompts=FakePrompts())
    qtbot.addWidget(w)
    w.show()
    assert warm.started.wait(5)
    w.cancel_jobs()
    wait_for(qtbot, lambda: not w.bridge.busy and not _warm_up_threads())
    assert w.bridge.last[WARM_UP].state.value == "canceled"
    assert "canceled" in w.status_label.text()


def test_a_failed_warm_up_is_reported_in_the_status_bar(qtbot) -> None:
    from engine.errors import ModelUnavailable

    engine = FakeEngine()

    def broken(progress, cancel) -> None:
        raise ModelUnavailable("The speaker model is missing.")

    engine.warm_up_fn = broken
    w = MainWindow(engine=engine, prompts=FakePrompts())
    qtbot.addWidget(w)
    # the warm-up starts from the event loop, so "not busy" can hold before it ran
    wait_for(qtbot, lambda: "warm-up" in w.bridge.last and not w.bridge.busy)
    assert "speaker model is missing" in w.status_label.text()
    assert w.prompts.errors == []  # no dialog at start-up: the first use reports it

