"""The database schema comes from Alembic migrations and matches the models."""

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from engine.database import Database
from engine.definitions import collect_files
from engine.models import Base

from walks import PROCESSES, START_DATA


def test_init_twice_is_harmless_and_the_migrations_match_the_models(database_url):
    db = Database(database_url)
    db.create_schema()
    db.create_schema()
    assert db.schema_revision() == "0019"
    with db.engine.connect() as connection:
        # the search's indexes, which the models do not declare: PostgreSQL's trigram
        # index on an expression, with an extension's operator class (migration 0017);
        # SQLite's FTS5 table, the tables it keeps and the index of task names
        # (migration 0019)
        diff = compare_metadata(MigrationContext.configure(connection, opts={
            "include_name": lambda name, kind, parent: name not in (
                "ix_task_visibility_search", "ix_human_tasks_name")
            and not (kind == "table" and name.startswith("case_search"))}),
            Base.metadata)
    assert diff == []
    db.dispose()


@pytest.mark.postgres
def test_without_the_trigram_extension_the_schema_is_made_and_the_search_still_finds(
        templates, caplog):
    """A database where the user may not create extensions: the upgrade warns and leaves
    the search's index out; the worklist's text search finds what it found before. Once
    the extension is there, the next upgrade makes the index."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from engine.queries.worklist import WorklistQuery
    from installation import services

    role = f"tiltak_{uuid.uuid4().hex[:8]}"
    with templates.postgres_database() as url:
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE ROLE {role} LOGIN"))
            conn.execute(text(f"CREATE SCHEMA tiltak AUTHORIZATION {role}"))
            conn.execute(text(f"REVOKE CREATE ON DATABASE {make_url(url).database} "
                              "FROM PUBLIC"))
        limited = make_url(url).set(username=role, password=None).render_as_string(
            hide_password=False) + "?options=-csearch_path%3Dtiltak"
        engine = services.build_engine(limited)
        try:
            with caplog.at_level("WARNING", logger="tiltak.schema"):
                engine.db.create_schema()
            assert "pg_trgm extension could not be used" in caplog.text
            with admin.connect() as conn:
                assert not conn.scalar(text(
                    "SELECT count(*) FROM pg_indexes WHERE indexname = "
                    "'ix_task_visibility_search'"))
            services.load_demo_users(engine, passwords=False)
            engine.repository.deploy(collect_files([str(PROCESSES)]), actor="per")
            case = engine.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                        data=dict(START_DATA, klinikker=["kir"]))
            word = START_DATA["analyse_tittel"].split()[1]
            found = engine.tasks.worklist(WorklistQuery(actor="sigrid", text=word)).tasks
            assert [t.instance_id for t in found] == [case.id]
            # once a superuser has created the extension, the next upgrade makes the index
            with admin.connect() as conn:
                conn.execute(text("CREATE EXTENSION pg_trgm SCHEMA tiltak"))
            engine.db.create_schema()
            with admin.connect() as conn:
                assert conn.scalar(text(
                    "SELECT count(*) FROM pg_indexes WHERE indexname = "
                    "'ix_task_visibility_search'")) == 1
            found = engine.tasks.worklist(WorklistQuery(actor="sigrid", text=word)).tasks
            assert [t.instance_id for t in found] == [case.id]
        finally:
            engine.db.dispose()
            with admin.connect() as conn:
                conn.execute(text("DROP SCHEMA tiltak CASCADE"))
                conn.execute(text(f"DROP OWNED BY {role}"))
                conn.execute(text(f"DROP ROLE {role}"))
            admin.dispose()
