"""Operations written as a careless plugin author would: no ``scope`` parameter anywhere."""

from __future__ import annotations

from typing import Any

from athena_core import hookimpl
from athena_core.api import operation


@operation()
def find(athena: Any, query: str) -> list[str]:
    """Texts of the memories that match ``query``."""
    return [hit.text for hit in athena.recall(query, k=50)]


@operation(permissions="write")
def note(athena: Any, text: str) -> str:
    """Remember ``text`` and return its id."""
    return str(athena.remember(text))


@operation(permissions="delete")
def wipe(athena: Any, ids: list[str]) -> int:
    """Forget the memories ``ids``."""
    return int(athena.forget(ids))


@hookimpl
def athena_register_api(register: Any) -> None:
    register("scopeless.find", find)
    register("scopeless.note", note)
    register("scopeless.wipe", wipe)
