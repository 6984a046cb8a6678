"""Alembic environment: runs against the engine Athena opened (never a URL from a file)."""

from alembic import context

from athena_core.storage.models import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=True, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()
