"""The engine's refusals, lint findings and migration reasons in the user's language:
every code the engine gives has a text, translated into Bokmål and Swedish, and a
Norwegian caseworker meets a refusal as a sentence that names the task, case, process or
file, on SQLite and PostgreSQL. The engine's English stays below it for support, and for
the command line and the API."""

from __future__ import annotations

import ast
import html
import re
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from engine.identity.users import add_user
from engine.migration.repoint import Problem
from webui import create_app, messages

from walks import PASSWORD, START_DATA, app_with_users, task_for

ROOT = Path(__file__).resolve().parent.parent
WEBUI = ROOT / "webui"
CODE = re.compile(r"^[a-z]+(_[a-z0-9]+)+$|^[a-z]+$")
# the calls that give a code, with the place of the code among their arguments:
# TiltakError.coded, the model checks' refusals, a decision table's errors, a migration's
# problems, an expression's check and the parser's refusals in SpiffWorkflow's words
GIVING = {"coded": 0, "refuse": 2, "DecisionError": 1, "Problem": 2, "check_expression": 4,
          "_unsupported_or": 0}


def _codes_in(node: ast.AST) -> set[str]:
    """The code-like texts of an argument: itself, or the branches of a conditional."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
            CODE.fullmatch(node.value):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _codes_in(node.body) | _codes_in(node.orelse)
    return set()


def _sentence(node: ast.AST) -> bool:
    """An English message: a text of several words, formatted or not."""
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str) and " " in node.value)


def codes_given(package: str) -> set[str]:
    """Every code a package's modules give: the code argument of the calls above (or its
    default), a code chosen before such a call (`code = "a" if ... else "b"`), and the
    (message, code, ...) and (code, values) pairs the linter and the parser pass on."""
    found: set[str] = set()
    for file in sorted((ROOT / package).rglob("*.py")):
        if "versions" in file.relative_to(ROOT).parts:
            continue
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else \
                    getattr(node.func, "id", "")
                if name in GIVING:
                    arguments = node.args[GIVING[name]:GIVING[name] + 1]
                    arguments += [k.value for k in node.keywords if k.arg == "code"]
                    for argument in arguments:
                        found |= _codes_in(argument)
            elif isinstance(node, ast.FunctionDef):  # `code: str = "..."`, a default
                named = node.args.args[len(node.args.args) - len(node.args.defaults):]
                for argument, default in zip(named, node.args.defaults, strict=True):
                    if argument.arg == "code":
                        found |= _codes_in(default)
            elif isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "code" for t in node.targets):
                found |= _codes_in(node.value)
            elif isinstance(node, ast.Tuple) and len(node.elts) >= 2:
                first, second = node.elts[0], node.elts[1]
                if _sentence(first):
                    found |= _codes_in(second)  # (message, code[, values])
                elif isinstance(second, ast.Dict):
                    found |= _codes_in(first)  # (code, values)
    return found


def test_every_code_the_engine_gives_has_a_text_and_every_text_a_code():
    engine_codes = codes_given("engine")
    assert {"task_done_by", "variable_unset", "active_not_mapped", "kind_changes",
            "duplicate_id", "decision_rule_invalid", "model_unsupported",
            "condition_unparsable", "form_ref_missing", "file_type_refused"} <= engine_codes
    assert engine_codes - messages.TEXTS.keys() == set()
    assert messages.TEXTS.keys() - engine_codes - codes_given("webui") == set()


def test_every_text_is_translated_into_bokmal_and_swedish():
    marked = {msgid for module in ("messages.py", "findings.py")
              for _line, msgid, _comments, _context
              in extract_from_file("python", str(WEBUI / module)) if isinstance(msgid, str)}
    assert len(marked) > 150
    for language in ("nb", "sv"):
        with (WEBUI / "translations" / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
            catalog = read_po(f)
        for msgid in marked:
            entry = catalog.get(msgid)
            assert entry is not None and entry.string and not entry.fuzzy, (language, msgid)
            wanted = set(re.findall(r"%\((\w+)\)s", msgid))
            assert set(re.findall(r"%\((\w+)\)s", entry.string)) == wanted, (language, msgid)


SAMPLE = {
    "who": "solveig", "at": datetime(2026, 3, 2, 9, 30, tzinfo=UTC), "task": "Vurder tiltak",
    "element": "Task_Vurder", "case": "c0ffee", "key": "klinikk-oppfolging", "version": 3,
    "name": "Oppfølging", "groups": ["fagavdeling"], "caller": "a", "called": "b",
    "process": "p", "names": ["alle_klinikker"], "property": "kontekst", "detail": "x=1",
    "rounds": 1000, "message": "Referat", "business_key": "HA-7", "status": "completed",
    "file": "notat.exe", "accepted": [".pdf", ".txt"], "limit": 100000, "attachment": 4,
    "seq": 9, "count": 2, "held": "cases", "group": "prosesseier", "definition": 12,
    "deployment": 5, "path": "prosesser", "target": "Task_Ny", "target_kind": "ScriptTask",
    "kind": "UserTask", "runs": "tiltak", "calls": "tiltak", "target_calls": "tiltak-2",
    "where": "conditionExpression", "variable": "utfall", "form": "skjema-x",
    "id": "Task_A", "start": "Task_A", "container": "Process_1", "flow": "Flow_1",
    "end": "Task_B", "event": "Boundary_1", "attached": "Task_C", "ref": "Melding_1",
    "expression": "${a +}", "attribute": "camunda:dueDate", "mapping": "single",
    "mappings": ["resultList", "singleEntry"], "topic": "varsel", "collection": "${a.b}",
    "tenant": "kir", "what": "camunda:candidateGroups", "before": "a", "after": "b",
    "decision": "Beslutning_1", "required": "Beslutning_2", "cycle": "A -> B -> A",
    "aggregation": "SUM", "policy": "PRIORITY", "policies": ["ANY", "FIRST"],
    "input": "Alder", "output": "Output_1", "rule": 2, "rule_id": "Rule_2", "byte": 7,
    "line": 3, "column": 4, "format": "javascript", "number": 2,
    "faults": [Problem("Task_A", "version 2 of p has no such element",
                       "plan_source_missing", {"element": "Task_A", "key": "p",
                                               "version": 2})],
}


class NoPeople:
    """An engine that knows nobody: a person is shown by their user name."""

    class identity:  # noqa: N801 - stands in for the engine's identity service
        @staticmethod
        def user(name):
            return None


@pytest.mark.parametrize("language", ["nb", "sv"])
def test_every_text_can_be_said_in_bokmal_and_swedish(tmp_path, language):
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance")}, engine=NoPeople())
    said = {}
    for lang in ("en", language):
        with app.test_request_context(f"/?lang={lang}"):
            said[lang] = {code: messages.say(code, SAMPLE, "ENGLISH")
                          for code in messages.TEXTS}
    for code, english in said["en"].items():
        assert english != "ENGLISH", code  # every value the text wants is there
        assert said[language][code] != english, (language, code)


# --- a Norwegian caseworker meets the engine's refusals ---

@pytest.fixture
def app(deployed, tmp_path):
    return app_with_users(deployed, tmp_path, {
        name: sorted(deployed.identity.groups(name))
        for name in ("frida", "sigrid", "magnus", "ola", "rita", "per")})


def token(client, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def signed_in(app, user: str):
    client = app.test_client()
    response = client.post("/login", data={"csrf_token": token(client), "username": user,
                                           "password": PASSWORD})
    assert response.status_code == 302, user
    return client


def said_on(response) -> str:
    """What the page says above the engine's own words (folded below for support)."""
    text = re.sub(r"<(script|style)[^>]*>.*?</\1>", "", response.get_data(as_text=True),
                  flags=re.S)
    text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)))
    return text.split("Detaljer til brukerstøtte")[0]


def review_task(engine):
    case = engine.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                data=dict(START_DATA, klinikker=["kir"]), business_key="HA-31")
    return case, task_for(engine, "sigrid", "Task_VurderTiltak", case.id)


def test_a_task_of_another_group_and_one_someone_else_took_are_named(app, deployed):
    _case, task = review_task(deployed)
    magnus = signed_in(app, "magnus")  # the secretariat of another clinic
    refused = magnus.post(f"/tasks/{task.id}/claim", data={"csrf_token": token(magnus, "/")})
    assert refused.status_code == 403
    said = said_on(refused)
    assert "Du er ikke blant dem som kan arbeide med oppgaven «Vurder og konkretiser " \
           "foreslåtte tiltak» (Task_VurderTiltak)." in said, said
    assert "may not work" not in said

    with deployed.db.transaction() as session:  # a second secretary of the clinic
        add_user(session, "solveig", ["kpu-sekretariat-kir"], display_name="Solveig Sæther",
                 password=PASSWORD)
    deployed.tasks.claim(task.id, actor="solveig")
    sigrid = signed_in(app, "sigrid")
    taken = sigrid.post(f"/tasks/{task.id}", data={
        "csrf_token": token(sigrid, "/"), "tiltak_vurdering#rows": "3"})
    assert taken.status_code == 403
    said = said_on(taken)
    assert "Oppgaven «Vurder og konkretiser foreslåtte tiltak» er tildelt Solveig Sæther, " \
           "ikke deg." in said, said
    assert "assigned to" not in said


def test_a_refused_document_is_named_by_its_file(app, deployed):
    _case, task = review_task(deployed)
    deployed.tasks.claim(task.id, actor="sigrid")
    sigrid = signed_in(app, "sigrid")
    page = f"/tasks/{task.id}"
    said = {}
    for name, content in (("program.exe", b"MZ"), ("tom.pdf", b"")):
        said[name] = said_on(sigrid.post(f"{page}/attachments", data={
            "csrf_token": token(sigrid, page), "file": (BytesIO(content), name)},
            content_type="multipart/form-data", follow_redirects=True))
    assert "«program.exe»: filer av denne typen tas ikke imot. Tillatt: .csv, .doc" in \
        said["program.exe"]
    assert "«tom.pdf» er tom." in said["tom.pdf"]
    assert not any("not accepted" in s or "is empty" in s for s in said.values())
    assert deployed.history.attachments(task.instance_id) == []


def test_starting_a_routine_one_may_not_start_names_the_routine_and_its_starters(
        app, deployed):
    routine = deployed.repository.latest("hendelsesanalyse-oppfolging")
    response = signed_in(app, "ola").get("/start/hendelsesanalyse-oppfolging")
    assert response.status_code == 403
    said = said_on(response)
    assert f"Du kan ikke starte «{routine.name}»: den startes av Fagavdelingen." in said


def test_an_auditor_following_a_case_and_a_retry_without_an_incident_are_refused_in_words(
        app, deployed):
    case, _task = review_task(deployed)
    rita = signed_in(app, "rita")
    follow = rita.post(f"/instances/{case.id}/follow",
                       data={"csrf_token": token(rita, "/"), "follow": "1"})
    assert follow.status_code == 403
    assert "Du er revisor: revisorer leser saker og endrer dem aldri." in said_on(follow)

    per = signed_in(app, "per")
    retry = per.post(f"/instances/{case.id}/retry", data={"csrf_token": token(per, "/")})
    assert retry.status_code == 409
    said = said_on(retry)
    assert "Saken har ikke stoppet med feil: det er ingenting å prøve på nytt." in said
    assert "no incident" not in said


def test_a_step_the_case_does_not_have_is_named(app, deployed):
    case, _task = review_task(deployed)
    steps = len(deployed.history.events(case.id))
    response = signed_in(app, "rita").get(f"/audit/{case.id}?step={steps + 5}")
    assert response.status_code == 404
    assert f"Saken har ikke noe steg {steps + 5}: den har {steps}." in said_on(response)


def test_an_auditors_search_with_a_version_0_or_a_reversed_period_is_refused_in_words(app):
    rita = signed_in(app, "rita")
    version = rita.get("/audit/?version=0")
    assert version.status_code == 422
    assert "version: ikke et heltall fra 1: 0" in said_on(version)
    period = rita.get("/audit/?from=2026-03-01&to=2026-02-01")
    assert period.status_code == 422
    said = said_on(period)
    assert "Perioden slutter før den begynner." in said and "period" not in said
