"""Export of the history as XES and CSV, the auditors' search, and `tiltak export`.

The acceptance test at the end has pm4py read the XES of a few hundred walked cases and
discover a model whose activities are the routine's steps.
"""

from __future__ import annotations

import csv
import io
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest
from lxml import etree

from engine.definitions import collect_files
from engine.errors import InvalidInput, NotFound
from engine.execution.projection import element_label
from engine.history import export
from engine.model.xml import parse_xml
from engine.models import ProcessInstance
from engine.queries.search import InstanceFilter, find_instances
from installation import services

from walks import KPU, PROCESSES, SECRETARIAT, START_DATA, task_for, walk_six_step

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
SIX_STEP = "hendelsesanalyse-oppfolging"
CSV_HEADER = ["case_id", "business_key", "process_key", "version", "seq", "event_type",
              "activity", "element_id", "lifecycle", "timestamp", "resource", "state_hash"]

# A process whose start data names one clinic (`klinikk`) instead of a list.
AVVIK_BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs_avvik"
    targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="avviksmelding" name="Avviksmelding" isExecutable="true"
      camunda:candidateStarterGroups="ansatt">
    <bpmn:startEvent id="Start_Avvik">
      <bpmn:extensionElements>
        <camunda:formData>
          <camunda:formField id="klinikk" label="Klinikk" type="string" />
        </camunda:formData>
      </bpmn:extensionElements>
      <bpmn:outgoing>Flow_1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:userTask id="Task_Behandle" name="Behandle avviket"
        camunda:candidateGroups="kpu-sekretariat-kir">
      <bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="End_Avvik"><bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="Start_Avvik" targetRef="Task_Behandle" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_Behandle" targetRef="End_Avvik" />
  </bpmn:process>
</bpmn:definitions>
"""


SIX_STEP_FILES = ("hendelsesanalyse-oppfolging.bpmn", "klinikk-oppfolging.bpmn")


def bpmn_names(files: tuple[str, ...] = (*SIX_STEP_FILES, "tiltak.bpmn")
               ) -> tuple[dict[str, str], dict[str, str]]:
    """From these files in processes/: process id -> name, user task id -> its label
    (the name without the `${...}` that makes it name its case)."""
    processes: dict[str, str] = {}
    user_tasks: dict[str, str] = {}
    for path in (PROCESSES / name for name in files):
        root = parse_xml(path.read_bytes(), path.name).getroot()
        for process in root.iter(f"{BPMN}process"):
            processes[process.get("id")] = process.get("name")
        for task in root.iter(f"{BPMN}userTask"):
            user_tasks[task.get("id")] = element_label(task.get("name"))
    return processes, user_tasks


def attributes(element) -> dict[str, str]:
    """An XES element's own attributes (not those of its events), key -> value."""
    return {child.get("key"): child.get("value") for child in element
            if child.tag in ("string", "date", "int", "float", "boolean")}


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def walked(engine, clock, clinics=("kir", "med"), business_key="HA-2026-17",
           hours: float = 3) -> str:
    """The six-step routine walked with time passing between the steps."""
    return walk_six_step(engine, clinics=clinics, business_key=business_key,
                         observe=lambda *_: clock.advance(hours=hours))


def start(engine, clinics: list[str], business_key: str | None) -> str:
    return engine.runtime.start(SIX_STEP, actor="frida", data=dict(START_DATA, klinikker=clinics),
                                business_key=business_key).id


# ----------------------------------------------------------------------- XES
def test_the_xes_of_a_walked_case_has_its_trace_events_and_lifecycle(deployed, clock):
    instance_id = walked(deployed, clock)
    history = deployed.history.events(instance_id)
    out = io.BytesIO()
    summary = export.write_xes(deployed, [instance_id], out)
    assert (summary.instances, summary.events) == (1, len(history))

    log = etree.fromstring(out.getvalue())
    assert log.tag == "log" and log.get("xes.version") == "1849-2016"
    assert {e.get("prefix"): e.get("uri") for e in log.findall("extension")} == {
        "concept": "http://www.xes-standard.org/concept.xesext",
        "time": "http://www.xes-standard.org/time.xesext",
        "lifecycle": "http://www.xes-standard.org/lifecycle.xesext",
        "org": "http://www.xes-standard.org/org.xesext"}
    [trace] = log.findall("trace")
    case = attributes(trace)
    assert case["concept:name"] == instance_id
    assert case["business_key"] == "HA-2026-17"
    assert case["process_key"] == SIX_STEP and case["process_version"] == "1"

    processes, user_tasks = bpmn_names()
    events = [attributes(e) for e in trace.findall("event")]
    assert len(events) == len(history) == 21
    for event, recorded in zip(events, history, strict=True):
        assert event["event_type"] == recorded.type
        assert event["org:resource"] == recorded.actor
        assert event["seq"] == str(recorded.seq)
        assert event["time:timestamp"].endswith("+00:00")
        assert datetime.fromisoformat(event["time:timestamp"]) == utc(recorded.at)
        if recorded.type in ("claim", "complete"):
            assert event["concept:name"] == user_tasks[recorded.element_id]
            assert event["element_id"] == recorded.element_id
            assert event["concept:instance"] == recorded.task_id
    assert events[0]["concept:name"] == processes[SIX_STEP]
    assert [e["lifecycle:transition"] for e in events[:3]] == ["start", "assign", "complete"]
    assert events[1]["concept:name"] == "Vurder og konkretiser foreslåtte tiltak"
    assert {e["lifecycle:transition"] for e in events} == {"start", "assign", "complete"}
    # every step of the routine and of its clinics' follow-up was done and is named
    _, routine_tasks = bpmn_names(SIX_STEP_FILES)
    assert set(routine_tasks.values()) <= {
        e["concept:name"] for e in events if e["lifecycle:transition"] == "complete"}
    stamps = [datetime.fromisoformat(e["time:timestamp"]) for e in events]
    assert stamps == sorted(stamps) and stamps[-1] > stamps[0]


def test_giving_back_and_cancelling_map_onto_the_standard_lifecycle(deployed):
    instance_id = start(deployed, ["kir"], "HA-2026-5")
    task = task_for(deployed, "sigrid", "Task_VurderTiltak", instance_id)
    deployed.tasks.claim(task.id, actor="sigrid")
    deployed.tasks.unclaim(task.id, actor="sigrid")
    deployed.runtime.cancel(instance_id, actor="frida", reason="registrert to ganger")
    out = io.BytesIO()
    export.write_xes(deployed, [instance_id], out)
    [trace] = etree.fromstring(out.getvalue()).findall("trace")
    events = [attributes(e) for e in trace.findall("event")]
    assert [(e["event_type"], e["lifecycle:transition"]) for e in events] == [
        ("start", "start"), ("claim", "assign"), ("unclaim", "reassign"),
        ("cancel", "pi_abort")]
    assert events[2]["concept:name"] == "Vurder og konkretiser foreslåtte tiltak"
    assert events[3]["concept:name"] == "Case cancelled"
    assert attributes(trace)["status"] == "cancelled"


def test_text_that_xml_cannot_carry_is_replaced_not_fatal(deployed):
    instance_id = start(deployed, ["kir"], "HA-2026-<&>")
    with deployed.db.transaction() as session:  # a key from before keys were checked
        session.get(ProcessInstance, instance_id).business_key = "HA-2026-<&>\x07"
    out = io.BytesIO()
    export.write_xes(deployed, [instance_id], out)
    [trace] = etree.fromstring(out.getvalue()).findall("trace")
    assert attributes(trace)["business_key"] == "HA-2026-<&>\ufffd"


# ----------------------------------------------------------------------- CSV
def test_the_csv_rows_match_the_history(deployed, clock, monkeypatch):
    monkeypatch.setattr(export, "BATCH", 1)  # each instance read in a batch of its own
    first = walked(deployed, clock, clinics=("med",), business_key="HA-2026-17")
    second = start(deployed, ["kir"], None)
    out = io.StringIO()
    summary = export.write_csv(deployed, [first, second, first], out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == CSV_HEADER
    records = [dict(zip(CSV_HEADER, row, strict=True)) for row in rows[1:]]
    expected = [(first, e) for e in deployed.history.events(first)] + \
        [(second, e) for e in deployed.history.events(second)]
    assert (summary.instances, summary.events) == (2, len(expected)) == (2, len(records))
    _, user_tasks = bpmn_names()
    for record, (instance_id, event) in zip(records, expected, strict=True):
        assert record["case_id"] == instance_id
        assert record["business_key"] == ("HA-2026-17" if instance_id == first else "")
        assert (record["process_key"], record["version"]) == (SIX_STEP, "1")
        assert record["seq"] == str(event.seq)
        assert record["event_type"] == event.type
        assert record["element_id"] == (event.element_id or "")
        assert record["resource"] == event.actor
        assert record["state_hash"] == event.state_hash
        assert datetime.fromisoformat(record["timestamp"]) == utc(event.at)
        if event.type == "complete":
            assert record["activity"] == user_tasks[event.element_id]
            assert record["lifecycle"] == "complete"


def test_an_unknown_instance_is_refused_before_anything_is_written(deployed):
    known = start(deployed, ["kir"], None)
    out = io.BytesIO()
    with pytest.raises(NotFound, match="finnes-ikke"):
        export.write_xes(deployed, [known, "finnes-ikke"], out)
    assert out.getvalue() == b""


# ----------------------------------------------------------------------- search
@pytest.fixture
def cases(deployed, clock):
    """Five instances over a month: finished, running, cancelled, on version 2, another
    process whose start data names one clinic."""
    found = {"done": walked(deployed, clock, business_key="HA-2026-17", hours=1)}
    clock.set(datetime(2026, 1, 15, 9, 0, tzinfo=UTC))
    found["running"] = start(deployed, ["med"], "ha-2026-99")
    clock.set(datetime(2026, 1, 25, 9, 0, tzinfo=UTC))
    found["cancelled"] = start(deployed, ["kir"], "TILSYN-7")
    deployed.runtime.cancel(found["cancelled"], actor="frida")
    bpmn = (PROCESSES / f"{SIX_STEP}.bpmn").read_bytes()
    changed = bpmn.replace(b'name="Hendelsen lukket"', b'name="Hendelsen er lukket"')
    assert changed != bpmn
    [redeployed] = deployed.repository.deploy({f"{SIX_STEP}.bpmn": changed}, actor="per")
    assert redeployed.version == 2
    clock.set(datetime(2026, 2, 4, 9, 0, tzinfo=UTC))
    found["v2"] = start(deployed, ["kir", "med"], "HA-2026-18")
    deployed.repository.deploy({"avviksmelding.bpmn": AVVIK_BPMN}, actor="per")
    clock.set(datetime(2026, 2, 10, 9, 0, tzinfo=UTC))
    found["avvik"] = deployed.runtime.start("avviksmelding", actor="ola", data={"klinikk": "barn"},
                                            business_key="AVVIK-1").id
    return found


def test_each_search_filter_narrows_the_result(deployed, cases):
    def found(**wanted) -> set[str]:
        rows, total = deployed.history.find_instances(InstanceFilter(**wanted), limit=50)
        assert total == len(rows)
        names = {v: k for k, v in cases.items()}
        return {names[row.id] for row in rows}

    assert found() == set(cases)
    assert found(business_key="Ha-2026") == {"done", "running", "v2"}
    assert found(business_key="2026-1") == {"done", "v2"}
    assert found(business_key="_") == set()
    assert found(process_key="avviksmelding") == {"avvik"}
    assert found(process_key=SIX_STEP, version=1) == {"done", "running", "cancelled"}
    assert found(process_key=SIX_STEP, version=2) == {"v2"}
    assert found(clinic="med") == {"done", "running", "v2"}
    assert found(clinic="kir") == {"done", "cancelled", "v2"}
    assert found(clinic="barn") == {"avvik"}
    assert found(status="completed") == {"done"}
    assert found(status="cancelled") == {"cancelled"}
    assert found(status="running") == {"running", "v2", "avvik"}
    assert found(started_from=datetime(2026, 1, 10, tzinfo=UTC),
                 started_to=datetime(2026, 1, 30, tzinfo=UTC)) == {"running", "cancelled"}
    assert found(started_to=datetime(2026, 1, 15, 9, 0, tzinfo=UTC)) == {"done"}
    assert found(started_from=datetime(2026, 2, 4, 10, 0, tzinfo=timezone(timedelta(hours=1)))) == \
        {"v2", "avvik"}
    assert found(clinic="kir", status="running") == {"v2"}


def test_the_search_pages_newest_first_and_describes_each_instance(deployed, cases):
    rows, total = find_instances(deployed, InstanceFilter(), limit=2)
    assert total == 5 and [r.id for r in rows] == [cases["avvik"], cases["v2"]]
    rows, total = find_instances(deployed, InstanceFilter(), limit=2, offset=4)
    assert total == 5 and [r.id for r in rows] == [cases["done"]]
    [done] = rows
    processes, _ = bpmn_names()
    assert (done.process_key, done.process_name, done.version, done.tenant) == \
        (SIX_STEP, processes[SIX_STEP], 1, None)
    assert (done.business_key, done.status, done.started_by) == ("HA-2026-17", "completed",
                                                                 "frida")
    assert done.clinics == ["kir", "med"]
    assert done.event_count == len(deployed.history.events(done.id))
    assert done.started_at == datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    assert done.ended_at > done.started_at
    [v2], _ = deployed.history.find_instances(InstanceFilter(version=2))
    assert (v2.version, v2.status, v2.ended_at) == (2, "running", None)
    assert deployed.history.find_instance_ids(InstanceFilter(clinic="med")) == \
        [cases["done"], cases["running"], cases["v2"]]


def test_a_bad_search_is_refused_by_name(deployed):
    with pytest.raises(InvalidInput, match="status"):
        InstanceFilter(status="ferdig")
    with pytest.raises(InvalidInput, match="period"):
        InstanceFilter(started_from=datetime(2026, 2, 1, tzinfo=UTC),
                       started_to=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(InvalidInput, match="version"):
        InstanceFilter(version=0)


# ----------------------------------------------------------------------- command line
@pytest.fixture
def tiltak_cli(database_url, tmp_path):
    env = {**os.environ, "TILTAK_DATABASE_URL": database_url}

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "tiltak.cli", *args], env=env,
                                capture_output=True, cwd=tmp_path, timeout=120)
        if ok:
            assert result.returncode == 0, result.stderr.decode()
        return result
    return run


def test_tiltak_export_writes_a_file_and_refuses_bad_input(deployed, clock, tiltak_cli,
                                                          tmp_path):
    done = walked(deployed, clock)
    running = start(deployed, ["med"], "HA-2026-99")
    events = len(deployed.history.events(done)) + len(deployed.history.events(running))

    result = tiltak_cli("export", "--format", "csv", "--out", "alle.csv")
    assert result.stdout.decode().strip() == f"exported 2 instances ({events} events) to alle.csv"
    with open(tmp_path / "alle.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == events and {r["case_id"] for r in rows} == {done, running}

    result = tiltak_cli("export", "--format", "xes", "--clinic", "med", "--status", "running",
                        "--from", "2026-01-01", "--to", "2026-12-31")
    [trace] = etree.fromstring(result.stdout).findall("trace")
    assert attributes(trace)["concept:name"] == running
    assert result.stderr == b""

    tiltak_cli("export", done, "--format", "xes", "--out", "en.xes")
    [trace] = etree.parse(str(tmp_path / "en.xes")).getroot().findall("trace")
    assert attributes(trace)["concept:name"] == done

    result = tiltak_cli("export", "--format", "xes", "--business-key", "finnes-ikke")
    assert etree.fromstring(result.stdout).findall("trace") == []

    result = tiltak_cli("export", "finnes-ikke", "--format", "csv", "--out", "x.csv", ok=False)
    assert result.returncode == 4 and b"finnes-ikke" in result.stderr
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "x.csv.partial").exists()
    result = tiltak_cli("export", "--format", "csv", "--from", "2026-13-01", ok=False)
    assert result.returncode == 2 and b"--from" in result.stderr and result.stdout == b""
    result = tiltak_cli("export", "--format", "json", ok=False)
    assert result.returncode == 2 and b"invalid choice" in result.stderr
    result = tiltak_cli("export", done, "--format", "csv", "--status", "running", ok=False)
    assert result.returncode == 2 and b"not both" in result.stderr


# ----------------------------------------------------------------------- acceptance
CASES_FOR_MINING = 200


@pytest.fixture
def sqlite_deployed(sqlite_url, clock):
    engine = services.build_engine(sqlite_url, clock=clock)
    engine.db.create_schema()
    services.load_demo_users(engine, passwords=False)
    engine.repository.deploy(collect_files([str(PROCESSES)]), actor="per")
    yield engine
    engine.db.dispose()


def test_pm4py_discovers_the_routine_from_the_xes_export(sqlite_deployed, clock, tmp_path,
                                                        monkeypatch):
    """A few hundred cases, one or two clinics each, with hours to days between the steps;
    now and then the KPU claims its task first, or the secretariat takes a task and gives
    it back, so that the log has more than one way through."""
    import pm4py  # slow to import: only here

    monkeypatch.setattr(pm4py.util.constants, "SHOW_PROGRESS_BAR", False)
    engine = sqlite_deployed
    rng = random.Random(1849)

    def now_and_then(step: str, clinic: str, instance_id: str) -> None:
        clock.advance(minutes=rng.randint(5, 60 * 24 * 3))
        if step == "reviewed" and rng.random() < 0.4:
            task = task_for(engine, KPU[clinic], "Task_KpuBehandling", instance_id)
            engine.tasks.claim(task.id, actor=KPU[clinic])
        if step == "kpu_reviewed" and rng.random() < 0.2:
            task = task_for(engine, SECRETARIAT[clinic], "Task_SendReferat", instance_id)
            engine.tasks.claim(task.id, actor=SECRETARIAT[clinic])
            engine.tasks.unclaim(task.id, actor=SECRETARIAT[clinic])

    ids = []
    for number in range(CASES_FOR_MINING):
        clinics = rng.choice([("kir",), ("med",), ("kir", "med"), ("med", "kir")])
        ids.append(walk_six_step(engine, clinics=clinics, business_key=f"HA-2026-{number:03}",
                                 observe=now_and_then))
        clock.advance(hours=rng.randint(1, 48))
    path = tmp_path / "tiltak.xes"
    with open(path, "wb") as handle:
        export.write_xes(engine,
                         engine.history.find_instance_ids(InstanceFilter(process_key=SIX_STEP)),
                         handle)

    log = pm4py.read_xes(str(path), variant="iterparse", show_progress_bar=False)
    assert log["case:concept:name"].nunique() == CASES_FOR_MINING
    assert set(log["case:concept:name"]) == set(ids)
    assert set(log["lifecycle:transition"]) == {"start", "assign", "reassign", "complete"}
    assert len(pm4py.get_variants(log)) >= 10
    net, initial, final = pm4py.discover_petri_net_inductive(log)
    activities = {t.label for t in net.transitions if t.label}
    processes, _ = bpmn_names()
    _, routine_tasks = bpmn_names(SIX_STEP_FILES)
    assert {*routine_tasks.values(), "Gjennomfør tiltak"} <= activities
    assert processes[SIX_STEP] in activities
    assert set(pm4py.get_start_activities(log)) == {processes[SIX_STEP]}
    fitness = pm4py.fitness_token_based_replay(log, net, initial, final)
    assert fitness["perc_fit_traces"] == 100.0


def test_a_business_key_is_never_run_as_a_spreadsheet_formula(deployed):
    from walks import at_measure
    instance_id = at_measure(deployed, business_key="=HYPERLINK(\"http://x\")")
    out = io.StringIO()
    export.write_csv(deployed, [instance_id], out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert {row[1] for row in rows[1:]} == {"'=HYPERLINK(\"http://x\")"}
