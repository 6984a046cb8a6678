"""Storage: SQLAlchemy models, the database engine and schema migrations."""

from athena_core.storage.engine import SCHEMA_HEAD, Storage
from athena_core.storage.plugin_schema import upgrade_plugin_schema

__all__ = ["SCHEMA_HEAD", "Storage", "upgrade_plugin_schema"]
