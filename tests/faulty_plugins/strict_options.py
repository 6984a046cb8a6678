"""An embedder, a vector backend and an executor that check their options.

Each takes one option, checked with :class:`athena_core.options.PluginOptions`
when its factory is called, as the plugin docs say.
"""

from __future__ import annotations

from typing import Any

from athena_core import hookimpl
from athena_core.execution.model import ExecutorBase, ExecutorContext
from athena_core.options import PluginOptions
from athena_core.retrieval import HashingEmbedder
from athena_core.retrieval.vectors import ExactVectorIndex

_EMBEDDER = PluginOptions("strict embedder", "[retrieval.embedder_options]", ("width",))
_BACKEND = PluginOptions("strict vector backend", "[retrieval.vector_options]", ("shards",))
_EXECUTOR = PluginOptions("strict executor", "[execution.executor_options]", ("lanes",))


def embedder(context: Any) -> HashingEmbedder:
    _EMBEDDER.check_names(context.options)
    return HashingEmbedder(_EMBEDDER.integer("width", context.options.get("width", 64), low=8))


def backend(context: Any) -> ExactVectorIndex:
    _BACKEND.check_names(context.options)
    _BACKEND.integer("shards", context.options.get("shards", 1), low=1, high=64)
    return ExactVectorIndex(context.dimension)


class LanesExecutor(ExecutorBase):
    """An executor that is only ever checked here: it never runs a program."""

    name = "strict-executor"

    def __init__(self, context: ExecutorContext) -> None:
        super().__init__(context)
        _EXECUTOR.check_names(context.options)
        self.lanes = _EXECUTOR.integer("lanes", context.options.get("lanes", 1), low=1, high=8)

    def _probe(self) -> str | None:
        return "this test executor never runs programs"

    def refusals(self, policy: Any, language: str) -> list[str]:
        return ["this test executor never runs programs"]

    def run(self, request: Any, bridge: Any) -> Any:
        raise NotImplementedError("this test executor never runs programs")

    def close(self) -> None:
        pass


@hookimpl
def athena_register_embedders(register: Any) -> None:
    register("strict-embedder", embedder)


@hookimpl
def athena_register_vector_backends(register: Any) -> None:
    register("strict-backend", backend)


@hookimpl
def athena_register_executors(register: Any) -> None:
    register("strict-executor", LanesExecutor.from_context)
