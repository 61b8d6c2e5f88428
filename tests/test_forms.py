"""Task forms: formData and Camunda Forms resolved into fields, validated into typed values."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from forms.resolve import FormResolutionError, form_for
from forms.validation import FormValidationError, validate_submission

ROOT = Path(__file__).resolve().parent.parent
PROCESSES = ROOT / "processes"
FIELD_KEYS = {"key", "label", "type", "required", "options", "validate", "components"}


def form_field(id_, type_, label=None, validation=(), values=(), date_pattern=None,
               default=None):
    """One entry of `formData` as the BPMN parser hands it over."""
    return {"id": id_, "label": label, "type": type_, "defaultValue": default,
            "datePattern": date_pattern, "values": list(values), "properties": {},
            "validation": [{"name": name, "config": config} for name, config in validation]}


KPU_MOTE = {
    "assignee": "sigrid", "documentation": "KPU-møte",
    "formData": [
        form_field("kpu_motedato", "date", "Dato", [("required", None)], date_pattern="yyyy-MM-dd"),
        form_field("antall_deltakere", "long", "Deltakere",
                   [("required", None), ("min", "1"), ("max", "40")]),
        form_field("kpu_innspill", "string", "Innspill", [("minlength", "5"), ("maxlength", "50")]),
        form_field("kpu_slutter_seg_til", "boolean", "Slutter seg til", default="true"),
        form_field("prioritet", "enum", "Prioritet",
                   values=[{"id": "ja", "name": "Ja"}, {"id": "nei", "name": "Nei"}]),
    ],
}

VURDER_TILTAK = {
    "id": "skjema-vurder-tiltak-test",
    "type": "default",
    "schemaVersion": 16,
    "components": [
        {"type": "text", "id": "Intro", "text": "## Vurder tiltakene"},
        {"type": "dynamiclist", "id": "Liste", "label": "Tiltak", "path": "tiltak_vurdering",
         "isRepeating": True, "allowAddRemove": False, "components": [
             {"type": "textfield", "id": "F1", "key": "tittel", "label": "Tiltak",
              "readonly": True},
             {"type": "radio", "id": "F2", "key": "gjennomfores", "label": "Gjennomføres?",
              "values": [{"label": "Ja", "value": "ja"}, {"label": "Nei", "value": "nei"}],
              "validate": {"required": True}},
             {"type": "textarea", "id": "F3", "key": "konkretisering", "label": "Konkretisering",
              "conditional": {"hide": '=gjennomfores != "ja"'},
              "validate": {"required": True, "minLength": 5}},
             {"type": "textfield", "id": "F4", "key": "ansvarlig", "label": "Ansvarlig",
              "conditional": {"hide": '=gjennomfores != "ja"'},
              "validate": {"required": True, "pattern": "[a-z]+"}},
             {"type": "datetime", "id": "F5", "key": "frist", "subtype": "date",
              "dateLabel": "Frist", "conditional": {"hide": '=gjennomfores != "ja"'},
              "validate": {"required": True}},
             {"type": "textarea", "id": "F6", "key": "begrunnelse", "label": "Begrunnelse",
              "conditional": {"hide": '=gjennomfores != "nei"'},
              "validate": {"required": True}},
         ]},
        {"type": "button", "id": "Send", "key": "send", "action": "submit"},
    ],
}

KLINIKKER = {
    "id": "skjema-klinikker",
    "components": [
        {"type": "checklist", "id": "K", "key": "klinikker", "label": "Klinikker",
         "valuesKey": "klinikkvalg", "validate": {"required": True}},
        {"type": "number", "id": "N", "key": "poeng", "label": "Poeng",
         "validate": {"min": 0, "max": 5}},
        {"type": "group", "id": "G", "label": "Kontakt", "path": "kontakt", "components": [
            {"type": "textfield", "id": "G1", "key": "navn", "label": "Navn",
             "validate": {"required": True}}]},
        {"type": "group", "id": "H", "label": "Uten sti", "components": [
            {"type": "textfield", "id": "H1", "key": "merknad", "label": "Merknad"}]},
    ],
}

CONTEXT_ROWS = {"tiltak_vurdering": [{"tittel": "Sepsisscreening i mottak"},
                                     {"tittel": "Felles opplæring"},
                                     {"tittel": "Ny varslingsrutine"}]}
ORGANISATION = {"klinikkvalg": [{"value": "kir", "label": "Kirurgisk klinikk"},
                                {"value": "med", "label": "Medisinsk klinikk"}]}


def deployed(*documents):
    by_ref = {}
    for doc in documents:
        by_ref[doc["id"]] = doc
    return by_ref.get


def errors_of(form, submitted, context=None) -> dict[str, str]:
    with pytest.raises(FormValidationError) as caught:
        validate_submission(form, submitted, context)
    return caught.value.errors


@pytest.fixture
def kpu_form():
    return form_for(KPU_MOTE, deployed())


@pytest.fixture
def vurder_form():
    return form_for({"formRef": "skjema-vurder-tiltak-test", "formRefBinding": "latest"},
                    deployed(VURDER_TILTAK))


def good_rows():
    return [
        {"gjennomfores": "ja", "konkretisering": "Screening ved triage", "ansvarlig": "frida",
         "frist": "2026-09-01"},
        {"gjennomfores": "nei", "begrunnelse": "Dekkes av eksisterende kurs"},
        {"gjennomfores": "ja", "konkretisering": "Ny rutine i EPJ", "ansvarlig": "sigrid",
         "frist": "2026-10-15"},
    ]


# ---------------------------------------------------------------- resolving forms

def test_no_form_attributes_means_no_form():
    assert form_for({"assignee": "frida", "documentation": "Les"}, deployed()) is None


@pytest.mark.parametrize("form_key", ["embedded:app:forms/vurdering.html", "app:vurdering"])
def test_embedded_and_external_form_keys_are_refused(form_key):
    with pytest.raises(FormResolutionError) as caught:
        form_for({"formKey": form_key}, deployed())
    assert form_key in str(caught.value)
    assert "Camunda Forms" in str(caught.value)


def test_form_ref_that_is_not_deployed_is_an_error():
    with pytest.raises(FormResolutionError, match="'skjema-mangler' is not deployed"):
        form_for({"formRef": "skjema-mangler", "formRefBinding": "latest"}, deployed())


@pytest.mark.parametrize("prefix", ["camunda-forms:deployment:", "camunda-forms:app:"])
def test_camunda_forms_form_key_is_looked_up_by_file_name(prefix):
    asked = []

    def lookup(ref):
        asked.append(ref)
        return VURDER_TILTAK

    form = form_for({"formKey": prefix + "vurder-tiltak.form"}, lookup)
    assert asked == ["vurder-tiltak.form"]
    assert [f["key"] for f in form.to_json()["fields"] if f["type"] == "dynamiclist"] == [
        "tiltak_vurdering"]


def test_unknown_form_data_type_names_the_field():
    attrs = {"formData": [form_field("farge", "color", "Farge")]}
    with pytest.raises(FormResolutionError, match="farge"):
        form_for(attrs, deployed())


def test_unknown_form_data_constraint_is_refused_at_resolve_time():
    attrs = {"formData": [form_field("navn", "string", "Navn", [("validator", "x.Y")])]}
    with pytest.raises(FormResolutionError, match="navn"):
        form_for(attrs, deployed())


def test_unsupported_feel_in_hide_names_field_and_expression():
    doc = {"id": "f", "components": [
        {"type": "textfield", "key": "svar", "conditional": {"hide": "=sum(liste) > 1"}}]}
    with pytest.raises(FormResolutionError) as caught:
        form_for({"formRef": "f"}, deployed(doc))
    assert "svar" in str(caught.value) and "sum" in str(caught.value)


# ---------------------------------------------------------------- JSON for renderers

def test_form_data_to_json_shape(kpu_form):
    fields = kpu_form.to_json()["fields"]
    assert [f["key"] for f in fields] == [
        "kpu_motedato", "antall_deltakere", "kpu_innspill", "kpu_slutter_seg_til", "prioritet"]
    for f in fields:
        assert FIELD_KEYS <= set(f)
        assert f["components"] == []
    dato, antall, innspill, samtykke, prioritet = fields
    assert (dato["type"], dato["subtype"], dato["required"]) == ("datetime", "date", True)
    assert (antall["type"], antall["validate"]["min"], antall["validate"]["max"]) == (
        "number", 1, 40)
    assert innspill["type"] == "textfield"
    assert (innspill["validate"]["minLength"], innspill["validate"]["maxLength"]) == (5, 50)
    assert samtykke["type"] == "checkbox" and "default" in samtykke
    assert prioritet["type"] == "select"
    assert prioritet["options"] == [{"value": "ja", "label": "Ja"},
                                    {"value": "nei", "label": "Nei"}]


def test_camunda_form_to_json_shape(vurder_form):
    fields = vurder_form.to_json()["fields"]
    assert [f["type"] for f in fields] == ["text", "dynamiclist"]  # the button has no value
    liste = fields[1]
    assert FIELD_KEYS <= set(liste)
    assert [c["key"] for c in liste["components"]] == [
        "tittel", "gjennomfores", "konkretisering", "ansvarlig", "frist", "begrunnelse"]
    radio = liste["components"][1]
    assert radio["options"] == [{"value": "ja", "label": "Ja"}, {"value": "nei", "label": "Nei"}]
    assert radio["required"] is True
    assert liste["components"][2]["hide"] == '=gjennomfores != "ja"'
    assert liste["components"][0]["readonly"] is True


def test_values_key_options_are_filled_in_from_context():
    form = form_for({"formRef": "skjema-klinikker"}, deployed(KLINIKKER))
    without = form.to_json()["fields"][0]
    assert without["options"] == [] and without["values_key"] == "klinikkvalg"
    with_context = form.to_json(ORGANISATION)["fields"][0]
    assert with_context["options"] == ORGANISATION["klinikkvalg"]


def test_to_json_is_plain_json(vurder_form, kpu_form):
    json.dumps(vurder_form.to_json())
    json.dumps(kpu_form.to_json())


# ---------------------------------------------------------------- formData validation

def test_form_data_values_are_typed(kpu_form):
    values = validate_submission(kpu_form, {
        "kpu_motedato": "2026-03-05", "antall_deltakere": "12", "kpu_innspill": "Enige i alt",
        "kpu_slutter_seg_til": "on", "prioritet": "ja"})
    assert values == {"kpu_motedato": dt.date(2026, 3, 5), "antall_deltakere": 12,
                      "kpu_innspill": "Enige i alt", "kpu_slutter_seg_til": True,
                      "prioritet": "ja"}


@pytest.mark.parametrize(("raw", "typed"), [
    (True, True), (False, False), ("true", True), ("false", False), ("1", True), ("0", False),
])
def test_boolean_accepts_the_usual_spellings(kpu_form, raw, typed):
    values = validate_submission(kpu_form, {"kpu_motedato": "2026-03-05",
                                            "antall_deltakere": 3, "kpu_slutter_seg_til": raw})
    assert values["kpu_slutter_seg_til"] is typed


@pytest.mark.parametrize("bad", ["abc", 3.5, "3.5", True, 0, 41])
def test_long_rejects_non_integers_booleans_and_out_of_range(kpu_form, bad):
    errors = errors_of(kpu_form, {"kpu_motedato": "2026-03-05", "antall_deltakere": bad})
    assert list(errors) == ["antall_deltakere"]


def test_long_range_messages_say_the_limit(kpu_form):
    errors = errors_of(kpu_form, {"kpu_motedato": "2026-03-05", "antall_deltakere": 41})
    assert "40" in errors["antall_deltakere"]


def test_invalid_date_is_reported_with_the_expected_format(kpu_form):
    errors = errors_of(kpu_form, {"kpu_motedato": "5. mars", "antall_deltakere": 3})
    assert errors == {"kpu_motedato": "not a valid date (YYYY-MM-DD)"}


def test_all_errors_are_reported_at_once(kpu_form):
    errors = errors_of(kpu_form, {"antall_deltakere": "mange", "kpu_innspill": "kort",
                                  "prioritet": "kanskje", "ukjent": 1})
    assert set(errors) == {"kpu_motedato", "antall_deltakere", "kpu_innspill", "prioritet",
                           "ukjent"}
    assert errors["kpu_motedato"] == "is required"
    assert "5" in errors["kpu_innspill"] and "characters" in errors["kpu_innspill"]
    assert errors["prioritet"] == "'kanskje' is not one of the options: ja, nei"
    assert errors["ukjent"] == "unknown field"


def test_empty_string_is_missing_for_required_fields(kpu_form):
    errors = errors_of(kpu_form, {"kpu_motedato": "", "antall_deltakere": ""})
    assert errors == {"kpu_motedato": "is required", "antall_deltakere": "is required"}


def test_absent_optional_fields_stay_absent_but_an_unticked_box_is_false(kpu_form):
    """As on the web page, where an unticked checkbox is simply not sent."""
    values = validate_submission(kpu_form, {"kpu_motedato": "2026-03-05",
                                            "antall_deltakere": 3})
    assert values == {"kpu_motedato": dt.date(2026, 3, 5), "antall_deltakere": 3,
                      "kpu_slutter_seg_til": False}


def test_form_data_readonly_keeps_the_process_value():
    attrs = {"formData": [form_field("saksnummer", "string", "Sak", [("readonly", None)]),
                          form_field("svar", "string", "Svar")]}
    form = form_for(attrs, deployed())
    values = validate_submission(form, {"saksnummer": "forfalsket", "svar": "ok"},
                                 {"saksnummer": "HA-2026-17"})
    assert values == {"saksnummer": "HA-2026-17", "svar": "ok"}


# ---------------------------------------------------------------- dynamic list, hide, readonly

def test_vurder_tiltak_rows_are_typed_and_hidden_fields_dropped(vurder_form):
    rows = good_rows()
    rows[1]["konkretisering"] = "skal bort"  # hidden for a "nei" row
    rows[1]["frist"] = "ikke en dato"  # hidden too, so never checked
    values = validate_submission(vurder_form, {"tiltak_vurdering": rows}, CONTEXT_ROWS)
    assert values["tiltak_vurdering"] == [
        {"tittel": "Sepsisscreening i mottak", "gjennomfores": "ja",
         "konkretisering": "Screening ved triage", "ansvarlig": "frida",
         "frist": dt.date(2026, 9, 1)},
        {"tittel": "Felles opplæring", "gjennomfores": "nei",
         "begrunnelse": "Dekkes av eksisterende kurs"},
        {"tittel": "Ny varslingsrutine", "gjennomfores": "ja",
         "konkretisering": "Ny rutine i EPJ", "ansvarlig": "sigrid",
         "frist": dt.date(2026, 10, 15)},
    ]


def test_readonly_title_comes_from_the_context_rows(vurder_form):
    rows = good_rows()
    rows[0]["tittel"] = "Endret av brukeren"
    values = validate_submission(vurder_form, {"tiltak_vurdering": rows}, CONTEXT_ROWS)
    assert values["tiltak_vurdering"][0]["tittel"] == "Sepsisscreening i mottak"


def test_row_errors_have_row_paths_and_are_all_reported(vurder_form):
    rows = good_rows()
    rows[0] = {"gjennomfores": "ja", "konkretisering": "kort", "ansvarlig": "Frida!",
               "frist": "2026-02-30"}
    rows[1] = {"gjennomfores": "kanskje", "hva": "?"}
    rows[2] = {"gjennomfores": "nei"}
    errors = errors_of(vurder_form, {"tiltak_vurdering": rows}, CONTEXT_ROWS)
    assert set(errors) == {
        "tiltak_vurdering[0].konkretisering", "tiltak_vurdering[0].ansvarlig",
        "tiltak_vurdering[0].frist", "tiltak_vurdering[1].gjennomfores",
        "tiltak_vurdering[1].hva", "tiltak_vurdering[2].begrunnelse"}
    assert errors["tiltak_vurdering[2].begrunnelse"] == "is required"
    assert errors["tiltak_vurdering[1].hva"] == "unknown field"
    assert "at least 5 characters" in errors["tiltak_vurdering[0].konkretisering"]
    assert "not one of the options" in errors["tiltak_vurdering[1].gjennomfores"]


def test_ja_rows_need_the_ja_fields(vurder_form):
    rows = good_rows()
    rows[2] = {"gjennomfores": "ja"}
    errors = errors_of(vurder_form, {"tiltak_vurdering": rows}, CONTEXT_ROWS)
    assert errors == {"tiltak_vurdering[2].konkretisering": "is required",
                      "tiltak_vurdering[2].ansvarlig": "is required",
                      "tiltak_vurdering[2].frist": "is required"}


def test_rows_cannot_be_added_or_removed_when_the_list_is_fixed(vurder_form):
    errors = errors_of(vurder_form, {"tiltak_vurdering": good_rows()[:2]}, CONTEXT_ROWS)
    assert list(errors) == ["tiltak_vurdering"]
    assert "3" in errors["tiltak_vurdering"]


def test_a_list_that_allows_adding_rows_takes_any_number():
    doc = json.loads(json.dumps(VURDER_TILTAK))
    doc["components"][1]["allowAddRemove"] = True
    form = form_for({"formRef": doc["id"]}, deployed(doc))
    rows = [*good_rows(), {"gjennomfores": "nei", "begrunnelse": "Ny rad"}]
    values = validate_submission(form, {"tiltak_vurdering": rows}, CONTEXT_ROWS)
    assert len(values["tiltak_vurdering"]) == 4
    assert "tittel" not in values["tiltak_vurdering"][3]  # nothing in the context to keep


def test_unknown_top_level_field_is_rejected(vurder_form):
    errors = errors_of(vurder_form, {"tiltak_vurdering": good_rows(), "send": True},
                       CONTEXT_ROWS)
    assert errors == {"send": "unknown field"}


# ---------------------------------------------------------------- options, numbers, groups

def test_checklist_options_come_from_the_context():
    form = form_for({"formRef": "skjema-klinikker"}, deployed(KLINIKKER))
    values = validate_submission(form, {"klinikker": ["kir", "med"], "kontakt": {"navn": "Ola"}},
                                 ORGANISATION)
    assert values == {"klinikker": ["kir", "med"], "kontakt": {"navn": "Ola"}}
    errors = errors_of(form, {"klinikker": ["kir", "ortopedi"], "kontakt": {"navn": "Ola"}},
                       ORGANISATION)
    assert list(errors) == ["klinikker"]
    assert "ortopedi" in errors["klinikker"]
    assert errors_of(form, {"klinikker": [], "kontakt": {"navn": "Ola"}}, ORGANISATION) == {
        "klinikker": "is required"}


def test_number_without_decimal_digits_keeps_fractions():
    form = form_for({"formRef": "skjema-klinikker"}, deployed(KLINIKKER))
    base = {"klinikker": ["kir"], "kontakt": {"navn": "Ola"}}
    assert validate_submission(form, {**base, "poeng": "2.5"}, ORGANISATION)["poeng"] == 2.5
    assert validate_submission(form, {**base, "poeng": 4}, ORGANISATION)["poeng"] == 4
    assert list(errors_of(form, {**base, "poeng": 7}, ORGANISATION)) == ["poeng"]
    assert list(errors_of(form, {**base, "poeng": False}, ORGANISATION)) == ["poeng"]


def test_groups_with_a_path_nest_values_and_groups_without_do_not():
    form = form_for({"formRef": "skjema-klinikker"}, deployed(KLINIKKER))
    values = validate_submission(form, {"klinikker": ["kir"], "kontakt": {"navn": "Ola"},
                                        "merknad": "flat"}, ORGANISATION)
    assert values["kontakt"] == {"navn": "Ola"} and values["merknad"] == "flat"
    errors = errors_of(form, {"klinikker": ["kir"], "kontakt": {"epost": "x"}}, ORGANISATION)
    assert errors == {"kontakt.navn": "is required", "kontakt.epost": "unknown field"}


# ---------------------------------------------------------------- boundaries

def test_forms_package_needs_neither_flask_nor_the_engine():
    code = ("import sys, forms.resolve, forms.validation, forms.schema, forms.conditions;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'engine')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "[]"


# ---------------------------------------------------------------- the real forms

def _real_form(name: str):
    path = PROCESSES / name
    if not path.exists():
        pytest.skip(f"processes/{name} is not there")
    doc = json.loads(path.read_text(encoding="utf-8"))
    return doc, form_for({"formRef": doc["id"]}, deployed(doc))


def test_real_dokumentasjon_form_accepts_a_start_submission():
    doc, form = _real_form("dokumentasjon.form")
    assert doc["id"] == "skjema-dokumentasjon"
    values = validate_submission(form, {
        "analyse_tittel": "Forsinket behandling av sepsis",
        "dokumentasjon": "Rapport HA-2026-17, endelig versjon",
        "folgebrev": "Analysen foreslår tre tiltak.", "klinikker": ["kir", "med"],
        "foreslatte_tiltak": [{"tittel": "Sepsisscreening i mottak"},
                              {"tittel": "Felles opplæring"}]}, ORGANISATION)
    assert values["klinikker"] == ["kir", "med"]
    assert [row["tittel"] for row in values["foreslatte_tiltak"]] == [
        "Sepsisscreening i mottak", "Felles opplæring"]
    errors = errors_of(form, {"klinikker": ["ukjent"]}, ORGANISATION)
    assert {"analyse_tittel", "dokumentasjon", "folgebrev", "klinikker"} <= set(errors)


def test_real_vurder_tiltak_form_accepts_a_vurdering():
    doc, form = _real_form("vurder-tiltak.form")
    assert doc["id"] == "skjema-vurder-tiltak"
    context = {"tiltak_vurdering": [{"tittel": "Sepsisscreening i mottak"},
                                    {"tittel": "Felles opplæring"}]}
    rows = [{"gjennomfores": "ja", "konkretisering": "Screening ved triage",
             "ansvarlig": "frida", "frist": "2026-09-01"},
            {"gjennomfores": "nei", "begrunnelse": "Dekkes av eksisterende kurs",
             "ansvarlig": "skjult"}]
    values = validate_submission(form, {"tiltak_vurdering": rows}, context)
    first, second = values["tiltak_vurdering"]
    assert first["tittel"] == "Sepsisscreening i mottak"
    assert first["frist"] == dt.date(2026, 9, 1)
    assert "ansvarlig" not in second and second["begrunnelse"].startswith("Dekkes")
    rows[1] = {"gjennomfores": "nei"}
    assert errors_of(form, {"tiltak_vurdering": rows}, context) == {
        "tiltak_vurdering[1].begrunnelse": "is required"}
