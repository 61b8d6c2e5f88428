"""The worklist shows each user exactly the open tasks they may work on, in the order
asked, page after page, with the right counts: checked against every open task read
directly, on both databases, before and after claims, and across a schema upgrade."""

from __future__ import annotations

import random
import re
import sqlite3
import uuid
from contextlib import closing
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import text

from engine.database import alembic_config
from engine.definitions import collect_files
from engine.history.replay import verify_instance
from engine.identity.users import add_user
from engine.queries import worklist as worklist_module
from engine.queries.worklist import SORTS, WorklistQuery
from engine.store import task_search
from engine.store.visibility import NO_DEADLINE
from webui import create_app

from walks import FIXTURES

PEOPLE = {"ada": {"team-kir", "team-med"}, "bo": {"team-psyk"}, "cy": set()}
TITLES = ("Fall fra seng", "Forsinket behandling av sepsis", "Feil dose")


@pytest.fixture
def cases(engine, clock):
    """Forty cases with two open tasks each: offered to one or two groups, some also to
    a user by name, with deadlines behind and ahead; ada and bo have claimed a few."""
    with engine.db.transaction() as session:
        for name, groups in PEOPLE.items():
            add_user(session, name, sorted(groups))
    engine.repository.deploy(collect_files([str(FIXTURES / "arbeidsliste.bpmn")]), actor="per")
    rng = random.Random(7)
    for i in range(40):
        engine.runtime.start("arbeidsliste", actor="per", business_key=f"SAK-{i:03d}", data={
            "grupper": rng.choice(["team-kir", "team-med", "team-kir,team-med",
                                   "team-psyk"]),
            "brukere": rng.choice(["", "", "cy", "ada"]),
            "frist": (clock.now() + timedelta(days=rng.randint(-6, 20))).isoformat(),
            "klinikk": rng.choice(["kir", "med"]),
            "saktittel": f"{rng.choice(TITLES)} nr. {i}"})
        clock.advance(minutes=rng.choice([0, 1, 5]))  # equal creation times happen
    for actor, count in (("ada", 3), ("bo", 2)):
        offered = [t for t in engine.tasks.find(actor=actor) if not t.assignee]
        for task in offered[:count]:
            engine.tasks.claim(task.id, actor=actor)
    return engine


def expected(engine, query: WorklistQuery) -> list[str]:
    """The task ids the query should show, worked out from every open task."""
    now, actor, groups = engine.clock.now(), query.actor, PEOPLE[query.actor]

    def offered(t):
        return not t.assignee and (groups & set(t.candidate_groups)
                                   or actor in t.candidate_users)

    def due(t):
        return t.due_at.replace(tzinfo=now.tzinfo) if t.due_at else NO_DEADLINE

    keep = {"all": lambda t: t.assignee == actor or offered(t),
            "mine": lambda t: t.assignee == actor,
            "group": offered}[query.scope]
    tasks = [t for t in engine.tasks.find() if keep(t)]
    if query.clinic:
        tasks = [t for t in tasks if t.clinic == query.clinic]
    if query.text:
        titles = engine.history.case_titles(sorted({t.instance_id for t in tasks}))
        tasks = [t for t in tasks if query.text.lower() in t.name.lower()
                 or query.text.lower() in (t.business_key or "").lower()
                 or query.text.lower() in titles.get(t.instance_id, "").lower()]
    if query.due == "overdue":
        tasks = [t for t in tasks if due(t) < now]
    elif query.due == "soon":
        tasks = [t for t in tasks if now <= due(t) <= now + timedelta(days=3)]
    columns = {"due_key": due, "created_at": lambda t: t.created_at, "name": lambda t: t.name,
               "process_key": lambda t: t.process_key}
    tasks.sort(key=lambda t: (*(columns[k](t) for k in SORTS[query.sort]), t.id),
               reverse=query.sort.startswith("-"))
    return [t.id for t in tasks]


def walk_pages(engine, **kwargs) -> tuple[list[str], list]:
    ids, pages, number = [], [], 1
    while True:
        page = engine.tasks.worklist(WorklistQuery(page=number, per_page=7, **kwargs))
        pages.append(page)
        ids += [t.id for t in page.tasks]
        if not page.has_next:
            return ids, pages
        number += 1


@pytest.mark.parametrize("actor", sorted(PEOPLE))
@pytest.mark.parametrize("sort", sorted(SORTS))
def test_page_after_page_the_user_sees_what_they_may_work_on_in_the_order_asked(
        cases, actor, sort):
    for scope in ("all", "mine", "group"):
        query = WorklistQuery(actor=actor, scope=scope, sort=sort)
        ids, pages = walk_pages(cases, actor=actor, scope=scope, sort=sort)
        want = expected(cases, query)
        assert ids == want, (scope, sort)
        assert pages[0].total == len(want)
        assert pages[0].pages == max(1, -(-len(want) // 7))


@pytest.mark.parametrize("narrow", [worklist_module.NARROW_FACTOR, 0],
                         ids=["search-index", "row-by-row"])
def test_filters_and_counts_agree_with_the_open_tasks(cases, monkeypatch, narrow):
    """Also with a text search read row by row on SQLite, as when its index finds more
    tasks than it narrows to; what is typed is looked for as typed (`_` and `%` too)."""
    monkeypatch.setattr(worklist_module, "NARROW_FACTOR", narrow)
    for filters in ({"clinic": "med"}, {"text": "sak-01"}, {"text": "arkiv"},
                    {"text": "SEPSIS"}, {"text": "nr. 3"}, {"text": "r_ 1"}, {"text": "s%"},
                    {"due": "overdue"}, {"due": "soon", "sort": "-due"}):
        ids, pages = walk_pages(cases, actor="ada", **filters)
        assert ids == expected(cases, WorklistQuery(actor="ada", **filters)), filters
    counts = cases.tasks.worklist(WorklistQuery(actor="ada")).counts
    assert counts == {
        "mine": len(expected(cases, WorklistQuery(actor="ada", scope="mine"))),
        "group": len(expected(cases, WorklistQuery(actor="ada", scope="group"))),
        "overdue": len(expected(cases, WorklistQuery(actor="ada", due="overdue"))),
        "soon": len(expected(cases, WorklistQuery(actor="ada", due="soon")))}
    assert counts["mine"] == 3 and counts["group"] > 0


@pytest.mark.parametrize("read_back", [False, True], ids=["kept", "read-back"])
def test_a_cases_new_title_is_found_on_the_task_that_stays_open(
        cases, database_url, clock, read_back):
    """One of a case's two tasks is completed with a new title; the other, still open,
    is found by the new title and no longer by the old one, whether the command ran on
    the case kept in memory or on the case read back from the database. Meanwhile the
    case's data is what the completed branch left, not the empty data of the join that
    waits for the other."""
    from installation import services
    task = cases.tasks.worklist(WorklistQuery(actor="ada", text="fall fra seng")).tasks[0]
    [other] = [t for t in cases.tasks.find() if t.instance_id == task.instance_id
               and t.id != task.id]
    engine = services.build_engine(database_url, clock=clock) if read_back else cases
    if task.element_id != "Task_Frist":
        task, other = other, task
    engine.tasks.claim(task.id, actor="ada")
    engine.tasks.complete(task.id, actor="ada", data={"saktittel": "Legemiddel forvekslet"})
    data = cases.history.show(task.instance_id)["data"]
    assert data["saktittel"] == "Legemiddel forvekslet" and data["grupper"]
    for actor in ("ada", "bo", "cy"):
        if other.id in expected(cases, WorklistQuery(actor=actor)):
            break
    found = walk_pages(cases, actor=actor, text="forvekslet")[0]
    assert found == [other.id]
    assert other.id not in walk_pages(cases, actor=actor, text="fall fra seng")[0]
    assert found == expected(cases, WorklistQuery(actor=actor, text="forvekslet"))


def test_the_search_finds_the_same_after_the_database_is_vacuumed(cases):
    """VACUUM may number SQLite's rows anew; the search index keeps its own keys, so a
    search, a task closed and a search again agree with the open tasks."""
    before = walk_pages(cases, actor="ada", text="sepsis")[0]
    if cases.db.dialect == "sqlite":  # outside the engine, which begins every transaction
        cases.db.engine.dispose()
        with closing(sqlite3.connect(cases.db.engine.url.database)) as conn:
            conn.execute("VACUUM")
    else:
        with cases.db.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM")
    assert walk_pages(cases, actor="ada", text="sepsis")[0] == before
    task = next(t for t in cases.tasks.find(actor="ada") if t.id in before)
    cases.tasks.claim(task.id, actor="ada")
    cases.tasks.complete(task.id, actor="ada")
    after = walk_pages(cases, actor="ada", text="sepsis")[0]
    assert task.id not in after
    assert after == expected(cases, WorklistQuery(actor="ada", text="sepsis"))


def test_a_claimed_task_keeps_its_cases_title(cases):
    task = next(t for t in cases.tasks.worklist(WorklistQuery(actor="ada", scope="group",
                                                              text="sepsis")).tasks)
    cases.tasks.claim(task.id, actor="ada")
    assert task.id in walk_pages(cases, actor="ada", scope="mine", text="sepsis")[0]
    cases.tasks.unclaim(task.id, actor="ada")
    assert task.id in walk_pages(cases, actor="ada", scope="group", text="sepsis")[0]


def test_a_task_offered_to_two_of_my_groups_is_listed_once(cases):
    ids, _ = walk_pages(cases, actor="ada")
    assert len(ids) == len(set(ids))
    both = [t for t in cases.tasks.find(actor="ada")
            if {"team-kir", "team-med"} <= set(t.candidate_groups) and not t.assignee]
    assert both and all(ids.count(t.id) == 1 for t in both)


def test_a_claimed_task_leaves_the_group_and_comes_back_when_given_back(cases):
    task = next(t for t in cases.tasks.worklist(WorklistQuery(actor="ada", scope="group")).tasks
                if "team-kir" in t.candidate_groups)
    cases.tasks.claim(task.id, actor="ada")
    assert task.id in [t.id for t in cases.tasks.worklist(WorklistQuery(actor="ada",
                                                                  scope="mine")).tasks]
    assert task.id not in walk_pages(cases, actor="ada", scope="group")[0]
    cases.tasks.unclaim(task.id, actor="ada")
    assert task.id in walk_pages(cases, actor="ada", scope="group")[0]
    assert task.id not in walk_pages(cases, actor="ada", scope="mine")[0]


def test_counts_stop_at_the_cap_and_the_pages_still_lead_to_every_task(
        cases, monkeypatch):
    monkeypatch.setattr(worklist_module, "COUNT_CAP", 5)
    ids, pages = walk_pages(cases, actor="ada")
    assert ids == expected(cases, WorklistQuery(actor="ada"))
    first = pages[0]
    assert first.total == 6 and first.pages is None and first.figure(first.total) == "5+"
    assert first.counts["group"] == 6


def test_a_downgrade_and_upgrade_of_the_schema_keeps_every_case_working(cases):
    """Down to the schema before the visibility projection and the compressed states,
    and up again: every task is where it was, and the cases go on and verify."""
    before = {actor: walk_pages(cases, actor=actor)[0] for actor in PEOPLE}
    with cases.db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0002")
    cases.db.create_schema()
    assert {actor: walk_pages(cases, actor=actor)[0] for actor in PEOPLE} == before
    task = cases.tasks.worklist(WorklistQuery(actor="ada", scope="mine")).tasks[0]
    cases.tasks.complete(task.id, actor="ada")
    assert task.id not in walk_pages(cases, actor="ada")[0]
    assert verify_instance(cases, task.instance_id).ok


def test_the_upgrade_that_carries_titles_finds_the_open_tasks_by_their_cases_title(cases):
    """Migration 0016: from the schema before the worklist rows carried the case's title,
    the open tasks are found by it again, claimed or not."""
    def seen():
        return {(actor, scope): walk_pages(cases, actor=actor, scope=scope, text="sepsis")[0]
                for actor in PEOPLE for scope in ("mine", "group")}

    before = seen()
    assert before[("ada", "mine")] and before[("ada", "group")]
    with cases.db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0015")
    cases.db.create_schema()
    assert seen() == before


def test_the_page_shows_capped_counts_and_leads_on_page_by_page(cases, tmp_path, monkeypatch):
    """In Norwegian: counts past the cap read "5+", the summary "more than 5 tasks", and
    "Neste" leads through every page until the last, which has none."""
    monkeypatch.setattr(worklist_module, "COUNT_CAP", 5)
    with cases.db.transaction() as session:
        add_user(session, "ada", sorted(PEOPLE["ada"]), password="passord-for-ada")
    client = create_app({"INSTANCE_PATH": str(tmp_path / "instance"),
                         "WTF_CSRF_ENABLED": False}, engine=cases).test_client()
    client.post("/login", data={"username": "ada", "password": "passord-for-ada"})
    html = client.get("/").get_data(as_text=True)
    assert '<span class="count">5+</span>' in html and "Mer enn 5 oppgaver" in html
    assert "Side 1<" in html and "Side 1 av" not in html
    seen, number = [], 1
    while True:
        html = client.get(f"/?page={number}").get_data(as_text=True)
        seen += re.findall(r'data-task="([^"]+)"', html)
        if "Neste" not in html:
            break
        number += 1
    assert seen == expected(cases, WorklistQuery(actor="ada"))


def test_sqlite_search_index_tells_few_matches_from_many_before_reading_them(
        tmp_path, monkeypatch):
    """SQLite's search index (PostgreSQL's planner chooses by its own statistics): from
    the first keys of the cases that match it estimates how many there are, and hands
    their tasks over only when they are no more than asked. 600 of 2,000 cases, a task
    each, hold the word in their title, which is too many when 450 are the most and few
    enough when 800 are. What a task's name holds it leaves to the rows, read in order."""
    from engine.database import Database
    engine = Database(f"sqlite:///{tmp_path / 'search.sqlite3'}")
    engine.create_schema()
    rng = random.Random(3)
    cases = {str(uuid.UUID(int=rng.getrandbits(128), version=4)):
             "Sepsis ikke oppdaget" if i % 10 < 3 else "Fall fra seng" for i in range(2000)}
    tasks = [{"id": str(uuid.UUID(int=rng.getrandbits(128), version=5)), "instance_id": case}
             for case in cases]
    engine.dispose()
    with closing(sqlite3.connect(engine.engine.url.database)) as conn, conn:  # only the rows
        conn.executemany(  # the search reads (no foreign keys asked for)
            "INSERT INTO human_tasks (id, instance_id, definition_id, process_key, element_id,"
            " name, candidate_groups, candidate_users, priority, form, created_at) VALUES "
            "(:id, :instance_id, 1, 'p', 'T', 'Vurder tiltak', '[]', '[]', 50, '{}', "
            "'2026-01-01 00:00:00')", tasks)
        conn.executemany("INSERT INTO case_search (rowid, instance_id, searched) "
                         "VALUES (?, ?, ?)",
                         [(task_search.key(case), case, task_search.case_text(f"SAK-{n}", title))
                          for n, (case, title) in enumerate(cases.items())])
    with engine.transaction() as session:
        conn = session.connection()
        opened = []
        assert task_search.matching(conn, "sepsis", lambda n: opened.append(n) or 450) is None
        assert 1800 <= opened[0] <= 2200  # the open tasks, estimated too
        found = task_search.matching(conn, "sepsis", lambda n: 800)
        assert sorted(found) == sorted(t["id"] for t in tasks
                                       if cases[t["instance_id"]].startswith("S"))
        numbers = {case: f"sak-{n} " for n, case in enumerate(cases)}
        assert sorted(task_search.matching(conn, "sak-17", lambda n: 0)) == sorted(
            t["id"] for t in tasks  # sak-17, -170 to -179, -1700 to -1799: few, said so
            if numbers[t["instance_id"]].startswith("sak-17"))
        assert task_search.matching(conn, "bekreft!", lambda n: 0) == []  # none
        assert task_search.matching(conn, "se", lambda n: 800) is None  # too short to say
        assert task_search.matching(conn, "tiltak", lambda n: 800) is None  # a name's
        assert task_search.matching(conn, "tiltak sak-3", lambda n: 800) is None  # and on
        # names written from each case's data can be as many as the tasks: past the
        # most it reads, any name may hold the words
        monkeypatch.setattr(task_search, "MOST_NAMES", 0)
        assert task_search.names(conn) is None
        assert task_search.matching(conn, "sepsis", lambda n: 800) is None
        monkeypatch.setattr(task_search, "MOST_NAMES", 1)
        assert task_search.names(conn) == ["Vurder tiltak"]
    engine.dispose()


def test_the_search_follows_a_new_title_and_forgets_a_cancelled_case(cases):
    """A new title is found and a cancelled case's number is not, through commands on
    cases kept in memory and read back alike. On SQLite its index holds one row per case
    that has not ended, with its number and title as they are now."""
    task = cases.tasks.worklist(WorklistQuery(actor="ada", scope="mine")).tasks[0]
    cases.tasks.complete(task.id, actor="ada", data={"saktittel": "Legemiddel forvekslet"})
    ended = next(t for t in cases.tasks.find() if t.instance_id != task.instance_id)
    cases.runtime.cancel(ended.instance_id, actor="per", reason="registrert to ganger")
    for actor in PEOPLE:
        for words in ("forvekslet", ended.business_key):
            assert walk_pages(cases, actor=actor, text=words)[0] == expected(
                cases, WorklistQuery(actor=actor, text=words))
    assert not walk_pages(cases, actor="ada", text=ended.business_key)[0]
    if cases.db.dialect != "sqlite":  # PostgreSQL's index is on the worklist's rows
        return
    with cases.db.reading() as session:
        held = dict(session.execute(text(f"SELECT instance_id, searched FROM "
                                         f"{task_search.TABLE}")).all())
        running = session.execute(text(
            "SELECT id, business_key, title FROM process_instances JOIN case_facts "
            "ON instance_id = id WHERE status = 'running'")).all()
    assert held == {case: task_search.case_text(number, title)
                    for case, number, title in running}
    assert ended.instance_id not in held and "legemiddel forvekslet" in held[task.instance_id]
