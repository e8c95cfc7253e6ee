"""The lineage in the report (a tree, each child under its parent, and a plot) and in
``hypoforge status`` (a line and a parent column), read from the ledger alone."""

from __future__ import annotations

from typer.testing import CliRunner

from core.records import HypothesisRow, Outcome
from core.settings import CampaignSettings
from hypoforge import campaign, cli
from hypoforge.report import lineage_line, lineage_lines, write_report
from store.ledger import Ledger

# id, parent, how it was picked, idea, win rate (None: invalid)
ROWS = [
    ("r0-0", None, None, "a gate", 0.6),
    ("r0-1", None, None, "a steeper gate", 0.7),
    ("r1-0", "r0-1", "best", "a steeper gate, shifted", 0.75),
    ("r1-1", "r0-1", "best", "a gate | with a pipe", None),
    ("r2-0", "r1-0", "diverse", "shifted further", 0.78),
]
TREE = [
    "- r0-1: a steeper gate: 0.700",
    "  - r1-0, by best: a steeper gate, shifted: 0.750 (+0.050)",
    "    - r2-0, by diverse: shifted further: 0.780 (+0.030)",
    "  - r1-1, by best: a gate | with a pipe: invalid",
]
LINE = (
    "lineage: 3 of 5 proposals build on an earlier one; "
    "the best's line: r0-1 (0.700) > r1-0 (0.750) > r2-0 (0.780)"
)


def rows() -> list[HypothesisRow]:
    out = []
    for hid, parent, _, idea, win in ROWS:
        ran = win is not None
        out.append(
            HypothesisRow(
                campaign="c",
                id=hid,
                round=int(hid[1]),
                mode="incremental",
                idea=idea,
                parent=parent,
                stage="screened" if ran else "invalid",
                outcome=Outcome.OK if ran else Outcome.INVALID,
                screen_win_rate=win,
            )
        )
    return out


def picks() -> dict[str, str]:
    return {hid: way for hid, _, way, _, _ in ROWS if way}


def test_the_tree_lists_each_child_under_its_parent():
    lines = lineage_lines(rows(), picks())
    assert lines[0] == "## Lineage"
    assert lines[2].startswith(
        "3 of 5 proposals build on an earlier hypothesis (parent picked by: best 2, diverse 1); "
    )
    assert lines[4:-1] == TREE  # r0-0 has no child: not a tree
    assert lineage_line(rows()) == LINE


def test_no_lineage_no_section():
    fresh = [r.model_copy(update={"parent": None}) for r in rows()]
    assert lineage_lines(fresh, {}) == []
    assert lineage_line(fresh) == "lineage: 0 of 5 proposals build on an earlier one"
    best_fresh = [
        r.model_copy(update={"screen_win_rate": 0.9}) if r.id == "r0-0" else r for r in rows()
    ]
    assert lineage_line(best_fresh).endswith("; the best, r0-0, is a fresh idea")


def folder_with_lineage(tmp_path):
    folder = tmp_path / "camp"
    info = campaign.create(folder, "activation", CampaignSettings())
    ledger = Ledger(folder / "ledger.sqlite")
    for row in rows():
        ledger.save(row.model_copy(update={"campaign": info.id}))
    for hid, parent, way, _, _ in ROWS:
        if way:
            detail = {"id": hid, "parent": parent, "by": way}
            ledger.log(info.id, "proposer", "parent", detail)
    ledger.log(info.id, "proposer", "parent", "not json")  # skipped, never an error
    ledger.close()
    return folder


def test_the_report_shows_the_tree_and_plots_it(tmp_path):
    folder = folder_with_lineage(tmp_path)
    text = write_report(folder).read_text()
    section = text.split("## Lineage\n")[1].split("\n## ")[0]
    assert "(parent picked by: best 2, diverse 1)" in section
    assert "\n".join(TREE) in section
    assert "![lineage](lineage.png)" in section
    assert (folder / "report" / "lineage.png").stat().st_size > 0
    with (folder / "report" / "ledger.tsv").open() as f:
        header = f.readline().rstrip("\n").split("\t")
        parents = [line.rstrip("\n").split("\t")[header.index("parent")] for line in f]
    assert parents == ["", "", "r0-1", "r0-1", "r1-0"]


def test_status_shows_the_line_and_each_leaders_parent(tmp_path):
    folder = folder_with_lineage(tmp_path)
    result = CliRunner().invoke(cli.app, ["status", str(folder)])
    assert result.exit_code == 0, result.output
    assert LINE in result.stdout

    def cells(line: str) -> list[str]:
        return [c.strip() for c in line.replace("┃", "│").split("│")[1:-1]]

    header = next(cells(line) for line in result.stdout.splitlines() if " idea " in line)
    assert header[:3] == ["id", "parent", "idea"]
    leaders = [cells(line)[:2] for line in result.stdout.splitlines() if line.startswith("│")]
    assert leaders == [["r2-0", "r1-0"], ["r1-0", "r0-1"], ["r0-1", "-"], ["r0-0", "-"]]
