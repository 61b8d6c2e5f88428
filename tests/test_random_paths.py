"""Every process in processes/, walked along seeded random valid paths, replays to
identical states, and every decision branch is taken on some walk. Every command runs
as a new process would run it, with the case restored from the database.

The walker (`random_walk.py`) knows no process by name: it starts every process a person
can start (a plain start event, not only called from another process), fills each form
from its field model and moves the instance on at random - completing tasks as a user
allowed to (sometimes claiming them first, giving them back or keeping them for later),
letting the clock run to the
next timer, sending the messages it waits for, now and then cancelling it. Walks go on
with new seeds until every outgoing flow of every exclusive, inclusive and event-based
gateway and every boundary event has been taken (or a cap), and then every instance is
rebuilt from its history alone and must reach the recorded state hash at every step.

A failing walk names its seed; `random_walk.walk(engine, clock, process, seed)` walks it
again alone.
"""

from __future__ import annotations

import time
from collections import Counter
from math import ceil

import random_walk
from process_per_command import ProcessPerCommand
from random_walk import Branch, Model, Walk, World

from engine.clock import FixedClock
from engine.definitions import collect_files
from engine.history.replay import verify_all
from installation import services

from walks import FIXTURES, PROCESSES

FIRST_SEED = 20260105
WALKS_AT_LEAST = 60  # in all, shared among the startable processes
WALKS_AT_MOST = 240  # when branches are still missing
SHOWN = 10  # instances named when replay fails


def walk_until_covered(engine, clock, model: Model, *, first_seed: int = FIRST_SEED,
                       at_least: int = WALKS_AT_LEAST, at_most: int = WALKS_AT_MOST,
                       **options) -> tuple[list[Walk], dict[Branch, int]]:
    """Rounds of one walk per startable process, each with the next seed, until every
    branch was taken and `at_least` walks were made, or `at_most` walks."""
    world = World.demo()
    walks: list[Walk] = []
    first_taken: dict[Branch, int] = {}
    seed = first_seed
    rounds_at_least = ceil(at_least / len(model.startable))
    rounds_at_most = max(rounds_at_least, at_most // len(model.startable))
    for round_ in range(rounds_at_most):
        if round_ >= rounds_at_least and set(first_taken) >= model.branches:
            break
        for process in model.startable:
            done = random_walk.walk(engine, clock, process, seed, model, world, **options)
            walks.append(done)
            for branch in done.taken:
                first_taken.setdefault(branch, seed)
            seed += 1
    return walks, first_taken


def replay_problems(engine, walks: list[Walk]) -> list[str]:
    """Every instance that does not replay to its recorded states, with its walk."""
    by_instance = {w.instance_id: w for w in walks}
    verdicts = verify_all(engine)
    assert {v.instance_id for v in verdicts} >= set(by_instance), "instances went missing"
    bad = sorted((v for v in verdicts if not v.ok),
                 key=lambda v: (by_instance[v.instance_id].seed
                                if v.instance_id in by_instance else -1, v.instance_id))
    problems = []
    for verdict in bad[:SHOWN]:
        walked = by_instance.get(verdict.instance_id)
        who = f"seed {walked.seed} ({walked.process})" if walked else "not walked"
        problems.append(f"{who}: {verdict.as_dict()}")
    if len(bad) > SHOWN:
        problems.append(f"... and {len(bad) - SHOWN} more")
    first = by_instance.get(bad[0].instance_id) if bad else None
    if first is not None:  # the first one's moves in full
        problems.append(str(first.failure(
            f"event {bad[0].seq} ({bad[0].event_type}): {bad[0].problem}")))
    return problems


def summary(walks: list[Walk], first_taken: dict[Branch, int], model: Model,
            seconds: float) -> str:
    outcomes = Counter(w.outcome for w in walks)
    moves = sum(len(w.moves) for w in walks)
    lines = [f"{len(walks)} walks (seeds {walks[0].seed}-{walks[-1].seed}) of "
             f"{', '.join(model.startable)}: {dict(outcomes)}, {moves} moves, "
             f"{seconds:.1f} s"]
    for branch in sorted(model.branches):
        seed = first_taken.get(branch)
        lines.append(f"  {'first taken by seed ' + str(seed) if seed else 'NEVER TAKEN':24}"
                     f"  {branch}")
    return "\n".join(lines)


def test_random_walks_take_every_branch_and_replay_to_identical_states(deployed, clock):
    """Each command of a walk runs on a new engine, as in a new process (the command
    line, another web process, a restarted worker): only the database carries a case
    from one command to the next."""
    model = Model.of_folder(PROCESSES)
    assert model.startable, "no process in processes/ can be started by a person"
    began = time.perf_counter()
    walks, first_taken = walk_until_covered(ProcessPerCommand(deployed), clock, model)
    walked = time.perf_counter() - began
    report = summary(walks, first_taken, model, walked)
    print(report)

    problems = replay_problems(deployed, walks)
    print(f"replayed {len(walks)} instances in {time.perf_counter() - began - walked:.1f} s")
    never = sorted(model.branches - set(first_taken))
    failures = []
    if problems:
        failures += ["instances that do not replay to identical states:", *problems]
    if never:
        failures += [f"branches never taken in {len(walks)} walks:",
                     *[f"  {b}" for b in never], report]
    assert not failures, "\n".join(failures)


def test_a_walk_depends_only_on_its_seed(deployed, clock, tmp_path):
    """The same seeds on a second, fresh database (SQLite; from PostgreSQL that is also
    across databases) make the same moves and record the same state hashes."""
    model = Model.of_folder(PROCESSES)
    again = services.build_engine(f"sqlite:///{tmp_path / 'again.sqlite3'}",
                                  clock=(other_clock := FixedClock()))
    again.db.create_schema()
    services.load_demo_users(again, passwords=False)
    again.repository.deploy(collect_files([str(PROCESSES)]), actor="per")
    try:
        for process in model.startable:
            for seed in range(FIRST_SEED, FIRST_SEED + 3):
                first = random_walk.walk(deployed, clock, process, seed)
                second = random_walk.walk(again, other_clock, process, seed)
                assert first.moves == second.moves, f"seed {seed} ({process})"
                assert [e.state_hash for e in deployed.history.events(first.instance_id)] == \
                    [e.state_hash for e in again.history.events(second.instance_id)]
    finally:
        again.db.dispose()


# The walker on a process that has what processes/ has not yet: an intermediate timer
# on a literal date, a non-interrupting timer cycle, an interrupting timer from an
# expression, and an event-based gateway where a message races a timer.
FIXTURE_HINTS = {
    "timerformer:frist": lambda world: ["PT30M", "PT2H", "PT4H30M", "P1D"],
    "timerformer:purringer": lambda world: [0, 1, 5],
}


def test_the_walker_sends_messages_and_races_them_against_timers(engine, clock):
    files = collect_files([str(FIXTURES / "timerformer.bpmn")])
    engine.repository.deploy(files, actor="per")
    model = Model.of_files(files)
    assert model.startable == ["timerformer"]
    assert {b.element for b in model.branches} == {
        "Flow_TilSvar", "Flow_TilTimeout", "Timer_Purring", "Timer_Frist"}
    began = time.perf_counter()
    walks, first_taken = walk_until_covered(engine, clock, model, at_least=12, at_most=60,
                                            hints=FIXTURE_HINTS)
    report = summary(walks, first_taken, model, time.perf_counter() - began)
    assert set(first_taken) == model.branches, report
    assert any("message svar-mottatt" in m for w in walks for m in w.moves), report
    problems = replay_problems(engine, walks)
    assert not problems, "\n".join(problems)
