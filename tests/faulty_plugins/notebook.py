"""A memory layer whose operation's type hints name a class imported only for type checkers.

Its factory is a function, so the layer's class is known only once Athena makes it:
the operation is checked when Athena opens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from athena_core import hookimpl
from athena_core.api import operation
from athena_core.errors import InvalidArgumentError

if TYPE_CHECKING:
    from fractions import Fraction


class NotebookLayer:
    """Pages of notes (this test layer stores nothing)."""

    name = "notebook"
    api_namespace = "notebook"

    def __init__(self, context: Any) -> None:
        self._store = context.store

    @operation(permissions="read")
    def page(self, share: Fraction) -> int:
        """The page at ``share`` of the notebook."""
        return int(share * 100)

    # The rest of MemoryLayer: this layer keeps no memories of its own.
    def store_generic(self, text: str, **options: Any) -> str:
        raise InvalidArgumentError("The notebook layer keeps no memories.")

    def export_fields(self, session: Any, row: Any) -> dict[str, Any]:
        return {}

    def import_fields(self, session: Any, row: Any, fields: Any) -> None:
        return None

    def related_for_forget(self, session: Any, keys: set[int]) -> set[int]:
        return keys


def make_layer(context: Any) -> NotebookLayer:
    return NotebookLayer(context)


@hookimpl
def athena_register_memory_layers(register: Any) -> None:
    register("notebook", make_layer)
