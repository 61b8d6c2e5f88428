"""Instance migration (Camunda 7's semantics), suspension and activation, on both
databases, each command run by an engine restored from the database."""

from __future__ import annotations

import json

import pytest
from command_line import tiltak_runner
from migration_walks import RENAMED, changed_routine, clinic_of, walk_until, work
from process_per_command import ProcessPerCommand

from engine.errors import InvalidInput, Suspended
from engine.history.replay import verify_instance
from engine.migration import plan as plans
from engine.services.migration import MigrationRefused

from walks import PROCESSES, RESPONSIBLE, START_DATA, deadline_year, review_rows


@pytest.fixture
def cases(deployed):
    """Two cases at step 2 (the KPU) and two at step 4 (the other clinic's minutes)."""
    engine = ProcessPerCommand(deployed, verify_each=True)
    found = {}
    for step, stop in (("step2", {"Task_KpuBehandling"}), ("step4", {"Task_MottaReferat"})):
        for number in range(2):
            case = engine.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                        data=dict(START_DATA), business_key=f"HA-{step}-{number}")
            walk_until(engine, case.id, stop)
            found.setdefault(step, []).append(case.id)
    return engine, found


def test_cases_at_step_2_and_4_move_to_version_2_and_finish_there(cases):
    engine, found = cases
    [new] = engine.repository.deploy(changed_routine(), actor="per")
    assert (new.key, new.version) == ("klinikk-oppfolging", 2)
    plan = engine.migration.migration_plan("klinikk-oppfolging", 1, 2)
    assert plan.instructions["Task_KpuBehandling"] == "Task_KpuBehandling"
    plan = plans.parse(plan.to_json())  # as edited and read back
    selected = engine.migration.cases_at_version("klinikk-oppfolging", 1)
    assert sorted(selected) == sorted(found["step2"] + found["step4"])

    report = engine.migration.migrate(plan, selected, actor="per")

    assert report.executed and sorted(o.instance_id for o in report.outcomes if o.moved) \
        == sorted(selected)
    assert engine.migration.cases_at_version("klinikk-oppfolging", 1) == []
    for case_id in found["step2"]:
        tasks = engine.tasks.find(instance_id=case_id)
        assert {t.name for t in tasks} == {RENAMED}
        assert {t.definition_id for t in tasks} == {new.definition_id}
    events = engine.history.events(found["step4"][0])
    assert events[-1].type == "migrated"
    for case_id in found["step2"] + found["step4"]:
        walk_until(engine, case_id, None)
        assert engine.history.show(case_id)["status"] == "completed"
        verdict = verify_instance(engine.fresh(), case_id)
        assert verdict.ok, verdict.as_dict()


def test_the_new_deadline_applies_to_a_task_opened_after_the_move(cases):
    engine, found = cases
    engine.repository.deploy(changed_routine(), actor="per")
    case_id = found["step2"][0]
    engine.migration.migrate(engine.migration.migration_plan("klinikk-oppfolging", 1, 2),
                             [case_id], actor="per")
    for task in engine.tasks.find(instance_id=case_id):
        work(engine, task, clinic_of(task))
    minutes = [t for t in engine.tasks.find(instance_id=case_id)
               if t.element_id == "Task_SendReferat"]
    assert minutes and all(t.due_at is not None for t in minutes)
    assert verify_instance(engine.fresh(), case_id).ok


def test_an_unmapped_active_activity_is_refused_and_nothing_moves(cases):
    engine, found = cases
    engine.repository.deploy(changed_routine(drop="Task_MottaReferat"), actor="per")
    plan = engine.migration.migration_plan("klinikk-oppfolging", 1, 2)
    assert "Task_MottaReferat" not in plan.instructions
    selected = found["step2"] + found["step4"]
    before = {case_id: len(engine.history.events(case_id)) for case_id in selected}

    with pytest.raises(MigrationRefused) as refused:
        engine.migration.migrate(plan, selected, actor="per")

    report = refused.value.report
    assert not report.executed
    assert sorted(o.instance_id for o in report.refused) == sorted(found["step4"])
    problem = report.refused[0].problems[0]
    assert problem.element == "Task_MottaReferat" and "does not map" in problem.problem
    assert {case_id: len(engine.history.events(case_id)) for case_id in selected} == before
    assert sorted(engine.migration.cases_at_version("klinikk-oppfolging", 1)) == sorted(selected)
    # the cases that have not reached the renamed task move, and take the new path
    report = engine.migration.migrate(plan, found["step2"], actor="per")
    assert all(o.moved for o in report.outcomes)
    for case_id in found["step2"]:
        walk_until(engine, case_id, None)
        assert "Task_MottaReferat_Ny" in {e.element_id for e in engine.history.events(case_id)}
        assert engine.history.show(case_id)["status"] == "completed"
        verdict = verify_instance(engine.fresh(), case_id)
        assert verdict.ok, verdict.as_dict()


def test_a_changed_type_is_named_in_the_plan(cases):
    engine, _ = cases
    engine.repository.deploy(changed_routine(), actor="per")
    plan = engine.migration.migration_plan("klinikk-oppfolging", 1, 2)
    plan.instructions["Task_KpuBehandling"] = "Script_Fordel"
    with pytest.raises(InvalidInput, match="Task_KpuBehandling: a .* cannot become "
                                           "Script_Fordel"):
        engine.migration.migrate(plan, engine.migration.cases_at_version("klinikk-oppfolging", 1),
                                 actor="per")


def test_a_suspended_definition_starts_no_cases_until_activated(deployed):
    engine = ProcessPerCommand(deployed)
    assert engine.suspension.suspend_definition("hendelsesanalyse-oppfolging", actor="per") == [1]
    with pytest.raises(Suspended, match="suspended"):
        engine.runtime.start("hendelsesanalyse-oppfolging", actor="frida", data=dict(START_DATA))
    engine.suspension.activate_definition("hendelsesanalyse-oppfolging", 1, actor="per")
    assert engine.runtime.start("hendelsesanalyse-oppfolging", actor="frida", data=dict(START_DATA))


def test_a_suspended_case_refuses_work_until_activated(deployed):
    engine = ProcessPerCommand(deployed, verify_each=True)
    case = engine.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                data=dict(START_DATA, klinikker=["kir"]))
    engine.suspension.suspend(case.id, actor="per")
    [task] = engine.tasks.find(instance_id=case.id)
    with pytest.raises(Suspended):
        work(engine, task, "kir")
    with pytest.raises(Suspended):
        engine.tasks.claim(task.id, actor="sigrid")
    engine.suspension.activate(case.id, actor="per")
    work(engine, task, "kir")
    types = [e.type for e in engine.history.events(case.id)]
    assert types == ["start", "suspended", "activated", "complete"]
    assert verify_instance(engine.fresh(), case.id).ok


def test_only_process_owners_migrate_or_suspend(cases):
    engine, found = cases
    engine.repository.deploy(changed_routine(), actor="per")
    plan = engine.migration.migration_plan("klinikk-oppfolging", 1, 2)
    with pytest.raises(Exception, match="may not migrate"):
        engine.migration.migrate(plan, found["step2"], actor="sigrid")
    with pytest.raises(Exception, match="may not suspend"):
        engine.suspension.suspend(found["step2"][0], actor="sigrid")


@pytest.fixture
def tiltak(database_url, tmp_path, set_up_by_command_line):
    """The command line on a database with the routines deployed, as test_cli.py has it."""
    run = tiltak_runner(database_url, tmp_path)
    set_up_by_command_line(database_url, [
        ("init",), ("deploy", str(PROCESSES)),
        *(("users", "add", name, "--groups", groups)
          for name, groups in (("frida", "fagavdeling"), ("sigrid", "kpu-sekretariat-kir"),
                               ("kari", "kpu-kir"), ("per", "prosesseier"),
                               (RESPONSIBLE["kir"], "ansatt")))])  # the measures' owner
    return run


def test_the_command_line_plans_migrates_suspends_and_activates(tiltak, tmp_path):
    case = tiltak("start", "hendelsesanalyse-oppfolging", "--as", "frida", "--id",
                  "--data", "@-", stdin=json.dumps(dict(START_DATA, klinikker=["kir"])))
    case_id = case.stdout.strip()
    [task] = json.loads(tiltak("tasks", "--instance", case_id, "--json").stdout)
    tiltak("complete", task["id"], "--as", "sigrid", "--data",
           json.dumps({"tiltak_vurdering": review_rows("kir", deadline_year())}))
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / "klinikk-oppfolging.bpmn").write_bytes(
        changed_routine()["klinikk-oppfolging.bpmn"])
    tiltak("deploy", str(tmp_path / "v2"))
    plan = json.loads(tiltak("migrate", "plan", "klinikk-oppfolging", "--from", "1",
                             "--to", "2").stdout)
    assert {"sourceActivityId": "Task_KpuBehandling",
            "targetActivityId": "Task_KpuBehandling"} in plan["instructions"]

    # an edited plan that leaves the open task unmapped: refused, nothing moves
    unmapped = dict(plan, instructions=[i for i in plan["instructions"]
                                        if i["sourceActivityId"] != "Task_KpuBehandling"])
    (tmp_path / "unmapped.json").write_text(json.dumps(unmapped))
    refused = tiltak("migrate", "run", "unmapped.json", "--instances", case_id, "--json",
                     code=2)
    report = json.loads(refused.stdout)
    assert report["executed"] is False and report["moved"] == []
    assert report["refused"][0]["problems"][0]["element"] == "Task_KpuBehandling"
    assert "nothing was moved" in refused.stderr
    [still] = json.loads(tiltak("tasks", "--instance", case_id, "--json").stdout)
    assert still["name"] != RENAMED

    (tmp_path / "plan.json").write_text(json.dumps(plan))
    moved = tiltak("migrate", "run", "plan.json", "--all-at-version")
    assert f"{case_id}: moved to version 2" in moved.stdout
    [task] = json.loads(tiltak("tasks", "--instance", case_id, "--json").stdout)
    assert task["name"] == RENAMED
    tiltak("verify", case_id)

    tiltak("suspend", case_id, "--as", "per")
    refused = tiltak("complete", task["id"], "--as", "kari", "--data",
                     json.dumps({"kpu_motedato": "2026-02-10", "kpu_innspill": "Støttes",
                                 "kpu_slutter_seg_til": True}), code=6)
    assert "suspended" in refused.stderr
    tiltak("activate", case_id, "--as", "per")
    tiltak("complete", task["id"], "--as", "kari", "--data",
           json.dumps({"kpu_motedato": "2026-02-10", "kpu_innspill": "Støttes",
                       "kpu_slutter_seg_til": True}))
    tiltak("verify", case_id)

    tiltak("suspend", "--definition", "hendelsesanalyse-oppfolging:1")
    refused = tiltak("start", "hendelsesanalyse-oppfolging", "--as", "frida", "--data",
                     json.dumps(START_DATA), code=6)
    assert "suspended" in refused.stderr
    tiltak("activate", "--definition", "hendelsesanalyse-oppfolging")
    tiltak("start", "hendelsesanalyse-oppfolging", "--as", "frida", "--data",
           json.dumps(START_DATA))


def test_a_plan_in_camundas_instruction_shape_reads_and_what_is_not_supported_is_refused():
    """An instruction as Camunda's `/migration/generate` writes it (lists of one id)
    reads as Tiltak's own; what Tiltak would silently not do (variables set while
    migrating, updateEventTrigger, several activities in one instruction) is refused,
    naming the instruction."""
    def plan_with(instruction: dict, **more) -> str:
        return json.dumps({"processKey": "klinikk-oppfolging", "sourceVersion": 1,
                           "targetVersion": 2, "instructions": [instruction], **more})

    camundas = {"sourceActivityIds": ["Task_KpuBehandling"],
                "targetActivityIds": ["Task_KpuMote"], "updateEventTrigger": False}
    assert plans.parse(plan_with(camundas)).instructions == {
        "Task_KpuBehandling": "Task_KpuMote"}
    for refused, words in (
            (plan_with(dict(camundas, updateEventTrigger=True)),
             "instruction 1: updateEventTrigger is not supported"),
            (plan_with(camundas, variables={"x": {"value": 1}}),
             "setting variables while migrating"),
            (plan_with(dict(camundas, sourceActivityIds=["Task_A", "Task_B"])),
             "instruction 1: sourceActivityIds must hold one id")):
        with pytest.raises(InvalidInput, match=words):
            plans.parse(refused)
