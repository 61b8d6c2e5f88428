"""The command-line contract of ARCHITECTURE.md, driven as an operator's script would."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request

import pytest
from command_line import tiltak_runner
from local_servers import children, free_port, running, serve, wait_until

from walks import FIXTURES, PROCESSES, START_DATA


@pytest.fixture
def tiltak(database_url, tmp_path, set_up_by_command_line):
    run = tiltak_runner(database_url, tmp_path)
    set_up_by_command_line(database_url, [
        ("init",), ("deploy", str(PROCESSES)),
        *(("users", "add", name, "--groups", groups)
          for name, groups in (("frida", "fagavdeling"), ("sigrid", "kpu-sekretariat-kir"),
                               ("kari", "kpu-kir"), ("ola", "leder-kir-gastro")))])
    return run


def test_start_tasks_complete_show_follow_the_contract(tiltak):
    started = json.loads(tiltak("start", "hendelsesanalyse-oppfolging", "--as", "frida",
                                "--business-key", "HA-2026-17", "--data", "@-",
                                stdin=json.dumps(dict(START_DATA, klinikker=["kir"]))).stdout)
    assert set(started) == {"instance_id", "business_key"}
    assert started["business_key"] == "HA-2026-17"
    instance_id = started["instance_id"]

    tasks = json.loads(tiltak("tasks", "--as", "sigrid", "--json").stdout)
    [task] = tasks
    assert set(task) >= {"id", "instance_id", "process_key", "element_id", "name",
                         "candidate_groups", "candidate_users", "assignee", "due", "form"}
    assert task["instance_id"] == instance_id
    assert task["process_key"] == "klinikk-oppfolging"
    assert task["element_id"] == "Task_VurderTiltak"
    assert task["candidate_groups"] == ["kpu-sekretariat-kir"]
    [rows] = [f for f in task["form"]["fields"] if f["type"] == "dynamiclist"]
    assert rows["key"] == "tiltak_vurdering"
    for field in rows["components"]:
        assert set(field) >= {"key", "label", "type", "required", "options", "validate",
                              "components"}
    choice = next(f for f in rows["components"] if f["key"] == "gjennomfores")
    assert choice["options"] == [{"value": "ja", "label": "Ja"},
                                 {"value": "nei", "label": "Nei"}]
    assert json.loads(tiltak("tasks", "--as", "ola", "--json").stdout) == []

    tiltak("claim", task["id"], "--as", "sigrid")
    decision = {"tiltak_vurdering": [{"gjennomfores": "nei", "begrunnelse": "Dekket"}] * 3}
    done = json.loads(tiltak("complete", task["id"], "--as", "sigrid",
                             "--data", json.dumps(decision)).stdout)
    assert done == {"instance_id": instance_id, "status": "running"}

    [kpu] = json.loads(tiltak("tasks", "--as", "kari", "--json").stdout)
    fields = {f["key"]: f for f in kpu["form"]["fields"]}
    assert fields["kpu_motedato"]["type"] == "datetime" and fields["kpu_motedato"]["required"]
    assert fields["kpu_slutter_seg_til"]["type"] == "checkbox"

    shown = json.loads(tiltak("show", instance_id, "--json").stdout)
    assert set(shown) >= {"id", "process_key", "version", "status", "data", "open_tasks"}
    assert (shown["id"], shown["process_key"], shown["version"], shown["status"]) == \
        (instance_id, "hendelsesanalyse-oppfolging", 1, "running")
    assert shown["data"]["klinikker"] == ["kir"]
    assert [t["element_id"] for t in shown["open_tasks"]] == ["Task_KpuBehandling"]

    history = json.loads(tiltak("history", instance_id, "--json").stdout)
    assert [(e["type"], e["actor"]) for e in history] == \
        [("start", "frida"), ("claim", "sigrid"), ("complete", "sigrid")]
    verified = tiltak("verify", "--all")
    assert "1 of 1 instances verify clean" in verified.stdout
    assert re.search(r"verified 1/1, \d+/s in [\d.]+ s", verified.stderr)  # the progress

    # an auditor's checkpoint: the second run checks the chain and does not replay
    first = tiltak("verify", "--all", "--checkpoint", "revisjon.json")
    assert first.stdout.strip() == "1 of 1 instances verify clean"
    second = tiltak("verify", "--all", "--checkpoint", "revisjon.json", "--json")
    [verdict] = json.loads(second.stdout)
    assert verdict["ok"] and verdict["replayed"] is False
    tiltak("complete", kpu["id"], "--as", "kari", "--data", json.dumps(
        {"kpu_motedato": "2026-02-10", "kpu_innspill": "OK", "kpu_slutter_seg_til": True}))
    third = tiltak("verify", "--all", "--checkpoint", "revisjon.json")
    assert third.stdout.strip() == "1 of 1 instances verify clean"  # replayed: it went on
    fourth = tiltak("verify", "--all", "--checkpoint", "revisjon.json")
    assert "(1 unchanged since the checkpoint: chains checked, not replayed)" in fourth.stdout
    refused = tiltak("verify", instance_id, "--checkpoint", "revisjon.json", ok=False)
    assert refused.returncode == 2 and "--checkpoint goes with --all" in refused.stderr


def test_errors_go_to_stderr_with_a_non_zero_exit(tiltak):
    result = tiltak("start", "finnes-ikke", "--as", "frida", ok=False)
    assert result.returncode == 4 and "finnes-ikke" in result.stderr and result.stdout == ""
    result = tiltak("start", "hendelsesanalyse-oppfolging", "--as", "frida",
                    "--data", "{ikke json", ok=False)
    assert result.returncode == 2 and "not valid JSON" in result.stderr
    result = tiltak("start", "hendelsesanalyse-oppfolging", "--as", "frida",
                    "--data", json.dumps(dict(START_DATA, analyse_tittel="")), ok=False)
    assert result.returncode == 2 and "analyse_tittel" in result.stderr
    result = tiltak("start", "hendelsesanalyse-oppfolging", "--as", "ola",
                    "--data", json.dumps(START_DATA), ok=False)
    assert result.returncode == 5 and "fagavdeling" in result.stderr
    result = tiltak("deploy", str(FIXTURES / "finnes-ikke.bpmn"), ok=False)
    assert result.returncode != 0 and "finnes-ikke.bpmn" in result.stderr


def test_a_database_that_is_wrong_or_not_ready_is_said_so_without_a_traceback(
        database_url, tmp_path):
    """An operator's first mistakes with TILTAK_DATABASE_URL, each told in one line: what
    is no URL, a database Tiltak does not run on (its password not shown), one that cannot
    be reached, and one that has no schema yet (where no server or scheduler starts).
    `postgres://`, as hosting services write
    it, is taken for `postgresql://`; an empty setting is the embedded default."""
    def tiltak(url: str, *args: str):
        return tiltak_runner(url, tmp_path)(*args, ok=False)
    for url, said in [
            ("nonsense", "is not a URL: it should look like sqlite:///PATH or postgresql://"),
            ("mysql://drift:hemmelig@db.example/tiltak",
             "mysql://drift:***@db.example/tiltak names mysql, which Tiltak does not run on"),
            (f"postgresql://nobody@127.0.0.1:{free_port()}/none",
             "the database cannot be reached"),
            (database_url, "the database has no schema yet: run `tiltak init`")]:
        result = tiltak(url, "tasks")
        assert result.returncode == 1, (url, result.stderr)
        assert said in result.stderr and "Traceback" not in result.stderr, result.stderr
        assert "hemmelig" not in result.stderr
    for command in (["serve", "--port", str(free_port())], ["worker"]):  # not started
        result = tiltak(database_url, *command)
        assert result.returncode == 1 and "run `tiltak init`" in result.stderr, result.stderr
    result = tiltak("", "init")
    assert result.returncode == 0 and (tmp_path / "instance" / "tiltak.sqlite3").exists()
    if database_url.startswith("postgresql"):
        as_hosts_write_it = "postgres://" + database_url.split("://", 1)[1]
        assert tiltak(as_hosts_write_it, "init").returncode == 0
        assert "(no open tasks)" in tiltak(as_hosts_write_it, "tasks").stdout


def test_a_clinic_variant_is_deployed_with_a_tenant(tiltak):
    result = tiltak("deploy", str(FIXTURES / "klinikk-oppfolging-kir.bpmn"), "--tenant", "kir",
                    "--json")
    [deployed] = json.loads(result.stdout)
    assert (deployed["key"], deployed["tenant"], deployed["new"]) == \
        ("klinikk-oppfolging", "kir", True)
    again = json.loads(tiltak("deploy", str(PROCESSES), "--json").stdout)
    assert not any(d["new"] for d in again)


def test_choice_fields_list_the_options_the_organisation_gives(tiltak):
    """A Camunda Form field with `valuesKey` lists the options the server checks against
    (here the demo organisation's clinics and units), not an empty list."""
    tiltak("users", "add", "lise", "--groups", "ansatt,leder-kir-gastro")  # the unit's leader
    report = {"hva_skjedde": "Pasient fikk feil dose ved overflytting", "klinikk": "kir",
              "hendelsesdato": "2026-12-01", "enhet": "kir-gastro"}
    tiltak("start", "avvikshandtering", "--as", "lise", "--data", json.dumps(report))
    [task] = json.loads(tiltak("tasks", "--as", "lise", "--json").stdout)
    fields = {f["key"]: f for f in task["form"]["fields"] if f.get("key")}
    assert fields["klinikk"]["values_key"] == "klinikkvalg"
    clinics = [o["value"] for o in fields["klinikk"]["options"]]
    assert clinics[:3] == ["kir", "med", "psyk"]
    assert "kir-gastro" in [o["value"] for o in fields["enhet"]["options"]]


def _serve(database_url: str, tmp_path, workers: int) -> tuple[subprocess.Popen, int]:
    """`tiltak serve` with the scheduler, once it answers and its web workers are up."""
    env = {**os.environ, "TILTAK_DATABASE_URL": database_url, "TILTAK_SCHEDULER": "1"}
    return serve(env, tmp_path, workers)


def test_serve_runs_a_production_server_with_several_workers_and_the_scheduler(tiltak,
                                                                               database_url,
                                                                               tmp_path):
    """`tiltak serve` is gunicorn with worker processes (not Flask's development server),
    and on the embedded default the timer worker runs beside it."""
    server, port = _serve(database_url, tmp_path, workers=2)
    try:
        answered = urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2)
        assert "gunicorn" in answered.headers["Server"]
        processes = " ".join(children(server.pid).values())
        assert "tiltak.cli worker" in processes  # the timers
        assert processes.count("tiltak.cli serve") >= 2  # the web workers
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=30)[0]
    assert "Booting worker" in output and "Traceback" not in output


def test_a_server_killed_outright_takes_its_timer_worker_along(tiltak, database_url,
                                                               tmp_path):
    """SIGKILL gives `tiltak serve` no chance to stop what it started: its timer worker
    notices it has lost its server and stops by itself, as gunicorn's web workers do, so
    that no orphan goes on firing timers beside the server started next."""
    server, _ = _serve(database_url, tmp_path, workers=1)
    started = children(server.pid)
    timers = [pid for pid, args in started.items() if "tiltak.cli worker" in args]
    assert len(timers) == 1
    server.kill()
    output = server.communicate(timeout=30)[0]
    wait_until(lambda: not any(running(pid) for pid in started), seconds=20,
               what=f"the processes the server started stop: {started}")
    assert "Traceback" not in output


def test_the_readmes_command_line_walk_runs_as_written(tiltak, database_url):
    """The README's walk, pasted into a shell in the project's folder, as a newcomer
    would (the demo users it names are there; the fixture made them)."""
    readme = (PROCESSES.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Walking the six-step routine"):]
    block = section[section.index("```sh\n") + 6:section.index("```", section.index("```sh\n") + 6)]
    root = PROCESSES.parent
    if not (root / ".venv" / "bin" / "activate").exists():  # a checkout set up otherwise
        block = block.replace(". .venv/bin/activate\n", "")
    env = {**os.environ, "TILTAK_DATABASE_URL": database_url,
           "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=root, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Vurder og konkretiser foreslåtte tiltak" in out  # step 2 in sigrid's list
    assert "analyse_tittel: Forsinket behandling av sepsis ved overflytting" in out
    assert "Behandle analysen og tiltakene i KPU" in out  # the next step is open
    assert re.search(r"^\s+\d+\s+\S+ \S+\s+complete\s+sigrid\s+[0-9a-f]{12} Task_VurderTiltak",
                     out, re.MULTILINE)


BROKEN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs" targetNamespace="x">
  <bpmn:process id="brutt" isExecutable="true">
    <bpmn:startEvent id="Start_1" camunda:formRef="skjema-dokumentasjon" />
    <bpmn:sequenceFlow id="Flow_1" sourceRef="Start_1" targetRef="Task_Borte" />
    <bpmn:userTask id="Task_A" camunda:candidateGroups="ingen-slik-gruppe,kpu-${klinikk}"
        camunda:formRef="finnes-ikke" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_A" targetRef="End_1">
      <bpmn:conditionExpression>${a ==}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:endEvent id="End_1" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_lint_reports_every_problem_by_element_without_deploying(tiltak, tmp_path):
    clean = tiltak("lint", str(PROCESSES))
    assert clean.stdout.strip().endswith("0 errors, 0 warnings")

    broken = tmp_path / "brutt.bpmn"
    broken.write_text(BROKEN, encoding="utf-8")
    result = tiltak("lint", str(broken), ok=False)
    assert result.returncode == 3  # the README's code for a file that cannot be deployed
    lines = result.stdout.splitlines()
    assert "brutt.bpmn:6: error: element 'Flow_1': sequence flow 'Flow_1' leads to " \
           "'Task_Borte', which is not in 'brutt'" in lines
    assert any(line.startswith("brutt.bpmn:9: error: element 'Flow_2': the condition")
               for line in lines)
    warnings = [line for line in lines if ": warning: " in line]
    # the deployed form counts as there; a group made by an expression matches kpu-kir
    assert len(warnings) == 2 and all("element 'Task_A'" in w for w in warnings)
    assert any("'finnes-ikke'" in w for w in warnings)
    assert any("'ingen-slik-gruppe'" in w for w in warnings)
    assert lines[-1] == "1 files: 2 errors, 2 warnings"

    report = json.loads(tiltak("lint", str(broken), "--json", ok=False).stdout)
    errors = report["brutt.bpmn"]["errors"]
    assert [(e["mainElementId"], e["line"]) for e in errors] == [("Flow_1", 6), ("Flow_2", 9)]
    assert "brutt" not in tiltak("tasks", "--json").stdout  # nothing was deployed

    warned = tmp_path / "advarsel.bpmn"
    warned.write_text(BROKEN.replace(' targetRef="Task_Borte"', ' targetRef="Task_A"')
                      .replace("${a ==}", "${a == 1}"), encoding="utf-8")
    assert tiltak("lint", str(warned)).returncode == 0  # warnings alone do not fail
    assert tiltak("lint", str(tmp_path / "finnes-ikke.bpmn"), ok=False).returncode == 4

    # a condition that reads a variable nothing sets: a typing error the linter names
    routine = (PROCESSES / "avvikshandtering.bpmn").read_text(encoding="utf-8")
    typo = routine.replace(">${alvorlig}</bpmn:conditionExpression>",
                           ">${alvorlg}</bpmn:conditionExpression>", 1)
    assert typo != routine
    (tmp_path / "avvikshandtering.bpmn").write_text(typo, encoding="utf-8")
    found = tiltak("lint", str(tmp_path / "avvikshandtering.bpmn")).stdout.splitlines()
    line_of = typo[:typo.index("${alvorlg}")].count("\n") + 1
    assert [line for line in found if "'alvorlg'" in line] == [
        f"avvikshandtering.bpmn:{line_of}: warning: element 'Flow_PersonerAlvorlig': "
        "conditionExpression reads 'alvorlg', which no form, script, mapping or result of "
        "these files or of what is deployed sets"]
    assert not [line for line in found if "reads '" in line and "'alvorlg'" not in line]
