"""Fixtures shared by the window tests: a fake sound device and a window on the fake engine."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _helpers_gui import FakeEngine, FakePrompts, FakeSoundDevice  # noqa: E402


@pytest.fixture
def fake_sd(monkeypatch: pytest.MonkeyPatch) -> FakeSoundDevice:
    """A sound device without input, in place of the real ``sounddevice`` module."""
    sd = FakeSoundDevice(with_input=False)
    monkeypatch.setitem(sys.modules, "sounddevice", sd)
    return sd


@pytest.fixture
def win(qtbot, fake_sd):
    """A shown main window on the fake engine with scripted prompts (a test module may
    define its own ``win``)."""
    from gui.main_window import MainWindow

    w = MainWindow(engine=FakeEngine(), prompts=FakePrompts())
    qtbot.addWidget(w)
    w.show()
    return w
