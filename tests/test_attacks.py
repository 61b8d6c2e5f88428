"""Arbitrary input thrown at the JSON API and the command line (Hypothesis): whatever
arrives, the answer is a clear refusal or a result, never a server error or a traceback,
and a refused request changes nothing."""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from test_webui import PASSWORD, app, login  # noqa: F401 - the app fixture

from engine.identity.users import add_user
from tiltak import cli

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

# JSON as clients send it, odd corners included: long and odd text (surrogates can
# only come escaped), big and small numbers, nesting
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10 ** 30, max_value=10 ** 30),
                    st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=300), st.sampled_from(["\\ud800", "x" * 120_000, ""]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=20), inner, max_size=5)),
    max_leaves=30)
FIELDS = st.sampled_from(["hva_skjedde", "hendelsesdato", "klinikk", "enhet", "anonym",
                          "sensitiv", "strakstiltak", "hendelsestype", "annet"])
FORMS = st.dictionaries(FIELDS, VALUES, max_size=8)


def body(value) -> str:
    text = json.dumps(value)
    return text.replace('"\\\\ud800"', '"\\ud800"')  # a lone surrogate, as a client may send


@pytest.fixture
def signed_in(app, deployed):  # noqa: F811
    with deployed.db.transaction() as session:
        add_user(session, "nora", ["ansatt"], password=PASSWORD)
    client = app.test_client()
    login(client, "nora")
    return client


@SETTINGS
@given(data=st.one_of(FORMS, VALUES))
def test_the_api_answers_any_json_without_a_server_error(signed_in, deployed, data):
    response = signed_in.post("/api/processes/avvikshandtering/instances",
                              data=body({"data": data, "business_key": "AV-1"}),
                              content_type="application/json")
    assert response.status_code in (201, 400, 422), response.get_data(as_text=True)[:300]
    assert response.is_json


@SETTINGS
@given(text=st.one_of(st.text(max_size=400), FORMS.map(body), VALUES.map(body)))
def test_the_command_line_answers_any_data_without_a_traceback(deployed, database_url,
                                                               monkeypatch, capsys, text):
    monkeypatch.setenv("TILTAK_DATABASE_URL", database_url)
    before = len(deployed.history.find_instance_ids())
    # as a script passes a value that may begin with "-": in one argument with its option
    code = cli.main(["start", "avvikshandtering", "--as", "system", f"--data={text}"])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    if code == 0:
        assert len(deployed.history.find_instance_ids()) == before + 1
    else:
        assert code == 2 and out.err.startswith("error:"), out.err[:300]
        assert len(deployed.history.find_instance_ids()) == before


def test_every_operation_of_the_openapi_document_answers_without_a_server_error(
        signed_in, app, deployed):  # noqa: F811
    """Schemathesis generates requests from the API's own OpenAPI document (parameters,
    bodies, the page number included) and sends them as a signed-in user."""
    deployed.runtime.start("avvikshandtering", actor="nora", data={
        "hva_skjedde": "Feil dose gitt ved overflytting", "hendelsesdato": "2026-01-04",
        "klinikk": "kir", "enhet": "kir-gastro", "anonym": False, "sensitiv": False})
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    cookie = {"Cookie": f"session={signed_in.get_cookie('session').value}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 5

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def call(case):
            case.call_and_validate(headers=cookie, checks=[not_a_server_error])
        call()
