"""The organisation file: leaders of units and clinics, each country's option lists."""

import json

import pytest

from installation import organisation, services


def test_the_file_names_each_units_leader_and_the_demo_users_get_the_group():
    org = organisation.load()
    groups = {u["name"]: set(u["groups"]) for u in services.demo_users()["users"]}
    for clinic in org.clinics:
        assert clinic.leaders, f"clinic {clinic.code} has no leader"
        for leader in clinic.leaders:
            assert f"leder-{clinic.code}" in groups[leader]
        for unit in clinic.units:
            assert unit.leaders, f"unit {unit.code} has no leader"
            for leader in unit.leaders:
                assert f"leder-{unit.code}" in groups[leader]
    assert "leder-hs-kir-halmstad" in groups["nils"]  # Halland's avdelningschef
    assert "leder-kir-gastro" not in groups["kirsten"]  # the clinic head is not the unit's


def test_norwegian_and_swedish_forms_get_their_own_clinics():
    options = organisation.load().form_options()
    norwegian = {o["value"] for o in options["klinikkvalg"]}
    swedish = {o["value"] for o in options["klinikval"]}
    assert "kir" in norwegian and "hs-kir" not in norwegian
    assert swedish == {"hs-kir", "hs-med"}
    assert {o["value"] for o in options["enhetsval"]} >= {"hs-kir-halmstad", "hs-med-varberg"}
    assert {o["value"] for o in options["alle_klinikker"]} == norwegian | swedish


def test_an_unknown_country_is_named(tmp_path):
    file = tmp_path / "org.json"
    file.write_text(json.dumps({"clinics": [{"code": "x", "name": "X", "country": "dk"}]}))
    with pytest.raises(ValueError, match="unknown country \\['dk'\\]"):
        organisation.load(file)


def test_each_region_starts_its_own_routines(deployed):
    """A Norwegian employee does not see Region Halland's Swedish routine among the
    processes to start, and a Halland employee does not see the Norwegian one."""
    norwegian = {d.key for d in deployed.repository.startable("nora")}
    swedish = {d.key for d in deployed.repository.startable("astrid")}
    assert "avvikshandtering" in norwegian and "avvikelsehantering" not in norwegian
    assert "avvikelsehantering" in swedish and "avvikshandtering" not in swedish
