"""An observer that fails on every event it receives, as a buggy mirror plugin would."""

from __future__ import annotations

from typing import Any

from athena_core import hookimpl


@hookimpl
def athena_after_remember(memory: Any) -> None:
    raise ConnectionError("the mirror service is down")


@hookimpl
def athena_after_forget(ids: Any) -> None:
    raise ConnectionError("the mirror service is down")
