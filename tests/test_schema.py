"""The database schema comes from Alembic migrations and matches the models."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from engine.database import Database
from engine.models import Base


def test_init_twice_is_harmless_and_the_migrations_match_the_models(database_url):
    db = Database(database_url)
    db.create_schema()
    db.create_schema()
    assert db.schema_revision() == "0016"
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    db.dispose()
