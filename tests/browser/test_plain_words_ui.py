"""Every page a person meets on the way through the six-step routine and one Norwegian
deviation, read in chromium (nb-NO, one context per person): no JSON, no variable name of
the routines, no clinic or group code without its name, no English sentence. The cases
move on through the engine's commands; after each step the people concerned open their
worklist, their tasks, the case page, their cases and the search. Screenshots of the
worklist, a task, the case page and the dashboard go to TILTAK_SCREENSHOTS/<test> when it
is set, else under the test's tmp_path."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from walks import PROCESSES, walk_six_step

ORGANISATION = Path(__file__).resolve().parents[2] / "installation" / "demo" / \
    "organisation.json"
ENGLISH = ("the", "and", "of", "is", "not", "with", "task", "instance")
# variable names that are also ordinary Norwegian words a page may well use
ORDINARY = {
    "tiltak", "frist", "klinikk", "klinikker", "enhet", "tittel", "beskrivelse",
    "tilbakemelding", "vurdering", "ansvarlig", "begrunnelse", "konkretisering",
    "kontaktet", "spredning", "dokumentasjon", "folgebrev", "anonym", "sensitiv",
    "alvorlig", "konsekvens", "sannsynlighet", "funn", "arsaker", "strakstiltak",
    "hendelsestype", "referat", "mottaker", "sakkompetens", "gjennomfores",
    "laeringsnotat", "hendelsesanalyse", "risikoklasse", "initiator", "saksnummer",
    "tilsynsmyndighet", "forslag", "rapport", "konklusjon",
}
# codes that are also words ("med" is the Norwegian "with")
ORDINARY_CODES = {"med"}


def variable_names() -> set[str]:
    """Form keys and process variable names of the routines (processes/)."""
    names: set[str] = set()
    for path in PROCESSES.iterdir():
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".form":
            names.update(re.findall(r'"key"\s*:\s*"([A-Za-z_][\w]*)"', text))
        elif path.suffix in (".bpmn", ".dmn"):
            names.update(re.findall(r'formField id="([A-Za-z_]\w*)"', text))
            names.update(re.findall(r'\$\{\s*([a-z_][a-z0-9_]*)', text))
            names.update(re.findall(r'camunda:(?:inputParameter|outputParameter) '
                                    r'name="([A-Za-z_]\w*)"', text))
    return {n for n in names if len(n) > 2} - ORDINARY


def codes() -> set[str]:
    """Clinic, unit and group codes of the demo organisation, and the groups built on them."""
    org = json.loads(ORGANISATION.read_text(encoding="utf-8"))
    found = set(org["groups"]) - {"ansatt", "ledelse", "revisor"}
    for clinic in org["clinics"]:
        for code in [clinic["code"], *(u["code"] for u in clinic["units"])]:
            found.update({code, f"leder-{code}", f"kpu-{code}", f"kpu-sekretariat-{code}"})
    return found - ORDINARY_CODES


VARIABLES, CODES = variable_names(), codes()


# what people typed into the walk's free-text fields is theirs, not the product's words:
# the minutes a secretariat writes name the committee as it pleases (tests/walks.py)
TYPED = ("Referat fra KPU kir", "Referat fra KPU med")


def problems(text: str) -> list[str]:
    for typed in TYPED:
        text = text.replace(typed, "")
    found = []
    for sign in ('{"', "[{"):
        if sign in text:
            found.append(f"JSON ({sign})")
    words = set(re.findall(r"(?<![\w-])[\w-]+(?![\w-])", text))
    found += [f"variable name {w}" for w in sorted(words & VARIABLES)]
    for code in sorted(words & CODES):
        at = re.search(rf"(?<!\w){re.escape(code)}(?!\w)", text)
        found.append(f"code {code}: ...{text[max(0, at.start() - 60):at.end() + 60]}..."
                     if at else f"code {code}")
    lower = {w.lower() for w in re.findall(r"\b\w+\b", text)}
    found += [f"English word '{w}'" for w in ENGLISH if w in lower]
    return found


def read(page, path: str, where: str, seen: dict[str, list[str]]) -> None:
    page.goto(path)
    text = page.locator("main").inner_text() + "\n" + page.locator("header.top").inner_text()
    bad = problems(text)
    if bad:
        seen[f"{where} {path}"] = bad


def screenshots(request, tmp_path) -> Path:
    base = os.environ.get("TILTAK_SCREENSHOTS")
    folder = Path(base) / request.node.name if base else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def visit(people, engine, users, instance_id: str, seen, label: str) -> None:
    """Each user's worklist, the tasks of the case they may open, the case page, their
    cases and the search."""
    for user in users:
        page = people[user]
        read(page, "/", f"{label}/{user}", seen)
        for task in engine.tasks.find(actor=user, instance_id=instance_id):
            read(page, f"/tasks/{task.id}", f"{label}/{user}", seen)
        for task in engine.tasks.find(actor=user):
            if task.instance_id != instance_id and task.process_key == "tiltak":
                read(page, f"/tasks/{task.id}", f"{label}/{user}", seen)
        if engine.history.may_view(user, instance_id):
            read(page, f"/instances/{instance_id}", f"{label}/{user}", seen)
        read(page, "/mine", f"{label}/{user}", seen)
        read(page, "/cases?q=2026", f"{label}/{user}", seen)


def test_every_page_of_the_six_step_routine_speaks_plain_norwegian(people, live, request,
                                                                   tmp_path):
    _, engine = live
    folder = screenshots(request, tmp_path)
    seen: dict[str, list[str]] = {}
    people_of = {"kir": ("sigrid", "kari", "ola"), "med": ("magnus", "henrik", "nora")}

    def observe(step: str, clinic: str, instance_id: str) -> None:
        users = people_of.get(clinic) or ("sigrid", "magnus", "ola", "nora")
        visit(people, engine, ("frida", *users), instance_id, seen, step)
        if step == "minutes_received":
            owner = people["ola"]
            owner.goto("/")
            owner.screenshot(path=str(folder / "worklist.png"), full_page=True)
            task = engine.tasks.find(actor="ola")[0]
            owner.goto(f"/tasks/{task.id}")
            owner.screenshot(path=str(folder / "task.png"), full_page=True)
            owner.goto(f"/instances/{instance_id}")
            owner.screenshot(path=str(folder / "case.png"), full_page=True)

    instance_id = walk_six_step(engine, observe=observe)
    for user in ("per", "rita", "tone"):
        read(people[user], f"/instances/{instance_id}", user, seen)
    per = people["per"]
    read(per, "/dashboard", "per", seen)
    per.screenshot(path=str(folder / "dashboard.png"), full_page=True)
    for href in per.locator("table.figures a[data-figure]").evaluate_all(
            "links => links.map(a => a.getAttribute('href'))")[:6]:
        read(per, href, "per", seen)
    assert not seen, json.dumps(seen, indent=1, ensure_ascii=False)


def test_every_page_of_a_norwegian_deviation_speaks_plain_norwegian(people, live):
    _, engine = live
    seen: dict[str, list[str]] = {}
    row = engine.runtime.start("avvikshandtering", actor="nora", business_key="AVVIK-2026-0001",
                               data={
        "hva_skjedde": "Pasienten fikk dobbel dose insulin etter overflytting.",
        "hendelsesdato": engine.clock.now().date().isoformat(), "klinikk": "kir",
        "enhet": "kir-gastro", "hendelsestype": "legemiddel",
        "strakstiltak": "Blodsukker målt hver time.", "anonym": False, "sensitiv": False})
    users = ("nora", "ola", "kirsten", "vilde", "sigrid")
    visit(people, engine, users, row.id, seen, "reported")
    steps = [
        ("Task_Vurdering", {"konsekvens": "2", "sannsynlighet": "2", "alvorlig": False,
                            "vurdering": "Svikt i dobbeltkontrollen."}),
        ("Task_Undersokelse", {"funn": "Ordinert to ganger.", "arsaker": "Ingen rutine.",
                               "sakkompetens": False, "hendelsesanalyse": False}),
    ]
    for element, data in steps:
        task = next(t for t in engine.tasks.find(actor="ola", instance_id=row.id)
                    if t.element_id == element)
        engine.tasks.complete(task.id, actor="ola", data=data)
        visit(people, engine, users, row.id, seen, element)
    assert not seen, json.dumps(seen, indent=1, ensure_ascii=False)
