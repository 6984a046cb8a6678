"""Checking the options a plugin takes from a table of the configuration.

A plugin's options arrive as a plain mapping (``[retrieval.embedder_options]``,
``[retrieval.vector_options]``, an executor's ``[execution.executor_options]``).
:class:`PluginOptions` checks names and values with one wording and one error
class, :class:`~athena_core.errors.OptionError`, for every plugin::

    OPTIONS = PluginOptions("minilm embedder", "[retrieval.embedder_options]",
                            ("model_dir", "max_tokens"))
    OPTIONS.check_names(context.options)
    max_tokens = OPTIONS.integer("max_tokens", value, low=3, high=512)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from athena_core.errors import OptionError

__all__ = ["PluginOptions"]


def _names(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(names)


@attrs.frozen
class PluginOptions:
    """The options of one plugin: who takes them, from which table, and their names."""

    #: Who takes them, as users know it: ``"faiss vector backend"``.
    owner: str
    #: The configuration table they are read from: ``"[retrieval.vector_options]"``.
    table: str
    #: Every valid option name.
    names: tuple[str, ...] = attrs.field(converter=_names)

    def check_names(self, given: Mapping[str, Any]) -> None:
        """Refuse names that are not options, listing the valid ones."""
        unknown = sorted(set(given) - set(self.names))
        if unknown:
            raise OptionError(
                f"Unknown {self.owner} option(s) {', '.join(map(repr, unknown))} in "
                f"{self.table}; valid: {', '.join(self.names)}.")

    def error(self, name: str, requirement: str, value: object) -> OptionError:
        """The error for option ``name`` whose ``value`` does not meet ``requirement``."""
        return OptionError(f"{self.owner}: {self.table} {name} must be {requirement}, "
                           f"not {value!r}.")

    def integer(self, name: str, value: object, *, low: int,
                high: int | None = None) -> int:
        """``value`` if it is an integer (not a bool) from ``low`` to ``high``."""
        if (isinstance(value, bool) or not isinstance(value, int) or value < low
                or (high is not None and value > high)):
            bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise self.error(name, f"an integer {bounds}", value)
        return value

    def fraction(self, name: str, value: object) -> float:
        """``value`` as a float if it is a number strictly between 0 and 1."""
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not math.isfinite(value) or not 0 < value < 1):
            raise self.error(name, "a number between 0 and 1 (exclusive)", value)
        return float(value)

    def choice(self, name: str, value: object, choices: Sequence[str]) -> str:
        """``value`` if it is one of ``choices``."""
        if not isinstance(value, str) or value not in choices:
            raise self.error(name, f"one of {', '.join(map(repr, choices))}", value)
        return value

    def text(self, name: str, value: object) -> str:
        """``value`` if it is a non-empty string."""
        if not isinstance(value, str) or not value:
            raise self.error(name, "a non-empty string", value)
        return value
