"""Point requests of the canvas and the Edit menu become undo commands on the current image's stack."""

from __future__ import annotations

from PySide6.QtCore import QObject

from crowdgui.annotation.region_undo import MarkNoObjects
from crowdgui.annotation.undo import AddPoint, ClearPoints, DeletePoints, MovePoint


class PointEdits(QObject):
    """Connects ``window.canvas``'s point requests and the clear / "no objects" actions to the session."""

    def __init__(self, window):
        super().__init__(window)
        self.window, self.session = window, window.session
        canvas, actions = window.canvas, window.actions
        canvas.point_add_requested.connect(self.add)
        canvas.points_delete_requested.connect(self.delete)
        canvas.point_move_requested.connect(self.move)
        actions.clear_points.triggered.connect(self.clear)
        actions.mark_no_objects.triggered.connect(self.mark_no_objects)

    def add(self, x: float, y: float) -> None:
        self.session.push(AddPoint(self.session.points, x, y, self.window.classes.new_point_label()))

    def delete(self, indices) -> None:
        if len(indices):
            self.session.push(DeletePoints(self.session.points, indices))

    def move(self, index: int, x: float, y: float) -> None:
        self.session.push(MovePoint(self.session.points, index, x, y))

    def clear(self) -> None:
        if self.session.points.count:
            self.session.push(ClearPoints(self.session.points))

    def mark_no_objects(self) -> None:
        """Only an image without points or proposals can be said to hold no objects."""
        session = self.session
        if session.points.count or session.proposed.count:
            self.window.statusBar().showMessage("This image has points: delete them first to mark it as holding "
                                                "no objects", 5000)
        elif not session.no_objects.value:
            session.push(MarkNoObjects(session.no_objects))
