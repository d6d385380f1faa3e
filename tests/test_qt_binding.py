"""Guard against Qt bindings that corrupt the interpreter (PySide6 6.12.0 on Python 3.11 did)."""

import sys

from PySide6.QtWidgets import QLabel


def test_void_qt_calls_do_not_leak_references_to_none(qapp):
    label = QLabel()
    before = sys.getrefcount(None)
    for _ in range(2000):
        label.setText("x")
    # A binding that drops one reference per call would abort the app after ~10^5 calls.
    assert sys.getrefcount(None) - before > -100
