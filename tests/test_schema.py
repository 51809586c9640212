"""Alembic migrations: they build exactly the schema the models describe, on both engines, and go back down."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ballots import schema
from ballots.models import Base


def test_the_migrated_schema_matches_the_models(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_the_database_is_at_the_codes_head_revision(engine):
    assert schema.current_revision(engine) == schema.head_revision()


def test_migrations_go_down_and_up_again(engine):
    from alembic import command

    config = schema.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert schema.current_revision(engine) is None
    schema.upgrade(engine)
    assert schema.current_revision(engine) == schema.head_revision()
