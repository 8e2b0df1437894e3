"""engine.heavy_imports: one lock, the collector paused, errors passed through."""

from __future__ import annotations

import gc
import sys
import threading
import types

import pytest

from engine import heavy_imports


def test_imports_what_is_missing_with_the_collector_paused(monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path) -> None:
    (tmp_path / "vp_probe_heavy.py").write_text(
        "import gc\nCOLLECTOR_ON = gc.isenabled()\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "vp_probe_heavy", raising=False)
    assert gc.isenabled()
    heavy_imports.load("json", "vp_probe_heavy")
    assert sys.modules["vp_probe_heavy"].COLLECTOR_ON is False  # paused during the import
    assert gc.isenabled()  # and running again after


def test_a_failed_import_raises_and_the_collector_runs_again() -> None:
    with pytest.raises(ImportError):
        heavy_imports.load("vp_no_such_module_anywhere")
    assert gc.isenabled()


def test_two_threads_never_import_at_once(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    (tmp_path / "vp_probe_slow.py").write_text(
        f"import sys, time\nT = sys.modules[{__name__!r}]\n"
        "T.inside.append(1)\nT.peak.append(len(T.inside))\ntime.sleep(0.2)\nT.inside.pop()\n",
        encoding="utf-8",
    )
    (tmp_path / "vp_probe_slow2.py").write_text(
        (tmp_path / "vp_probe_slow.py").read_text(), encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for m in ("vp_probe_slow", "vp_probe_slow2"):
        monkeypatch.delitem(sys.modules, m, raising=False)
    threads = [threading.Thread(target=heavy_imports.load, args=(m,))
               for m in ("vp_probe_slow", "vp_probe_slow2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == [1, 1]


def test_an_imported_module_is_not_imported_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vp_fake_loaded", types.ModuleType("vp_fake_loaded"))
    heavy_imports.load("vp_fake_loaded")  # no ImportError: it is already there


inside: list[int] = []
peak: list[int] = []
