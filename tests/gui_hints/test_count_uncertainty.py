"""Count results: an uncertainty column when the engine's result events carry ``uncertainty``, none otherwise."""

from crowdgui.counting.results import ResultsPanel
from crowdgui.counting.results_model import CountRow, ResultsTableModel


def _row(name: str, uncertainty=None) -> CountRow:
    event = {"type": "result", "image": name, "path": f"/data/{name}", "count": 12.0}
    if uncertainty is not None:
        event["uncertainty"] = uncertainty
    return CountRow.from_event(event)


def test_the_column_shows_only_when_results_carry_an_uncertainty(qtbot, tmp_path):
    panel = ResultsPanel()
    qtbot.addWidget(panel)
    column = ResultsTableModel.UNCERTAINTY
    panel.begin(tmp_path, tmp_path / "out")
    panel.add_result(_row("a.png"))
    assert panel.table.isColumnHidden(column)
    assert panel.model.index(0, column).data() == "—"

    panel.add_result(_row("b.png", 3.26))
    assert not panel.table.isColumnHidden(column)
    assert panel.model.index(1, column).data() == "±3.3"
    panel.proxy.sort(column, order=panel.proxy.sortOrder().DescendingOrder)
    assert panel.proxy.index(0, ResultsTableModel.IMAGE).data() == "b.png"  # the least sure first

    panel.begin(tmp_path, tmp_path / "out")  # a new count without uncertainties hides it again
    assert panel.table.isColumnHidden(column)
