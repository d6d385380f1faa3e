"""The region tools in the window: the Regions menu and toolbar, and canvas requests turned into undo commands.

Rectangle (R) and Polygon (G) draw a region of the kind chosen in the toolbar (annotated area, ignore, region
of interest, stated count: a count region asks for its number); Edit Regions (E) selects, moves, reshapes
(drag a corner), deletes (Delete) and re-counts (double click) them. The tools share the mode group with
"Add points" and "Select", so one of them has the left mouse button at a time. Every change is an undo
command on the image's own stack, saved and journaled like points.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QComboBox, QInputDialog, QToolBar, QWidget

from crowdgui.annotation.region_undo import AddRegion, DeleteRegion, EditRegion
from crowdgui.icons import icon
from engine.dataset.regions import KIND_TITLES, REGION_KINDS, Region

TOOL_ACTIONS = (  # tool, text, shortcut, icon, tip
    ("rectangle", "&Rectangle Region", "R", "region-rectangle", "Drag a rectangle: a region of the chosen kind"),
    ("polygon", "P&olygon Region", "G", "region-polygon",
     "Click the corners; double click or Enter closes it, right click takes a corner back, Esc abandons it"),
    ("edit", "&Edit Regions", "E", "region-edit",
     "Click a region to select it; drag it or its corners; Delete removes it; double click a count to change it"),
)
KIND_TIPS = {
    "annotated": "Points are complete inside, unknown outside (annotate part of a big image)",
    "ignore": "Never trained on, never counted",
    "roi": "Counting reports the count inside it",
    "count": "State how many objects are inside without clicking them",
}


def ask_count(parent: QWidget, current: int = 0) -> int | None:
    """The number of objects a person states for a count region (None: cancelled)."""
    value, ok = QInputDialog.getInt(parent, "Stated count", "How many objects are inside this region?",
                                    int(current), 0, 10**9, 1)
    return int(value) if ok else None


class RegionTools(QObject):
    """Installs the region tools into ``window`` (a MainWindow) and edits the session's regions."""

    def __init__(self, window):
        super().__init__(window)
        self.window, self.session, self.canvas = window, window.session, window.canvas
        self.ask_count = ask_count  # tests replace it
        self.tools: dict[str, QAction] = {}
        group: QActionGroup = window.actions.mode_group
        for tool, text, key, icon_name, tip in TOOL_ACTIONS:
            action = QAction(icon(icon_name), text, window, checkable=True, shortcut=key, statusTip=tip,
                             toolTip=f"{text.replace('&', '')}  ({key})\n{tip}")
            window.addAction(action)
            group.addAction(action)
            action.toggled.connect(lambda on, tool=tool: on and self._use_tool(tool))
            self.tools[tool] = action
        window.actions.add_mode.toggled.connect(lambda on: on and self.canvas.set_region_tool(None))
        window.actions.select_mode.toggled.connect(lambda on: on and self.canvas.set_region_tool(None))
        self.kind_box = QComboBox(toolTip="The kind of region the rectangle and polygon tools draw")
        for kind in REGION_KINDS:
            self.kind_box.addItem(KIND_TITLES[kind], kind)
            self.kind_box.setItemData(self.kind_box.count() - 1, KIND_TIPS[kind], 3)  # ToolTipRole
        self.kind_box.currentIndexChanged.connect(self._on_kind_changed)
        self._build_menu_and_toolbar()
        self.canvas.bind_regions(self.session.regions)
        self.canvas.region_add_requested.connect(self.add)
        self.canvas.region_change_requested.connect(self.change)
        self.canvas.region_delete_requested.connect(self.delete)
        self.canvas.region_count_requested.connect(self.recount)

    def _build_menu_and_toolbar(self) -> None:
        menu = self.window.menu("&Regions")
        menu.addActions(list(self.tools.values()))
        kinds = menu.addMenu("Region &Kind")
        self.kind_actions = QActionGroup(self)
        for index, kind in enumerate(REGION_KINDS):
            action = kinds.addAction(KIND_TITLES[kind])
            action.setCheckable(True)
            action.setStatusTip(KIND_TIPS[kind])
            action.setChecked(index == 0)
            action.triggered.connect(lambda _on=False, index=index: self.kind_box.setCurrentIndex(index))
            self.kind_actions.addAction(action)
        self.toolbar = QToolBar("Regions", objectName="regionsToolbar", movable=False)
        self.toolbar.addActions(list(self.tools.values()))
        self.toolbar.addWidget(self.kind_box)
        self.window.addToolBar(self.toolbar)

    @property
    def kind(self) -> str:
        return self.kind_box.currentData()

    def use(self, tool: str, kind: str | None = None) -> None:
        """Choose a region tool (and the kind it draws), as the toolbar does."""
        if kind is not None:
            self.kind_box.setCurrentIndex(REGION_KINDS.index(kind))
        self.tools[tool].setChecked(True)

    def _use_tool(self, tool: str) -> None:
        self.canvas.set_region_tool(tool, self.kind)

    def _on_kind_changed(self, index: int) -> None:
        self.kind_actions.actions()[index].setChecked(True)
        if self.canvas.region_gestures.tool is not None:
            self.canvas.region_gestures.kind = self.kind

    # ------------------------------------------------------------------ edits
    def add(self, kind: str, polygon) -> None:
        count = None
        if kind == "count":
            count = self.ask_count(self.window)
            if count is None:
                return
        self.session.push(AddRegion(self.session.regions, Region(kind, polygon, count)))

    def change(self, index: int, polygon) -> None:
        old = self.session.regions.regions[index]
        self.session.push(EditRegion(self.session.regions, index, Region(old.kind, polygon, old.count),
                                     f"Reshape {KIND_TITLES.get(old.kind, old.kind).lower()} region"))

    def delete(self, index: int) -> None:
        self.session.push(DeleteRegion(self.session.regions, index))

    def recount(self, index: int) -> None:
        old = self.session.regions.regions[index]
        count = self.ask_count(self.window, int(old.count or 0))
        if count is not None and count != old.count:
            self.session.push(EditRegion(self.session.regions, index, Region(old.kind, old.polygon, count),
                                         "Change stated count"))
