"""engine/ never imports the GUI or Qt (napari-style import contract).

Two checks: a static scan of every engine module's import statements (fails
the moment someone writes ``import PySide6`` in engine/), and a runtime check
that importing every engine module in a fresh interpreter loads no Qt module.
``make test`` also runs import-linter with the contract in pyproject.toml.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[1] / "engine"
FORBIDDEN = ("gui", "PySide6", "pyqtgraph", "shiboken6", "PyQt5", "PyQt6", "qtpy")


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def forbidden_imports(root: Path = ENGINE) -> list[str]:
    bad = []
    for path in sorted(root.rglob("*.py")):
        for lineno, name in _imported_modules(path):
            if name.split(".")[0] in FORBIDDEN:
                bad.append(f"{path.relative_to(root.parent)}:{lineno}: import {name}")
    return bad


def test_engine_source_imports_no_qt() -> None:
    assert forbidden_imports() == []


def test_scanner_catches_a_qt_import(tmp_path: Path) -> None:
    pkg = tmp_path / "engine"
    pkg.mkdir()
    (pkg / "ok.py").write_text("import numpy\n")
    (pkg / "bad.py").write_text("def f():\n    from PySide6 import QtCore\n")
    (pkg / "bad2.py").write_text("import gui.main_window\n")
    assert len(forbidden_imports(pkg)) == 2


def test_importing_the_engine_loads_no_qt() -> None:
    modules = sorted(
        "engine." + p.stem for p in ENGINE.glob("*.py") if p.stem not in ("__init__", "__main__")
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
