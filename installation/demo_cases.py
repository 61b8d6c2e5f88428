"""The demo's cases: four weeks of generated, seeded cases across the clinics, made
through the engine's own commands on a clock set back in time, so that reminders,
escalations and deadlines really fall due. Loading them twice adds nothing: a case
whose business key exists is left alone.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from engine.clock import FixedClock, zone
from engine.errors import TiltakError
from engine.queries import search
from engine.runtime import Engine
from engine.timers import sweep

from . import services

DAYS = 28  # how far back the demo begins
SEED = 2026
OPERATOR = "system"

# who leads each unit (the organisation file), who reports there, who owns its measures
UNITS = {
    "kir-gastro": ("kir", "ola"), "kir-ort": ("kir", "oddny"),
    "med-hjerte": ("med", "nora"), "med-lunge": ("med", "lars"),
    "psyk-dps": ("psyk", "dag"),
}
HALLAND_UNITS = {"hs-kir-halmstad": ("hs-kir", "nils"), "hs-kir-varberg": ("hs-kir", "sara"),
                 "hs-med-halmstad": ("hs-med", "anders"),
                 "hs-med-varberg": ("hs-med", "maria")}
REPORTERS = {"kir": ["ola", "oddny", "kirsten"], "med": ["nora", "lars", "mats"],
             "psyk": ["dag", "lise"]}
HALLAND_REPORTERS = ["astrid", "nils", "sara", "anders", "maria"]

EVENTS = [
    ("legemiddel", "Pasienten fikk dobbel dose insulin etter overflytting fra intensiv.",
     "Blodsukker målt hver time, lege tilkalt.", "Dobbel dose insulin ved overflytting"),
    ("fall", "Pasienten falt på vei til toalettet om natten; sengehesten var nede.",
     "Tilsyn av lege, røntgen av hofte uten funn.", "Fall fra seng om natten"),
    ("legemiddel", "Antibiotika ble gitt to timer for sent fordi ordinasjonen ikke var "
     "signert.", "Dosen gitt straks, lege informert.", "Forsinket antibiotikadose"),
    ("annet", "Prøvesvar for feil pasient ble lagt i journalen ved like navn.",
     "Journalen rettet, laboratoriet varslet.", "Prøvesvar i feil journal"),
    ("legemiddel", "Pasienten fikk paracetamol både fast og ved behov, over maksdose.",
     "Leverprøver tatt, pasienten observert.", "Over maksdose paracetamol"),
]
HALLAND_EVENTS = [
    ("Patienten fick dubbel dos insulin vid skiftbytet på natten.",
     "Blodsocker kontrollerat varje timme, jourläkare kontaktad."),
    ("Patienten föll i duschen; halkmattan saknades.", "Läkare tillkallad, röntgen utan fynd."),
    ("Remissvar för fel patient lades i journalen.", "Journalen rättad, labbet informerat."),
]
MEASURE_TITLES = ["Samstemming av legemiddellisten ved overflytting",
                  "Sengealarm for pasienter med fallrisiko", "Dobbeltkontroll ved signering",
                  "Navnesjekk med fødselsnummer ved prøvetaking",
                  "Opplæring i legemiddelhåndtering for nyansatte"]
SIX_STEP_TITLES = [("HA-2026-17", "Forsinket behandling av sepsis ved overflytting"),
                   ("HA-2026-21", "Feil blodtype bestilt ved akutt blødning"),
                   ("HA-2026-24", "Manglende oppfølging av kritisk prøvesvar")]


@dataclass
class Plan:
    """One demo case: what starts it, when, and how many of its tasks are done."""

    key: str
    process: str
    starter: str
    data: dict[str, Any]
    day: int
    steps: int  # tasks to complete before the case is left where it stands
    unit: str = ""
    serious: bool = False
    done: int = 0
    instance_id: str | None = None
    people: dict[str, str] = field(default_factory=dict)


@dataclass
class Summary:
    loaded: int = 0
    skipped: int = 0
    completed_tasks: int = 0
    timers_fired: int = 0
    stuck: list[str] = field(default_factory=list)


def plans(seed: int = SEED) -> list[Plan]:
    """The demo's cases, the same for the same seed: six-step follow-ups, Norwegian and
    Swedish deviations, one anonymous report; some left early, some run to the end."""
    rng = random.Random(seed)
    found: list[Plan] = []
    for number, (key, title) in enumerate(SIX_STEP_TITLES):
        clinics = [["kir", "med"], ["kir"], ["med"]][number]
        found.append(Plan(key, "hendelsesanalyse-oppfolging", "frida", {
            "analyse_tittel": title,
            "dokumentasjon": f"Endelig rapport fra hendelsesanalyse {key}, versjon 1.0",
            "folgebrev": "Analysen foreslår tiltak for klinikkene.",
            "klinikker": clinics,
            "foreslatte_tiltak": [
                {"tittel": MEASURE_TITLES[number], "beskrivelse": "Fra analysens rapport"},
                {"tittel": MEASURE_TITLES[number + 1], "beskrivelse": ""}]},
            day=number * 4, steps=[99, 3, 6][number]))
    units = sorted(UNITS)
    for number in range(14):
        unit = units[number % len(units)]
        clinic, _leader = UNITS[unit]
        kind, what, straks, _title = EVENTS[number % len(EVENTS)]
        serious = number % 5 == 1
        anonymous = number == 6
        found.append(Plan(
            f"AVVIK-2026-{number + 101:04d}", "avvikshandtering",
            rng.choice(REPORTERS[clinic]), {
                "hva_skjedde": what, "hendelsesdato": "", "klinikk": clinic, "enhet": unit,
                "hendelsestype": kind, "strakstiltak": straks, "anonym": anonymous,
                "sensitiv": False},
            day=rng.randrange(0, DAYS - 3), steps=rng.choice([0, 1, 3, 5, 99, 99]),
            unit=unit, serious=serious))
    halland = sorted(HALLAND_UNITS)
    for number in range(6):
        unit = halland[number % len(halland)]
        what, straks = HALLAND_EVENTS[number % len(HALLAND_EVENTS)]
        found.append(Plan(
            f"AVV-HS-2026-{number + 31:04d}", "avvikelsehantering",
            rng.choice(HALLAND_REPORTERS), {
                "vad_hande": what, "handelsedatum": "", "klinikk": HALLAND_UNITS[unit][0],
                "enhet": unit, "omedelbara_atgarder": straks},
            day=rng.randrange(0, DAYS - 3), steps=rng.choice([0, 2, 4, 99, 99]),
            unit=unit, serious=number % 3 == 2))
    return found


def load(engine: Engine, *, seed: int = SEED, days: int = DAYS,
         now: datetime | None = None) -> Summary:
    """Make the demo's cases on `engine`'s database, from `days` ago until `now`."""
    summary = Summary()
    now = (now or engine.clock.now()).astimezone(UTC)
    todo = []
    for plan in plans(seed):
        _rows, total = search.find_instances(engine, search.InstanceFilter(
            business_key=plan.key, process_key=plan.process))
        if total:
            summary.skipped += 1
        else:
            todo.append(plan)
    if not todo:
        return summary
    local_now = now.astimezone(zone())
    first = datetime.combine(local_now.date() - timedelta(days=days),
                             time(8, 0), tzinfo=zone()).astimezone(UTC)
    clock = FixedClock(first)
    past = services.build_engine(engine.db.url, clock=clock)
    members = _members()
    rng = random.Random(seed + 1)
    for day in range(days + 1):
        # the clock keeps UTC, as the engine's clocks do (stored times are UTC)
        morning = (first.astimezone(zone()) + timedelta(days=day)).replace(
            hour=8, minute=0).astimezone(UTC)
        if morning > now:
            break
        clock.set(morning)
        summary.timers_fired += sweep(past).fired
        for plan in todo:
            if plan.day == day:
                _start(past, plan, clock.now().astimezone(zone()).date())
                summary.loaded += 1
        for plan in todo:
            if plan.instance_id is None or plan.day >= day:
                continue
            # one or two steps a working day, less at weekends
            for _ in range(rng.choice([0, 1, 1, 2]) if morning.weekday() < 5 else 0):
                clock.advance(minutes=rng.randrange(20, 90))
                if not _step(past, plan, members, summary):
                    break
    clock.set(now)
    summary.timers_fired += sweep(past).fired
    return summary


def _start(engine: Engine, plan: Plan, today: date) -> None:
    data = dict(plan.data)
    for name in ("hendelsesdato", "handelsedatum"):
        if name in data:
            data[name] = (today - timedelta(days=1)).isoformat()
    row = engine.runtime.start(plan.process, actor=plan.starter, data=data, business_key=plan.key)
    plan.instance_id = row.id


def _step(engine: Engine, plan: Plan, members: dict[str, list[str]], summary: Summary) -> bool:
    """Complete the case's next open task that the demo knows how to answer; False when
    the case is to be left where it stands."""
    if plan.done >= plan.steps:
        return False
    today = engine.clock.now().astimezone(zone()).date()
    for task in engine.tasks.find(instance_id=plan.instance_id):
        answer = ANSWERS.get(task.element_id)
        if answer is None:
            continue
        user = task.assignee or _someone(task, members)
        if user is None:
            continue
        data = answer(plan, engine.tasks.task_context(task), today)
        try:
            engine.tasks.complete(task.id, actor=user, data=data)
        except TiltakError as err:
            summary.stuck.append(f"{plan.key} {task.element_id}: {err}")
            plan.steps = plan.done
            return False
        plan.done += 1
        summary.completed_tasks += 1
        return True
    return False


def _someone(task, members: dict[str, list[str]]) -> str | None:
    for user in task.candidate_users or ():
        return user
    for group in task.candidate_groups or ():
        if members.get(group):
            return members[group][0]
    return None


def _members() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for user in services.demo_users()["users"]:
        for group in user["groups"]:
            found.setdefault(group, []).append(user["name"])
    return found


# what each task is answered with -----------------------------------------------------

def _owner(plan: Plan) -> str:
    return {**UNITS, **HALLAND_UNITS}.get(plan.unit, ("", "ola"))[1]


def _assessment(plan: Plan, _ctx, _today: date) -> dict[str, Any]:
    if plan.serious:
        return {"konsekvens": "4", "sannsynlighet": "2", "alvorlig": True,
                "vurdering": "Pasienten ble påført alvorlig skade; hendelsen skal varsles."}
    return {"konsekvens": "2", "sannsynlighet": "2", "alvorlig": False,
            "vurdering": "Svikt i rutinen, ingen varig skade på pasienten."}


def _notification(_plan, _ctx, today: date) -> dict[str, Any]:
    return {"varsel_sendt": True, "varsel_tidspunkt": today.isoformat(),
            "varsel_referanse": f"HT-{today.year}-{today.toordinal() % 9000 + 1000}",
            "pasient_informert": True}


def _measures(plan: Plan, _ctx, today: date) -> dict[str, Any]:
    rng = random.Random(plan.key)
    title = MEASURE_TITLES[rng.randrange(len(MEASURE_TITLES))]
    due = today + timedelta(days=rng.choice([6, 9, 14, 30]))
    return {"vedtatte_tiltak": [{"tittel": title, "beskrivelse": "Innføres i hele enheten",
                                 "ansvarlig": _owner(plan), "frist": due.isoformat()}]}


def _investigation(plan: Plan, _ctx, _today) -> dict[str, Any]:
    data = {"funn": "Ordinasjonen ble ført inn to ganger ved overflyttingen.",
            "arsaker": "Ingen felles rutine for samstemming ved overflytting.",
            "sakkompetens": plan.serious, "hendelsesanalyse": False}
    if plan.serious:
        data["sakkompetanse_hvem"] = "Overlege i indremedisin, farmasøyt"
    return data


def _six_step_review(plan: Plan, ctx, today: date) -> dict[str, Any]:
    clinic = ctx.get("klinikk") or "kir"
    owner = {"kir": "ola", "med": "nora"}.get(clinic, "ola")
    rows = [{"gjennomfores": "ja", "konkretisering": "Innføres ved alle sengeposter",
             "ansvarlig": owner, "frist": (today + timedelta(days=10)).isoformat()}]
    rows += [{"gjennomfores": "nei", "begrunnelse": "Dekkes av eksisterende rutine"}
             for _ in ctx.get("foreslatte_tiltak", [])[1:]]
    return {"tiltak_vurdering": rows}


def _halland_assessment(plan: Plan, _ctx, _today) -> dict[str, Any]:
    return {"konsekvens": "4" if plan.serious else "2", "sannolikhet": "2",
            "vardskada": plan.serious,
            "bedomning": "Rutinen för överrapportering vid skiftbyte följdes inte."}


def _halland_investigation(plan: Plan, _ctx, _today) -> dict[str, Any]:
    data = {"utredning_resultat": "Överrapporteringen saknade läkemedelsgenomgång.",
            "utredningsdeltagare": "Verksamhetschef och patientsäkerhetssamordnare",
            "forslag_atgarder": "Dubbelkontroll vid skiftbyte."}
    if plan.serious:
        data.update(sakkompetens=True, sakkompetens_vem="Överläkare, Medicinkliniken")
    return data


def _halland_measures(plan: Plan, _ctx, today: date) -> dict[str, Any]:
    rng = random.Random(plan.key)
    due = today + timedelta(days=rng.choice([6, 10, 21]))
    return {"beslutade_atgarder": [{"titel": "Dubbelkontroll vid skiftbyte",
                                    "beskrivning": "Två sjuksköterskor signerar",
                                    "ansvarig": _owner(plan), "tidsfrist": due.isoformat()}]}


def _fixed(data: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    return lambda _plan, _ctx, _today: dict(data)


def _dated(name: str, data: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    return lambda _plan, _ctx, today: {**data, name: today.isoformat()}


ANSWERS: dict[str, Callable[[Plan, dict[str, Any], date], dict[str, Any]]] = {
    # the six-step follow-up of an event analysis
    "Task_VurderTiltak": _six_step_review,
    "Task_KpuBehandling": _dated("kpu_motedato", {
        "kpu_innspill": "KPU støtter tiltakene", "kpu_slutter_seg_til": True}),
    "Task_SendReferat": _fixed({"kpu_referat": "Referat fra KPU: tiltak 1 vedtatt."}),
    "Task_MottaReferat": _fixed({"referat_kvittert": True}),
    "Task_BekreftAvslutning": _fixed({"klinikk_avsluttet": True}),
    # the shared measure processes
    "Task_GjennomforTiltak": _dated("gjennomfort_dato", {
        "gjennomfort_beskrivelse": "Innført og kommunisert til alle vakter"}),
    "Task_KontrollerTiltak": _fixed({"tiltak_godkjent": True}),
    "Task_GenomforAtgard": _dated("gjennomfort_dato", {
        "gjennomfort_beskrivelse": "Införd och kommunicerad till alla pass"}),
    "Task_KontrolleraAtgard": _fixed({"tiltak_godkjent": True}),
    # the Norwegian deviation handling
    "Task_Vurdering": _assessment,
    "Task_VurderingKlinikk": _assessment,
    "Task_VarselStraks": _notification,
    "Task_LovpalagtVarsel": _notification,
    "Task_OppfolgingPasient": _dated("pasient_samtale_dato", {
        "kontaktet": ["pasient", "parorende"],
        "pasient_oppfolging": "Informert om hendelsen og tilbudt samtale med overlegen.",
        "pasient_kontaktperson": "Seksjonsleder"}),
    "Task_OppfolgingPersonell": _fixed({
        "personell_tiltak": ["samtale"], "personell_oppfolging": "Samtale etter vakten.",
        "personell_kontaktperson": "Seksjonsleder"}),
    "Task_Undersokelse": _investigation,
    "Task_BestemTiltak": _measures,
    "Task_Tilbakemelding": _fixed({"tilbakemelding": "Takk for meldingen. Vi har innført "
                                                     "et tiltak som skal hindre at det "
                                                     "skjer igjen."}),
    "Task_Avslutt": _fixed({"avslutning_oppsummering": "Tiltaket er innført og kontrollert.",
                            "tiltak_fulgt_opp": True}),
    "Task_Laeringsnotat": _fixed({
        "laeringsnotat_tittel": "Læring fra avviket",
        "laeringsnotat": "Hendelsen og tiltaket er gjennomgått på personalmøtet.",
        "spredning_forslag": ["klinikk"]}),
    "Task_KpuLaering": _dated("kpu_laering_dato", {
        "spredning": ["klinikk"], "laering_mottakere": [],
        "kpu_laering_vurdering": "Notatet spres i klinikken."}),
    # Region Halland's avvikelsehantering
    "Task_Bedomning": _halland_assessment,
    "Task_BedomningVerksamhetschef": _halland_assessment,
    "Task_LexMariaBedomning": _fixed({
        "anmalan_ivo": "nej",
        "lex_maria_motivering": "Ingen vårdskada och ingen risk för allvarlig vårdskada."}),
    "Task_Utredning": _halland_investigation,
    "Task_UtredningAllvarlig": _halland_investigation,
    "Task_BeslutaAtgarder": _halland_measures,
    "Task_Aterkoppling": _fixed({"tilbakemelding": "Tack! Dubbelkontroll är nu införd."}),
    "Task_Avsluta": _fixed({"avslut_sammanfattning": "Åtgärden är genomförd och kontrollerad."}),
    "Task_Lardomar": _fixed({"lardomar": "Läkemedel ska ingå i överrapporteringen.",
                             "spridning": ["enhet"]}),
}
