"""Every duration in processes/ is listed in docs/DEADLINES.md, as written, with where
it comes from: a process owner can tell the law from a local choice."""

from __future__ import annotations

from pathlib import Path

from engine.model.contracts import BPMN, CAMUNDA
from engine.model.xml import parse_xml

ROOT = Path(__file__).resolve().parent.parent
TIMER_KINDS = ("timeDuration", "timeDate", "timeCycle")


def durations_in_processes() -> dict[tuple[str, str, str], str]:
    """(process, element, kind) -> the duration as the diagram writes it."""
    return {key: value for key, (value, _) in _durations().items()}


def _durations() -> dict[tuple[str, str, str], tuple[str, str]]:
    """(process, element, kind) -> the duration and the element's documentation."""
    found = {}
    for path in sorted((ROOT / "processes").glob("*.bpmn")):
        tree = parse_xml(path.read_bytes(), path.name)
        for process in tree.iter(f"{BPMN}process"):
            key = process.get("id")
            retention = process.get(f"{CAMUNDA}historyTimeToLive")
            if retention:
                found[key, "(process)", "historyTimeToLive"] = (retention, _documented(process))
            for element in process.iter():
                if element.tag == f"{BPMN}timerEventDefinition":
                    for kind in TIMER_KINDS:
                        value = element.find(f"{BPMN}{kind}")
                        if value is not None:
                            event = element.getparent()
                            found[key, event.get("id"), kind] = (value.text.strip(),
                                                                 _documented(event))
                for kind in ("dueDate", "followUpDate"):
                    value = element.get(f"{CAMUNDA}{kind}")
                    if value:
                        found[key, element.get("id"), kind] = (value, _documented(element))
    return found


def _documented(element) -> str:
    found = element.find(f"{BPMN}documentation")
    return found.text or "" if found is not None else ""


def rows_in_table() -> dict[tuple[str, str, str], tuple[str, str]]:
    rows = {}
    for line in (ROOT / "docs" / "DEADLINES.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] not in ("process", "---"):
            rows[cells[0], cells[1], cells[2]] = (cells[3], cells[4])
    return rows


def test_every_duration_in_the_processes_is_in_the_table_as_written_with_a_source():
    durations, rows = durations_in_processes(), rows_in_table()
    assert len(durations) > 40  # the reader found the diagrams' timers and due dates
    missing = sorted(set(durations) - set(rows))
    assert not missing, f"durations not in docs/DEADLINES.md: {missing}"
    stale = sorted(set(rows) - set(durations))
    assert not stale, f"rows in docs/DEADLINES.md for durations no diagram has: {stale}"
    for key, written in durations.items():
        listed, source = rows[key]
        assert listed == written, f"{key}: the diagram says {written}, the table {listed}"
        assert source, f"{key}: no source given"


def test_each_duration_says_in_the_diagram_where_it_comes_from():
    """A process owner reading the element in Camunda Modeler sees the source too."""
    for key, (_, documentation) in _durations().items():
        assert "Kilde" in documentation or "Källa" in documentation or \
            "kilde i docs/DEADLINES.md" in documentation or \
            "källa i docs/DEADLINES.md" in documentation, \
            f"{key}: its documentation does not name the source of its duration"
