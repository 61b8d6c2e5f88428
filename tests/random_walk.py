"""Seeded random walks through deployed processes, and the decision branches they take.

Generic on purpose: nothing here names a process of today. What a walk may do is read
from the deployed definitions and the running instance: who may start a process
(`candidateStarterGroups`), its start form, the open human tasks with their forms,
assignees and candidates, the instance's next timer and its message subscriptions.
Values come from each form's field model (types, options, limits, required, hidden
fields). The little that cannot be derived - which values a process needs to be
workable with the demo organisation - lives in one table, `VALUE_HINTS`.

The decision branches come from the BPMN files: every outgoing sequence flow of each
exclusive, inclusive and event-based gateway, and every boundary event. A walk reports
the ones its instance took, read from the task tree of the final workflow. A process
marked `camunda:isStartableInTasklist="false"` is started only by the processes that
call it; while none of the files calls it, no walk can reach it and its branches are
not counted. A process that others call is walked on its own too when it names
`camunda:candidateStarterGroups` (people start it directly as well).

A walk depends only on the deployed processes, the process key and the seed: the clock
is set to the same moment at its start, instance ids are drawn from the seed, and an
instance still running at the end is cancelled, so a failing seed can be walked again
alone with `walk(engine, clock, process_key, seed)`.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine.definitions import collect_files, kind_of
from engine.identity.permissions import OPERATOR
from engine.model.xml import parse_xml
from engine.models import HumanTask, MessageSubscription, ProcessInstance, TimerStart
from engine.runtime import Engine
from engine.timers import sweep
from forms.conditions import evaluate_condition
from forms.model import CHOICE_TYPES, MULTI_TYPES, Field, Form, flatten
from forms.resolve import form_for
from installation import organisation, services

from walks import workflow_of

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"
GATEWAYS = {"exclusiveGateway", "inclusiveGateway", "eventBasedGateway"}
WALK_STARTS_AT = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
MAX_MOVES = 300
CANCEL_SHARE = 0.08  # of walks cancel their instance at some random step
MOVE_WEIGHTS = {"task": 5.0, "timer": 2.0, "message": 2.0}


# ------------------------------------------------------------------ the organisation
@dataclass(frozen=True)
class People:
    """The demo users and their groups (users.json, leaders from organisation.json)."""

    groups: dict[str, frozenset[str]]

    @classmethod
    def demo(cls) -> People:
        doc = services.demo_users()
        return cls({u["name"]: frozenset(u["groups"]) for u in doc["users"]})

    @property
    def names(self) -> list[str]:
        return sorted(self.groups)

    def members(self, groups: list[str] | set[str]) -> list[str]:
        return sorted(n for n, g in self.groups.items() if g & set(groups))

    @property
    def writers(self) -> list[str]:
        """Everyone but the auditors, who read and never start or change a case."""
        return sorted(n for n, g in self.groups.items() if "revisor" not in g)


@dataclass(frozen=True)
class World:
    """What value hints may draw on: the people and the organisation data."""

    people: People
    org: organisation.Organisation

    @classmethod
    def demo(cls) -> World:
        return cls(People.demo(), organisation.load())

    def clinics_with(self, *group_patterns: str) -> list[str]:
        """Codes of the clinics where every `pattern.format(code)` group has a member."""
        return [c.code for c in self.org.clinics
                if all(self.people.members([p.format(c.code)]) for p in group_patterns)]

    def text_candidates(self) -> list[str]:
        """Plausible short values to try against a field's pattern."""
        units = [u.code for c in self.org.clinics for u in c.units]
        groups = sorted({g for gs in self.people.groups.values() for g in gs})
        return [*self.people.names, *[c.code for c in self.org.clinics], *units, *groups,
                *[f"{n}@sykehuset.example" for n in self.people.names],
                "+47 22 11 33 44", "98765432", "2026", "42", *[w.lower() for w in WORDS]]


# Process-specific knowledge, in one place: which values a field needs so that the walk
# can go on with the demo organisation. Keyed by "process-key:field" or by "field"
# (a field of a repeating list by its own key); "message:NAME" gives a message's data.
# A hinted field is always filled in when it is visible; choices are narrowed to these.
Hints = Mapping[str, Callable[[World], Any]]

VALUE_HINTS: Hints = {
    # hendelsesanalyse-oppfolging, start: each chosen clinic works steps 2-5 in its KPU
    # secretariat and its KPU, so only clinics where both groups have members will do
    "klinikker": lambda w: w.clinics_with("kpu-sekretariat-{}", "kpu-{}"),
    # klinikk-oppfolging, step 2: a measure's owner is the assignee of its task in tiltak
    "ansvarlig": lambda w: w.people.writers,  # an auditor carries out no measure
    # avvikelsehantering, measures: the owner (Swedish key) is the assignee in atgard
    "avvikelsehantering:ansvarig": lambda w: w.people.writers,
}


def hint(hints: Hints, process_key: str, key: str | None, world: World) -> Any:
    for name in (f"{process_key}:{key}", key):
        if name in hints:
            return hints[name](world)
    return None


# ------------------------------------------------------------------ values for forms
WORDS = ("Tiltak", "sepsis", "overflytting", "mottak", "NEWS2", "rutine", "opplæring",
         "simulering", "pasientsikkerhet", "avvik", "legemiddel", "samstemming", "vakt",
         "kommunikasjon", "sjekkliste", "prosedyre", "ansvar", "frist", "oppfølging",
         "gjennomgang", "kvalitet", "risiko", "melding", "tilbakemelding", "ledelse",
         "sykepleier", "lege", "avdeling", "klinikk", "KPU", "rapport", "læring", "tiltak",
         "Ærlig", "øvelse", "Åpen", "dokumentasjon", "informasjon", "hendelse")


class NeedsHint(Exception):
    """No valid value can be derived for a field: add it to VALUE_HINTS."""


class Values:
    """Random valid values for a form, from its field model (as the server checks them)."""

    def __init__(self, rng: random.Random, world: World, today: date, process_key: str,
                 hints: Hints = VALUE_HINTS):
        self.rng = rng
        self.world = world
        self.today = today
        self.process_key = process_key
        self.hints = hints

    def for_form(self, form: Form | None, context: Mapping[str, Any]) -> dict[str, Any]:
        if form is None:
            return {}
        return self.level(form.fields, context, [context], context)

    def level(self, components: list[Field], given: Mapping[str, Any],
              scopes: list[Mapping[str, Any]], context: Mapping[str, Any]) -> dict[str, Any]:
        """One level (top, a group with a path, a row): fields without a condition
        first, then the conditional ones (seeing the values chosen so far), then the
        containers, so that every `hide` sees what the server's check will see."""
        fields = [x for c in components for x in flatten(c)]
        order = [f for f in fields if f.has_value and not f.hide] + \
            [f for f in fields if f.has_value and f.hide] + \
            [f for f in fields if not f.has_value]
        out: dict[str, Any] = {}
        for f in order:
            if f.hide and evaluate_condition(f.hide, [out, *scopes]) is True:
                continue
            if f.type == "group":
                inner = given.get(f.path) if isinstance(given.get(f.path), Mapping) else {}
                out[f.path] = self.level(f.components, inner, [out, *scopes], context)
            elif f.type == "dynamiclist":
                out[f.path] = self.rows(f, given, [out, *scopes], context)
            elif f.readonly:
                continue  # the process's value is kept whatever is sent
            else:
                self.value_into(out, f, context)
        return out

    def rows(self, f: Field, given: Mapping[str, Any], scopes: list[Mapping[str, Any]],
             context: Mapping[str, Any]) -> list[dict[str, Any]]:
        existing = given.get(f.path) if isinstance(given.get(f.path), list) else None
        if existing is not None and not f.allow_add_remove:
            count = len(existing)
        else:
            most = min(3, int(f.validate.get("maxLength", 3)))
            count = self.rng.randint(1 if f.required else 0, most)
        before = existing or []
        return [self.level(f.components, before[i] if i < len(before)
                           and isinstance(before[i], Mapping) else {}, scopes, context)
                for i in range(count)]

    def value_into(self, out: dict[str, Any], f: Field, context: Mapping[str, Any]) -> None:
        pool = hint(self.hints, self.process_key, f.key, self.world)
        if f.type == "checkbox":  # a checkbox always has a value, as on the page
            out[f.key] = True if f.required else self.rng.random() < 0.5
            return
        if not f.required and pool is None:
            draw = self.rng.random()
            if draw < 0.2:
                return  # left out
            if draw < 0.3 and f.type in ("textfield", "textarea"):
                out[f.key] = ""  # an empty input, as the page sends it
                return
        value = self.value(f, context, pool)
        if value is not None:
            out[f.key] = value

    def value(self, f: Field, context: Mapping[str, Any], pool: Any) -> Any:
        rng, v = self.rng, f.validate
        if f.type in CHOICE_TYPES:
            options = [o.value for o in f.options_in(dict(context))]
            if pool is not None:
                options = [o for o in options if o in pool]
            if not options:
                if f.required:
                    raise NeedsHint(f"field '{f.key}' is required but has no options to "
                                    "choose from")
                return None
            if f.type not in MULTI_TYPES:
                return rng.choice(options)
            low = max(int(v.get("minLength", 0)), 1 if f.required else 0)
            high = min(int(v.get("maxLength", len(options))), len(options))
            return rng.sample(options, rng.randint(low, max(low, high)))
        if pool is not None and f.type not in ("textfield", "textarea"):
            return rng.choice(list(pool))
        if f.type == "number":
            return self.number(f)
        if f.type == "datetime":
            day = self.today + timedelta(days=rng.randint(-30, 120))
            if f.no_past:  # a deadline: today at the earliest, as the server asks
                day = max(day, self.today)
            moment = time(rng.randint(7, 16), rng.choice((0, 15, 30, 45)))
            if f.subtype == "date":
                return day.isoformat()
            if f.subtype == "time":
                return moment.strftime("%H:%M")
            return datetime.combine(day, moment, tzinfo=UTC).isoformat()
        return self.text(f, pool)

    def number(self, f: Field) -> int | float:
        rng, limits = self.rng, f.validate
        low = limits.get("min", (limits["max"] - 1000) if "max" in limits else 0)
        high = limits.get("max", low + 1000)
        if f.integer or f.decimal_digits == 0:
            return rng.randint(int(-(-low // 1)), int(high // 1))
        digits = 2 if f.decimal_digits is None else f.decimal_digits
        return min(max(round(rng.uniform(low, high), digits), low), high)

    def text(self, f: Field, pool: Any) -> str:
        low = int(f.validate.get("minLength", 1))
        high = int(f.validate.get("maxLength", max(low, 1) + 160))
        pattern = f.validate.get("pattern")
        if pool is not None or pattern:
            candidates = [str(c) for c in (pool if pool is not None
                                           else self.world.text_candidates())]
            fitting = [c for c in candidates if low <= len(c) <= high
                       and (not pattern or re.fullmatch(pattern, c))]
            if not fitting:
                raise NeedsHint(f"field '{f.key}': no value of {low}-{high} characters "
                                f"matching {pattern!r}; add one to VALUE_HINTS")
            return self.rng.choice(fitting)
        target = self.rng.randint(max(low, 1), min(high, max(low, 1) + 80))
        words: list[str] = []
        while len(" ".join(words)) < target:
            words.append(self.rng.choice(WORDS))
            if f.type == "textarea" and self.rng.random() < 0.1:
                words.append("\n")
        text = " ".join(words)[:high].strip()
        return text if len(text) >= low else (text + "x" * low)[:high]


# ------------------------------------------------------------------ decision branches
@dataclass(frozen=True, order=True)
class Branch:
    """One outgoing flow of a gateway, or one boundary event."""

    process: str  # the process the element is drawn in
    element: str  # the sequence flow's id, or the boundary event's
    source: str  # the gateway, or the activity the boundary event is attached to
    target: str  # the flow's target, or the boundary event itself

    def __str__(self) -> str:
        if self.element == self.target:
            return f"{self.process}: boundary event {self.element} on {self.source}"
        return f"{self.process}: {self.source} -> {self.target} ({self.element})"


@dataclass
class Model:
    """What the BPMN files say: the processes a person starts, and every branch."""

    startable: list[str] = field(default_factory=list)
    timer_started: list[str] = field(default_factory=list)  # by its timer start event only
    branches: set[Branch] = field(default_factory=set)
    # (container id, gateway id) -> (event based?, target id -> branches)
    gateways: dict[tuple[str, str], tuple[bool, dict[str, list[Branch]]]] = \
        field(default_factory=dict)
    boundaries: dict[tuple[str, str], Branch] = field(default_factory=dict)

    @classmethod
    def of_folder(cls, folder: Path) -> Model:
        return cls.of_files(collect_files([str(folder)]))

    @classmethod
    def of_files(cls, files: Mapping[str, bytes]) -> Model:
        """From deployable files as `collect_files` reads them (non-BPMN ones skipped)."""
        model, called, only_called, people_start = cls(), set(), set(), set()
        for name, data in sorted(files.items()):
            if kind_of(name) != "bpmn":
                continue
            root = parse_xml(data, name).getroot()
            called |= {c.get("calledElement") for c in root.iter(f"{BPMN}callActivity")}
            for process in root.iter(f"{BPMN}process"):
                if process.get("isExecutable", "true").lower() == "false":
                    continue
                if process.get(f"{CAMUNDA}isStartableInTasklist", "true").lower() == "false":
                    only_called.add(process.get("id"))
                elif _has_plain_start(process):
                    model.startable.append(process.get("id"))
                    if process.get(f"{CAMUNDA}candidateStarterGroups"):
                        people_start.add(process.get("id"))
                elif process.find(f"{BPMN}startEvent/{BPMN}timerEventDefinition") is not None:
                    model.timer_started.append(process.get("id"))
                for container in [process, *process.iter(f"{BPMN}subProcess",
                                                         f"{BPMN}transaction")]:
                    model._read(process.get("id"), container)
        # a called process is walked on its own only when people start it too
        model.startable = [p for p in model.startable if p not in called or p in people_start]
        model.timer_started = [p for p in model.timer_started if p not in called]
        unreachable = only_called - called  # its callers are not among these files
        model.branches = {b for b in model.branches if b.process not in unreachable}
        return model

    def _read(self, process: str, container) -> None:
        cid = container.get("id")
        nodes = [n for n in container if isinstance(n.tag, str)]
        flows = [n for n in nodes if n.tag == f"{BPMN}sequenceFlow"]
        for node in nodes:
            local = node.tag.removeprefix(BPMN)
            if local in GATEWAYS:
                targets: dict[str, list[Branch]] = {}
                for flow in flows:
                    if flow.get("sourceRef") == node.get("id"):
                        branch = Branch(process, flow.get("id"), node.get("id"),
                                        flow.get("targetRef"))
                        targets.setdefault(branch.target, []).append(branch)
                        self.branches.add(branch)
                self.gateways[(cid, node.get("id"))] = (local == "eventBasedGateway", targets)
            elif local == "boundaryEvent":
                branch = Branch(process, node.get("id"), node.get("attachedToRef"),
                                node.get("id"))
                self.boundaries[(cid, node.get("id"))] = branch
                self.branches.add(branch)

    def taken(self, workflow) -> set[Branch]:
        """The branches this workflow (with its called processes) has taken."""
        result: set[Branch] = set()
        for task in workflow.get_tasks():
            if task.state != TaskState.COMPLETED:
                continue
            where = (task.workflow.spec.name, _element(task))
            if where in self.boundaries:
                result.add(self.boundaries[where])
            if where in self.gateways:
                event_based, targets = self.gateways[where]
                reached = TaskState.COMPLETED | TaskState.READY | TaskState.STARTED
                if not event_based:  # an event-based gateway's events all wait at first
                    reached |= TaskState.WAITING
                for child in task.children:
                    # a token that reached a parallel join which another branch's token
                    # then left by is cancelled there, yet the branch was taken
                    merged = child.state == TaskState.CANCELLED and isinstance(
                        child.task_spec, Join)
                    if child.state & reached or merged:
                        result.update(targets.get(_element(child), []))
        return result


def _has_plain_start(process) -> bool:
    for start in process.findall(f"{BPMN}startEvent"):
        if not any(isinstance(c.tag, str) and c.tag.endswith("EventDefinition")
                   for c in start):
            return True
    return False


def _element(task) -> str:
    """The BPMN element a task runs (an activity with boundary events is entered through
    SpiffWorkflow's `<id>.BoundaryEventSplit`; a multi-instance child ends in [child])."""
    spec = task.task_spec
    name = getattr(spec, "bpmn_id", None) or spec.name
    return name.removesuffix(".BoundaryEventSplit").removesuffix(" [child]")


# ------------------------------------------------------------------ walking
class WalkFailed(AssertionError):
    pass


@dataclass
class Walk:
    process: str
    seed: int
    instance_id: str | None = None
    outcome: str = ""  # completed, cancelled, or limit (cancelled after max_moves)
    moves: list[str] = field(default_factory=list)
    taken: set[Branch] = field(default_factory=set)

    def log(self, text: str) -> None:
        self.moves.append(text)

    def failure(self, problem: str) -> WalkFailed:
        tail = "\n".join(f"    {i:3}. {m}" for i, m in enumerate(self.moves, 1))
        return WalkFailed(f"walk of '{self.process}' with seed {self.seed} "
                          f"(instance {self.instance_id}): {problem}\n"
                          f"  reproduce: random_walk.walk(engine, clock, {self.process!r}, "
                          f"seed={self.seed})\n  moves:\n{tail}")


def walk(engine: Engine, clock, process_key: str, seed: int, model: Model | None = None,
         world: World | None = None, hints: Hints = VALUE_HINTS,
         max_moves: int = MAX_MOVES) -> Walk:
    """Start one instance and walk it along random valid moves until it ends; with a
    model, the walk also reports the branches its instance took."""
    result = Walk(process_key, seed)
    try:
        by_timer = model is not None and process_key in model.timer_started
        _Walker(engine, clock, seed, world or World.demo(), hints, result).run(max_moves,
                                                                               by_timer)
    except WalkFailed:
        raise
    except Exception as err:  # any refusal or failure on a valid path is a finding
        raise result.failure(f"{type(err).__name__}: {err}") from err
    if model is not None:
        result.taken = model.taken(workflow_of(engine, result.instance_id))
    return result


def _short(data: Any, limit: int = 240) -> str:
    text = json.dumps(data, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class _Walker:
    def __init__(self, engine: Engine, clock, seed: int, world: World, hints: Hints,
                 result: Walk):
        self.engine, self.clock, self.world, self.result = engine, clock, world, result
        self.hints = hints
        self.rng = random.Random(seed)
        ids = random.Random(f"ids-{result.process}-{seed}")  # the same seed, another process
        engine.new_id = lambda: str(uuid.UUID(int=ids.getrandbits(128), version=4))

    def values(self, process_key: str) -> Values:
        return Values(self.rng, self.world, self.clock.now().date(), process_key,
                      self.hints)

    def run(self, max_moves: int, by_timer: bool = False) -> None:
        engine, rng, result = self.engine, self.rng, self.result
        self.clock.set(WALK_STARTS_AT)
        if by_timer:
            self.start_by_timer()
        else:
            self.start()
        cancel_at = rng.randint(1, 25) if rng.random() < CANCEL_SHARE else None
        for step in range(1, max_moves + 1):
            row = engine.history.instance(result.instance_id)
            if row.status == "error":
                raise result.failure(f"incident: {row.error}")
            if row.status != "running":
                result.outcome = row.status
                return
            self.clock.advance(minutes=rng.randint(1, 8 * 60))  # people take their time
            if step == cancel_at:
                self.cancel("cancelled")
                return
            moves = self.moves(row)
            if not moves:
                open_tasks = [(t.element_id, t.assignee, t.candidate_groups)
                              for t in engine.tasks.find(instance_id=row.id)]
                raise result.failure(f"stuck: nothing anyone can do; open tasks {open_tasks}")
            [run] = rng.choices([m[2] for m in moves], weights=[m[1] for m in moves])
            run()
        row = engine.history.instance(result.instance_id)
        if row.status == "running":
            self.cancel("limit")
        else:
            result.outcome = row.status

    def start(self) -> None:
        engine, result = self.engine, self.result
        definition = engine.repository.latest(result.process)
        # a process without starter groups is started by the operator
        # (engine/identity/permissions.py)
        starters = self.world.people.members(definition.starter_groups) \
            if definition.starter_groups else [OPERATOR]
        if not starters:
            raise result.failure(f"no demo user may start it (groups "
                                 f"{definition.starter_groups})")
        actor = self.rng.choice(starters)
        form = form_for(definition.start_form or {},
                        lambda ref: engine.repository.form_document(ref, definition.id))
        data = self.values(result.process).for_form(form, engine.context_variables())
        result.log(f"start as {actor}: {_short(data)}")
        instance = engine.runtime.start(result.process, actor=actor, data=data,
                                        business_key=f"RW-{result.seed}")
        result.instance_id = instance.id

    def start_by_timer(self) -> None:
        """The clock to the process's next timer start, and a sweep starts the instance."""
        engine, result = self.engine, self.result
        with engine.db.transaction() as session:
            due = session.scalars(select(TimerStart.next_at).where(
                TimerStart.process_key == result.process).order_by(TimerStart.next_at)).first()
            if due is None:
                raise result.failure("its timer start event is not scheduled")
            before = set(session.scalars(select(ProcessInstance.id).where(
                ProcessInstance.process_key == result.process)))
        self.clock.set(max(self.clock.now(), _utc(due)) + timedelta(seconds=1))
        sweep(engine)
        with engine.db.transaction() as session:
            started = sorted(set(session.scalars(select(ProcessInstance.id).where(
                ProcessInstance.process_key == result.process))) - before)
        if len(started) != 1:
            raise result.failure(f"its timer started {len(started)} instances, not one")
        result.log(f"timer start at {self.clock.now().isoformat()}")
        result.instance_id = started[0]

    def moves(self, row) -> list[tuple[str, float, Callable[[], None]]]:
        found: list[tuple[str, Callable[[], None]]] = []
        for task in self.engine.tasks.find(instance_id=row.id):
            users = self.allowed(task)
            if users:
                found.append(("task", lambda task=task, users=users: self.work(task, users)))
        if row.next_timer_at is not None:
            found.append(("timer", lambda: self.timer(_utc(row.next_timer_at))))
        with self.engine.db.transaction() as session:
            names = sorted(set(session.scalars(select(MessageSubscription.message_name).where(
                MessageSubscription.instance_id == row.id))))
        for name in names:
            found.append(("message", lambda name=name: self.message(name, row.business_key)))
        counts = {k: sum(1 for kind, _ in found if kind == k) for k in MOVE_WEIGHTS}
        return [(kind, MOVE_WEIGHTS[kind] / counts[kind], run) for kind, run in found]

    def allowed(self, task: HumanTask) -> list[str]:
        if task.assignee:
            return [task.assignee]
        people = self.world.people  # auditors never work on a task (engine/identity/permissions.py)
        return sorted((set(task.candidate_users) | set(people.members(task.candidate_groups)))
                      & set(people.writers))

    def work(self, task: HumanTask, users: list[str]) -> None:
        engine, rng, result = self.engine, self.rng, self.result
        user = task.assignee or rng.choice(users)
        if task.assignee is None and rng.random() < 0.3:
            engine.tasks.claim(task.id, actor=user)
            result.log(f"claim {task.element_id} as {user}")
            then = rng.random()
            if then < 0.25:  # gives it back; the group sees it again
                engine.tasks.unclaim(task.id, actor=user)
                result.log(f"unclaim {task.element_id} as {user}")
                return
            if then < 0.5:  # keeps it for later: only they may complete it now
                return
        form = form_for(task.form or {},
                        lambda ref: engine.repository.form_document(ref, task.definition_id))
        data = self.values(task.process_key).for_form(form, engine.tasks.task_context(task))
        result.log(f"complete {task.element_id} ({task.process_key}) as {user}: "
                   f"{_short(data)}")
        engine.tasks.complete(task.id, actor=user, data=data)

    def timer(self, due: datetime) -> None:
        moment = max(self.clock.now(), due) + timedelta(seconds=self.rng.randint(1, 3600))
        self.clock.set(moment)
        fired = sweep(self.engine).fired
        self.result.log(f"clock to {moment.isoformat()} (timer due {due.isoformat()}), "
                        f"sweep fired {fired}")

    def message(self, name: str, business_key: str | None) -> None:
        given = self.hints.get(f"message:{name}")
        data = given(self.world) if given is not None else {}
        self.result.log(f"message {name}: {_short(data)}")
        self.engine.runtime.message(name, business_key=business_key, data=data)

    def cancel(self, outcome: str) -> None:
        self.result.log(f"cancel ({outcome})")
        row = self.engine.history.instance(self.result.instance_id)
        self.engine.runtime.cancel(row.id, actor=row.started_by, reason=f"random walk: {outcome}")
        self.result.outcome = outcome
