"""Where to click next, with the chosen model: the next image to annotate (N) and missed objects (M).

    from crowdgui.hints import install
    hints = install(main_window)   # Image > Next Image to Annotate (N), View > Show Missed Objects (M)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QKeySequence

from crowdgui.hints.missed import MissedObjectsController
from crowdgui.hints.suggest import NextImageController


@dataclass
class Hints:
    next_image: NextImageController
    missed: MissedObjectsController


def install(window, chosen_checkpoint: Callable[[], Path | None] | None = None,
            engine_module: str = "engine") -> Hints:
    """Add both to CrowdGUI's MainWindow. ``chosen_checkpoint`` defaults to the training feature's model choice;
    ``engine_module`` is the module run as ``python -m`` (tests pass one with a test model registered)."""
    training = getattr(window, "training", None)
    if chosen_checkpoint is None:
        chosen_checkpoint = training.selected_checkpoint if training is not None else (lambda: None)
    hints = Hints(NextImageController(window, chosen_checkpoint, engine_module),
                  MissedObjectsController(window, chosen_checkpoint, engine_module))
    if training is not None:  # another model: the old ranking and hints no longer apply
        training.model_selected.connect(lambda _path: hints.next_image.forget())
        training.model_selected.connect(lambda _path: hints.missed.refresh())
    # N now follows the model's ranking (and file order without a model); the plain file-order step moves to
    # Shift+N.
    window.actions.next_todo.setShortcuts([QKeySequence("Shift+N")])
    image_menu = window.menu("&Image")
    image_menu.addAction(hints.next_image.next_action)
    view_menu = window.menu("&View")
    view_menu.addSeparator()
    view_menu.addAction(hints.missed.toggle_action)
    for controller in (hints.next_image, hints.missed):
        QCoreApplication.instance().aboutToQuit.connect(controller.shutdown)
    return hints
