"""An operation whose type hints name a class imported only for type checkers.

``Decimal`` exists while mypy reads the module, not when Athena resolves the
hints at run time: the operation cannot be checked or described.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from athena_core import hookimpl
from athena_core.api import operation

if TYPE_CHECKING:
    from decimal import Decimal


@operation(permissions="read")
def total(athena: Any, amount: Decimal) -> str:
    """Format ``amount`` as a ledger total."""
    return f"{amount:.2f}"


@hookimpl
def athena_register_api(register: Any) -> None:
    register("ledger.total", total)


#: The memories this plugin's observer heard of (a disabled plugin hears of none).
SEEN: list[str] = []


@hookimpl
def athena_after_remember(memory: Any) -> None:
    SEEN.append(memory.id)
