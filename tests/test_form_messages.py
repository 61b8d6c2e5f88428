"""Form errors in the user's language: the forms layer says what is wrong as a code with
parameters (and English text, which the API and command line keep); the web UI shows it
in Bokmål, Swedish or English, on start forms and task forms, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import copy
import html
import json
import pickle
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from engine.errors import InvalidInput
from engine.identity.users import add_user
from forms.camunda_forms import form_from_camunda_form
from forms.messages import ENGLISH, Message, Messages, join
from forms.validation import FormValidationError, validate_submission
from webui import create_app, form_messages

PASSWORD = "riktig-passord"
WEBUI = Path(form_messages.__file__).parent

FORM = {
    "id": "skjemaprove-skjema", "type": "default", "schemaVersion": 16,
    "components": [
        {"type": "textfield", "id": "F1", "key": "tittel", "label": "Tittel",
         "validate": {"required": True, "minLength": 5, "maxLength": 20}},
        {"type": "number", "id": "F2", "key": "antall", "label": "Antall", "decimalDigits": 0,
         "validate": {"min": 1, "max": 10}},
        {"type": "number", "id": "F3", "key": "andel", "label": "Andel",
         "validate": {"min": 0.5, "max": 2.5}},
        {"type": "number", "id": "F4", "key": "timer", "label": "Timer",
         "validate": {"max": 4000}},
        {"type": "datetime", "id": "F5", "key": "dato", "subtype": "date", "dateLabel": "Dato"},
        {"type": "datetime", "id": "F6", "key": "klokka", "subtype": "time",
         "timeLabel": "Klokka"},
        {"type": "select", "id": "F7", "key": "valg", "label": "Valg",
         "values": [{"label": "Ja", "value": "ja"}, {"label": "Nei", "value": "nei"}]},
        {"type": "checklist", "id": "F8", "key": "hvem", "label": "Hvem",
         "values": [{"label": v, "value": v} for v in ("a", "b", "c")],
         "validate": {"minLength": 1, "maxLength": 2}},
        {"type": "checklist", "id": "F9", "key": "minst", "label": "Minst to",
         "values": [{"label": v, "value": v} for v in ("a", "b", "c")],
         "validate": {"minLength": 2}},
        {"type": "textfield", "id": "F10", "key": "kode", "label": "Kode",
         "validate": {"pattern": "[A-Z]{2}-[0-9]+"}},
        {"type": "textarea", "id": "F11", "key": "merknad", "label": "Merknad",
         "validate": {"maxLength": 1}},
        {"type": "checkbox", "id": "F12", "key": "bekreftet", "label": "Jeg bekrefter",
         "validate": {"required": True}},
        {"type": "dynamiclist", "id": "F13", "label": "Rader", "path": "rader",
         "isRepeating": True, "validate": {"maxLength": 2}, "components": [
             {"type": "textfield", "id": "F14", "key": "tekst", "label": "Tekst",
              "validate": {"required": True}}]},
    ],
}

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs_Skjemaprove"
    targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="skjemaprove" name="Skjemaprøve" isExecutable="true"
      camunda:candidateStarterGroups="ansatt" camunda:historyTimeToLive="P30D">
    <bpmn:startEvent id="StartEvent_Skjema" camunda:formRef="skjemaprove-skjema"
        camunda:formRefBinding="latest">
      <bpmn:outgoing>Flow_1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_Skjema" targetRef="Task_Fyll" />
    <bpmn:userTask id="Task_Fyll" name="Fyll ut på nytt" camunda:candidateGroups="ansatt"
        camunda:formRef="skjemaprove-skjema" camunda:formRefBinding="latest">
      <bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_Fyll" targetRef="EndEvent_Slutt" />
    <bpmn:endEvent id="EndEvent_Slutt">
      <bpmn:incoming>Flow_2</bpmn:incoming>
    </bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""

GOOD = {"tittel": "Riktig tittel", "antall": 3, "andel": 1.5, "timer": 12,
        "dato": "2026-03-05", "klokka": "08:30", "valg": "ja", "hvem": ["a"],
        "minst": ["a", "b"], "kode": "AB-12", "merknad": "x", "bekreftet": True,
        "rader": [{"tekst": "Første"}]}

# posted as the browser sends it: every value text, rows counted under `name#rows`
BAD_POST = {"tittel": "kort", "antall": "3.5", "andel": "7", "timer": "5000",
            "dato": "5. mars", "klokka": "25:00", "valg": "kanskje", "hvem": ["a", "b", "c"],
            "minst": ["a"], "kode": "ab12", "merknad": "for lang",
            "rader#rows": "3", "rader[0].tekst": "", "rader[1].tekst": "To",
            "rader[2].tekst": "Tre"}

# as the API receives it
BAD_JSON = {"tittel": "kort", "antall": 3.5, "andel": 7, "timer": 5000, "dato": "5. mars",
            "klokka": "25:00", "valg": "kanskje", "hvem": ["a", "b", "c"], "minst": ["a"],
            "kode": "ab12", "merknad": "for lang", "bekreftet": False,
            "rader": [{"tekst": ""}, {"tekst": "To"}, {"tekst": "Tre"}]}

ENGLISH_ERRORS = {
    "tittel": "must be 5 to 20 characters",
    "antall": "must be a whole number",
    "andel": "must be between 0.5 and 2.5",
    "timer": "must be at most 4000",
    "dato": "not a valid date (YYYY-MM-DD)",
    "klokka": "not a valid time (HH:MM)",
    "valg": "'kanskje' is not one of the options: ja, nei",
    "hvem": "choose between 1 and 2",
    "minst": "choose at least 2",
    "kode": "is not in the expected format ([A-Z]{2}-[0-9]+)",
    "merknad": "must be at most 1 characters",
    "bekreftet": "must be checked",
    "rader": "at most 2 rows",
    "rader[0].tekst": "is required",
}

SHOWN = {
    "nb": {
        "tittel": "må ha mellom 5 og 20 tegn",
        "antall": "må være et heltall",
        "andel": "må være mellom 0,5 og 2,5",
        "timer": "må være høyst 4\u00a0000",
        "dato": "ikke en gyldig dato (ÅÅÅÅ-MM-DD)",
        "klokka": "ikke et gyldig klokkeslett (TT:MM)",
        "valg": "“kanskje” er ikke blant valgene: ja, nei",
        "hvem": "velg mellom 1 og 2 alternativer",
        "minst": "velg minst 2 alternativer",
        "kode": "har ikke riktig format ([A-Z]{2}-[0-9]+)",
        "merknad": "kan ikke være lengre enn 1 tegn",
        "bekreftet": "må krysses av",
        "rader": "høyst 2 rader",
        "rader[0].tekst": "må fylles ut",
    },
    "sv": {
        "tittel": "måste ha mellan 5 och 20 tecken",
        "antall": "måste vara ett heltal",
        "andel": "måste vara mellan 0,5 och 2,5",
        "timer": "får vara högst 4\u00a0000",
        "dato": "inte ett giltigt datum (ÅÅÅÅ-MM-DD)",
        "klokka": "inte en giltig tid (TT:MM)",
        "valg": "“kanskje” är inte ett av alternativen: ja, nei",
        "hvem": "välj mellan 1 och 2 alternativ",
        "minst": "välj minst 2 alternativ",
        "kode": "har inte rätt format ([A-Z]{2}-[0-9]+)",
        "merknad": "får ha högst 1 tecken",
        "bekreftet": "måste kryssas i",
        "rader": "högst 2 rader",
        "rader[0].tekst": "måste fyllas i",
    },
    "en": {
        "tittel": "must be 5 to 20 characters long",
        "antall": "must be a whole number",
        "andel": "must be between 0.5 and 2.5",
        "timer": "must be at most 4,000",
        "dato": "not a valid date (YYYY-MM-DD)",
        "klokka": "not a valid time (HH:MM)",
        "valg": "“kanskje” is not one of the options: ja, nei",
        "hvem": "choose between 1 and 2 options",
        "minst": "choose at least 2 options",
        "kode": "is not in the expected format ([A-Z]{2}-[0-9]+)",
        "merknad": "must be at most 1 character long",
        "bekreftet": "must be checked",
        "rader": "at most 2 rows",
        "rader[0].tekst": "is required",
    },
}


def errors_of(data):
    with pytest.raises(FormValidationError) as caught:
        validate_submission(form_from_camunda_form(FORM), data)
    return caught.value.errors


# --- the forms layer: codes and parameters behind unchanged English text ---

def test_the_test_form_accepts_good_values():
    assert validate_submission(form_from_camunda_form(FORM), GOOD)["antall"] == 3


def test_every_error_carries_a_code_and_its_parameters_behind_the_english_text():
    errors = errors_of(BAD_JSON)
    assert errors == ENGLISH_ERRORS
    for path, message in errors.items():
        assert isinstance(message, Message), path
        assert message.code in ENGLISH and str(message) == ENGLISH_ERRORS[path]
    assert errors["tittel"].code == "length_between"
    assert errors["tittel"].params == {"min": 5, "max": 20}
    assert errors["valg"].params == {"value": "kanskje", "options": "ja, nei"}
    assert errors["rader"].params == {"limit": 2}
    assert json.loads(json.dumps(errors)) == ENGLISH_ERRORS


@pytest.mark.parametrize("data, path, code", [
    ({"antall": True}, "antall", "not_number"),
    ({"antall": "mange"}, "antall", "not_whole_number"),
    ({"andel": 10 ** 400}, "andel", "number_too_large"),
    ({"andel": "mye"}, "andel", "not_number"),
    ({"andel": "inf"}, "andel", "not_finite"),
    ({"tittel": 5}, "tittel", "not_text"),
    ({"bekreftet": "kanskje"}, "bekreftet", "not_boolean"),
    ({"hvem": "a"}, "hvem", "not_option_list"),
    ({"rader": "alle"}, "rader", "not_rows"),
    ({"ukjent": 1}, "ukjent", "unknown_field"),
    ({"tittel": None}, "tittel", "required"),
])
def test_type_errors_have_codes_too(data, path, code):
    message = errors_of(dict(GOOD, **data))[path]
    assert isinstance(message, Message) and message.code == code
    assert str(message) == ENGLISH[code].format(**message.params)


def test_several_problems_of_a_field_keep_each_code():
    form = form_from_camunda_form({"id": "f", "components": [
        {"type": "textfield", "id": "F", "key": "kode", "label": "Kode",
         "validate": {"maxLength": 3, "pattern": "[A-Z]+"}}]})
    with pytest.raises(FormValidationError) as caught:
        validate_submission(form, {"kode": "abcdef"})
    message = caught.value.errors["kode"]
    assert isinstance(message, Messages)
    assert message == "must be at most 3 characters; is not in the expected format ([A-Z]+)"
    assert [part.code for part in message.parts] == ["max_length", "pattern"]


def test_a_whole_submission_that_is_not_an_object_has_a_code():
    with pytest.raises(FormValidationError) as caught:
        validate_submission(form_from_camunda_form(FORM), ["ikke", "et", "objekt"])
    assert caught.value.errors[""].code == "not_an_object"


def test_a_choice_count_with_one_limit_names_only_that_limit():
    assert errors_of(dict(GOOD, minst=["a"]))["minst"] == "choose at least 2"
    form = form_from_camunda_form({"id": "f", "components": [
        {"type": "checklist", "id": "F", "key": "hvem", "label": "Hvem",
         "values": [{"label": v, "value": v} for v in "abc"], "validate": {"maxLength": 1}}]})
    with pytest.raises(FormValidationError) as caught:
        validate_submission(form, {"hvem": ["a", "b"]})
    assert caught.value.errors == {"hvem": "choose at most 1"}


def test_messages_survive_copying_and_pickling_and_are_never_reformatted():
    message = Message("between", min=1, max=10)
    joined = join([message, Message("pattern", pattern="[a-z]{2}")])
    for same in (copy.deepcopy(message), pickle.loads(pickle.dumps(message))):
        assert same == message and same.code == "between" and same.params == message.params
    again = pickle.loads(pickle.dumps(joined))
    assert again == joined and [p.code for p in again.parts] == ["between", "pattern"]
    assert message.format(min=99) is message  # marshmallow formats what it is given
    assert join([message, message]) is message


# --- the web UI: the same errors in the user's language ---

def test_every_code_has_a_text_translated_into_bokmal_and_swedish():
    assert form_messages.TEXTS.keys() == ENGLISH.keys()
    marked = {msgid if isinstance(msgid, str) else msgid[0]
              for _line, msgid, _comments, _context
              in extract_from_file("python", str(WEBUI / "form_messages.py"))}
    assert len(marked) == len(ENGLISH)
    for language in ("nb", "sv"):
        with (WEBUI / "translations" / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
            catalog = read_po(f)
        for msgid in marked:
            entry = catalog.get(msgid)
            assert entry is not None and not entry.fuzzy, (language, msgid)
            strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
            assert all(strings), (language, msgid)


SAMPLE_PARAMS = {"count": 3, "limit": 7, "min": 2, "max": 9, "value": "kanskje",
                 "options": "ja, nei", "pattern": "[A-Z]+", "label": "Ansvarlig",
                 "groups": "vaktlag"}


@pytest.mark.parametrize("language", ["nb", "sv"])
def test_every_message_can_be_said_in_bokmal_and_swedish(tmp_path, language):
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance")}, engine=object())
    with app.test_request_context(f"/?lang={language}"):
        for code, english in ENGLISH.items():
            names = set(re.findall(r"{(\w+)}", english))
            message = Message(code, **{n: SAMPLE_PARAMS[n] for n in names})
            said = form_messages.localize(message)
            assert said and said != str(message), (language, code)
            for name in names:
                assert str(SAMPLE_PARAMS[name]) in said, (language, code)
        assert form_messages.localize("from the engine") == "from the engine"


@pytest.fixture
def app(engine, tmp_path):
    engine.repository.deploy({"skjemaprove.bpmn": BPMN.encode(),
                              "skjemaprove.form": json.dumps(FORM).encode()}, actor="per")
    with engine.db.transaction() as session:
        add_user(session, "nora", ["ansatt"], password=PASSWORD, language="nb")
        add_user(session, "sven", ["ansatt"], password=PASSWORD, language="sv")
        add_user(session, "emma", ["ansatt"], password=PASSWORD, language="en")
    return create_app({"INSTANCE_PATH": str(tmp_path / "instance")}, engine=engine)


def token(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def logged_in(app, user: str):
    client = app.test_client()
    response = client.post("/login", data={"csrf_token": token(client, "/login"),
                                           "username": user, "password": PASSWORD})
    assert response.status_code == 302
    return client


def shown_errors(page: str) -> dict[str, str]:
    """The message under each field, by the field's input id (path with - for [ ] .)."""
    found = re.findall(r'<p class="error" id="f-([^"]+)-error" role="alert">([^<]*)</p>', page)
    rows = re.findall(r'data-list="([^"]+)">\s*<legend>[^<]*</legend>\s*'
                      r'<p class="error" role="alert">([^<]*)</p>', page)
    return {**{name: html.unescape(text) for name, text in found},
            **{name: html.unescape(text) for name, text in rows}}


def by_input_id(errors: dict[str, str]) -> dict[str, str]:
    return {path if path == "rader" else
            path.replace("[", "-").replace("]", "").replace(".", "-"): text
            for path, text in errors.items()}


@pytest.mark.parametrize("user, language", [("nora", "nb"), ("sven", "sv"), ("emma", "en")])
def test_a_start_form_with_bad_values_shows_every_error_in_the_users_language(
        app, engine, user, language):
    client = logged_in(app, user)
    response = client.post("/start/skjemaprove",
                           data={"csrf_token": token(client, "/start/skjemaprove"), **BAD_POST})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert shown_errors(page) == by_input_id(SHOWN[language])
    summary = page.split('<div class="error-summary"')[1].split("</div>")[0]
    # the summary names the field by its label and row, never by its path
    row = {"nb": "rad 1", "sv": "rad 1", "en": "row 1"}[language]
    assert html.escape(f"Rader, {row}, Tekst: {SHOWN[language]['rader[0].tekst']}") in summary
    assert "rader[0]" not in summary
    if language != "en":
        for english in ("is required", "must be", "not a valid", "characters", "choose"):
            assert english not in page


def test_a_task_form_with_bad_values_speaks_swedish_to_a_swedish_user(app, engine):
    instance = engine.runtime.start("skjemaprove", actor="nora", data=GOOD)
    client = logged_in(app, "sven")
    [task] = [t for t in engine.tasks.find(actor="sven") if t.instance_id == instance.id]
    page_url = f"/tasks/{task.id}"
    engine.tasks.claim(task.id, actor="sven")  # a task is completed by the one who claimed it
    response = client.post(page_url, data={"csrf_token": token(client, page_url),
                                           "tittel": "", "antall": "11", "dato": "2026-13-40",
                                           "rader#rows": "1", "rader[0].tekst": "Ok"})
    assert response.status_code == 422
    errors = shown_errors(response.get_data(as_text=True))
    assert errors["tittel"] == "måste fyllas i"
    assert errors["antall"] == "måste vara mellan 1 och 10"
    assert errors["dato"] == "inte ett giltigt datum (ÅÅÅÅ-MM-DD)"
    assert errors["bekreftet"] == "måste kryssas i"
    engine.tasks.unclaim(task.id, actor="sven")
    engine.tasks.claim(task.id, actor="nora")
    norwegian = logged_in(app, "nora")
    response = norwegian.post(page_url, data={"csrf_token": token(norwegian, page_url),
                                              "tittel": "", "rader#rows": "0",
                                              "antall": "11", "bekreftet": "true"})
    errors = shown_errors(response.get_data(as_text=True))
    assert errors == {"tittel": "må fylles ut", "antall": "må være mellom 1 og 10"}


def test_the_language_chosen_on_the_page_wins_over_the_users_own(app):
    client = logged_in(app, "nora")
    client.get("/start?lang=sv")
    response = client.post("/start/skjemaprove",
                           data={"csrf_token": token(client, "/start/skjemaprove"), **BAD_POST})
    assert shown_errors(response.get_data(as_text=True))["tittel"] == SHOWN["sv"]["tittel"]


@pytest.mark.parametrize("user", ["nora", "sven"])
def test_the_api_keeps_its_english_messages_whatever_the_users_language(app, engine, user):
    client = logged_in(app, user)
    response = client.post("/api/processes/skjemaprove/instances", json={"data": BAD_JSON})
    assert response.status_code == 422
    body = response.get_json()
    assert body == {"code": 422, "status": "Invalid input", "errors": ENGLISH_ERRORS}
    instance = engine.runtime.start("skjemaprove", actor="nora", data=GOOD)
    [task] = [t for t in engine.tasks.find(actor=user) if t.instance_id == instance.id]
    client.post(f"/api/tasks/{task.id}/claim", json={})
    response = client.post(f"/api/tasks/{task.id}/complete",
                           json={"data": dict(GOOD, antall=11, tittel="")})
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"antall": "must be between 1 and 10",
                                             "tittel": "is required"}


def test_an_error_page_for_refused_values_is_in_the_users_language(app):
    def refuse():
        raise InvalidInput({"antall": Message("at_least", min=2), "": "no such thing"})
    app.add_url_rule("/refuse", view_func=refuse)
    client = logged_in(app, "sven")
    response = client.get("/refuse")
    assert response.status_code == 422
    assert "antall: måste vara minst 2; no such thing" in response.get_data(as_text=True)
