"""Shared fixtures. GUI tests run offscreen; every test makes its own data under tmp_path."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# One thread keeps tiny CPU training tests fast and stable on a shared 2-core machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402

# Test modules skipped whole at collection (a missing dependency, a module-level skip): each one hides all
# of its tests, so the run fails instead of passing quietly without them.
_skipped_modules: list[str] = []


def pytest_collectreport(report):
    if report.skipped and report.nodeid.endswith(".py"):
        _skipped_modules.append(f"{report.nodeid}: {report.longrepr[-1] if report.longrepr else 'skipped'}")


def pytest_sessionfinish(session, exitstatus):
    if _skipped_modules and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    for line in _skipped_modules:
        terminalreporter.write_line(f"FAILED (test module skipped whole) {line}", red=True)


@pytest.fixture
def synthetic_dataset(tmp_path):
    """A folder of 6 small annotated synthetic cell images (128x128)."""
    from engine.dataset.synthetic import write_synthetic_dataset

    return write_synthetic_dataset(tmp_path / "cells", images=6, size=(128, 128), counts=(10, 40), seed=1)
