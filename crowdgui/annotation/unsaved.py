"""The store of images left with unsaved edits.

When a save fails as the user switches away from an image (a read-only folder, a full disk), its edits are
kept here, in memory, so that nothing is lost: the image shows them again when it is chosen, the image list
counts them, the recovery journal writes them, and saving is tried again on the next occasion.
"""

from __future__ import annotations

from crowdgui.annotation.image_edits import ImageEdits


class UnsavedStore:
    """Edits of images that are not shown and could not be saved yet, by image name."""

    def __init__(self):
        self._edits: dict[str, ImageEdits] = {}

    def keep(self, name: str, edits: ImageEdits) -> None:
        self._edits[name] = edits

    def get(self, name: str) -> ImageEdits | None:
        return self._edits.get(name)

    def take(self, name: str) -> ImageEdits | None:
        """The image's kept edits, forgotten here (they are shown or were saved)."""
        return self._edits.pop(name, None)

    def __contains__(self, name: str) -> bool:
        return name in self._edits

    def clear(self) -> None:
        self._edits.clear()
