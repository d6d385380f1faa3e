"""The one import rule: engine never imports Qt or crowdgui; annotating needs no torch."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BLOCKER = textwrap.dedent(
    """
    import importlib.abc, sys
    BLOCKED = set(sys.argv[1].split(","))
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"blocked import of {name}")
    sys.meta_path.insert(0, Block())
    """
)


def _run(code: str, blocked: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(code), blocked],
                          capture_output=True, text=True, timeout=120)


def test_engine_imports_without_qt_or_crowdgui():
    result = _run(
        """
        import pkgutil, importlib, engine
        for info in pkgutil.walk_packages(engine.__path__, "engine."):
            importlib.import_module(info.name)
        print("ok")
        """,
        "PySide6,pyqtgraph,crowdgui,PyQt5,PyQt6",
    )
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_annotation_parts_of_engine_do_not_import_torch():
    # Every submodule, not just the packages: a torch import in one importer would slow the window's start.
    result = _run(
        """
        import pkgutil, importlib, engine.dataset, engine.density, engine.cli
        names = [info.name for info in pkgutil.walk_packages(engine.dataset.__path__, "engine.dataset.")]
        for name in names:
            importlib.import_module(name)
        print(len(names), "ok")
        """,
        "torch,torchvision",
    )
    assert result.returncode == 0, result.stderr
    count = int(result.stdout.split()[0])
    assert count >= 10  # the walk really found the formats, importers, sidecar, store, ...


def test_import_contracts_hold():
    # The rooms' order and the no-Qt / no-torch rules, as import-linter contracts in pyproject.toml.
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_blocker_really_blocks():
    # Guards the two tests above: if the blocker stopped working they would pass vacuously.
    result = _run("import torch", "torch")
    assert result.returncode != 0 and "blocked import of torch" in result.stderr
