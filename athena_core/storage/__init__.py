"""Storage: SQLAlchemy models, the database engine and schema migrations."""

from athena_core.storage.engine import SCHEMA_HEAD, Storage

__all__ = ["SCHEMA_HEAD", "Storage"]
