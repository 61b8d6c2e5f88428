"""Input that could stall or crash the server gets a clear refusal that names where it is,
in the same words from the engine, the JSON API and the command line (engine/limits.py),
and changes nothing."""

from __future__ import annotations

import json

import pytest
from command_line import CommandLine
from test_webui import PASSWORD, app, login  # noqa: F401 - the app fixture

from engine import limits
from engine.errors import InvalidInput
from engine.identity.users import add_user

DEEP = '{"a":' * 100_000 + "1" + "}" * 100_000

# (name, --data text as the command line or an API client sends it, what the refusal says)
BAD_JSON = [
    ("nested 100,000 deep", DEEP, "nested more than"),
    ("a 5,000-digit number", '{"hva_skjedde": ' + "9" * 5000 + "}", "more digits"),
    ("a lone surrogate", '{"hva_skjedde": "\\ud800"}', "lone surrogate"),
    ("100,000 rows", json.dumps({"rader": [{"x": 1}] * 100_000}), "more than 1000 entries"),
    ("a text of 200,000 characters", json.dumps({"hva_skjedde": "x" * 200_000}),
     "longer than 100000"),
]


@pytest.mark.parametrize(("name", "text", "said"), BAD_JSON, ids=[b[0] for b in BAD_JSON])
def test_the_engine_refuses_out_of_bounds_data_by_where_it_is(deployed, name, text, said):
    with pytest.raises(InvalidInput, match=said):
        limits.parse_json(text)
    try:
        value = json.loads(text)
    except (RecursionError, ValueError):  # Python's own reader gives up on these
        value = None
    if value is not None:
        with pytest.raises(InvalidInput, match=said):
            deployed.runtime.start("avvikshandtering", actor="system", data=value)
    assert not deployed.history.find_instance_ids()


def test_a_business_key_longer_than_its_column_is_refused(deployed):
    with pytest.raises(InvalidInput, match="business_key: longer than 200"):
        deployed.runtime.start("avvikshandtering", actor="system", data={},
                               business_key="x" * 100_000)


@pytest.mark.parametrize(("name", "text", "said"), BAD_JSON, ids=[b[0] for b in BAD_JSON])
def test_the_api_answers_422_naming_the_problem(app, deployed, name, text, said):  # noqa: F811
    with deployed.db.transaction() as session:
        add_user(session, "nora", ["ansatt"], password=PASSWORD)
    client = app.test_client()
    login(client, "nora")
    response = client.post("/api/processes/avvikshandtering/instances", data=text,
                           content_type="application/json")
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert said in json.dumps(response.get_json(), ensure_ascii=False)
    assert not deployed.history.find_instance_ids()


def test_page_numbers_out_of_range_are_refused_or_kept_in_range(app, deployed):  # noqa: F811
    client = app.test_client()
    login(client, "frida")
    for page in ("abc", "-1", "99999999999999999999999"):
        assert client.get(f"/?page={page}").status_code == 200
        assert client.get(f"/audit/?page={page}").status_code in (200, 403)
        assert client.get(f"/api/tasks?page={page}").status_code == 422
    spec = client.get("/api/openapi.json").get_json()
    parameters = spec["paths"]["/api/tasks"]["get"]["parameters"]
    assert any(p["name"] == "page" and p["in"] == "query" for p in parameters)


def test_the_command_line_refuses_bad_data_with_exit_code_2_and_no_traceback(
        deployed, database_url, tmp_path):
    cli = CommandLine(database_url, tmp_path)
    (tmp_path / "latin1.json").write_bytes(b'{"hva_skjedde": "\xff\xfe"}')
    (tmp_path / "deep.json").write_text(DEEP)
    for data in ("@latin1.json", "@deep.json", "[]", '{"a": ' + "9" * 5000 + "}"):
        result = cli.run("start", "avvikshandtering", "--as", "system", "--data", data,
                         ok=False)
        assert result.returncode == 2, (data[:20], result.stderr[-300:])
        assert "Traceback" not in result.stderr and result.stderr.startswith("error:")
    refused = cli.run("users", "add", "", ok=False)
    assert refused.returncode == 2 and "user name" in refused.stderr
    unknown = cli.run("verify", "finnes-ikke", ok=False)
    assert unknown.returncode == 4 and "no process instance" in unknown.stderr
    assert not deployed.history.find_instance_ids()


def test_a_listing_piped_into_a_reader_that_stops_early_ends_quietly(deployed, database_url,
                                                                     tmp_path):
    import subprocess
    import sys
    for _ in range(3):
        deployed.runtime.start("hendelsesanalyse-oppfolging", actor="system", data={
            "analyse_tittel": "Sepsis", "dokumentasjon": "Rapport " * 300,
            "folgebrev": "Brev", "klinikker": ["kir", "med"],
            "foreslatte_tiltak": [{"tittel": "A", "beskrivelse": "x" * 2000}] * 20})
    cli = CommandLine(database_url, tmp_path)
    result = subprocess.run(
        f"{sys.executable} -m tiltak.cli tasks --json | head -c 10", shell=True,
        env=cli.env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr


def test_numbers_in_addresses_beyond_any_row_are_not_found(app, deployed):  # noqa: F811
    from walks import START_DATA
    instance = deployed.runtime.start("hendelsesanalyse-oppfolging", actor="frida", data=START_DATA)
    client = app.test_client()
    login(client, "rita")
    huge = "9" * 30
    assert client.get(f"/attachments/{huge}").status_code == 404
    assert client.get(f"/instances/{instance.id}/diagram/{huge}.bpmn").status_code == 404
    assert client.get(f"/audit/{instance.id}?step={huge}").status_code in (200, 404)
    assert client.get(f"/audit/{instance.id}?step=-5").status_code in (200, 404)
