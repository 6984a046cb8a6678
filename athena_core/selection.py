"""The plugins a configuration selects, made with their options before anything runs.

``athena config check`` and ``athena doctor`` call :func:`check_selected_plugins`, so
that an invalid option of the embedder, the vector backend or the executor fails there
- with an error naming the plugin and the option - and not at the first recall or run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from athena_core.errors import AthenaError

if TYPE_CHECKING:
    from athena_core.config import Config
    from athena_core.plugins import PluginHost

__all__ = ["check_selected_plugins"]


def check_selected_plugins(config: Config, host: PluginHost) -> list[tuple[str, AthenaError]]:
    """Make (and close) each plugin ``config`` selects, with its options; return what
    failed as ``(what, error)`` pairs, e.g. ``("embedder 'minilm'", OptionError(...))``.

    Selected are the embedder, the vector backend, the executor, the LLM provider
    (``[procedures] llm_provider``, when set) and the PII detectors (whose types
    ``[privacy]`` must name); with no executor
    configured, every installed one that automatic selection may pick (each would get
    ``[execution.executor_options]``). Nothing is opened or written: a backend is made
    and closed, never opened.
    """
    from athena_core.execution.runner import AUTO_ORDER, ExecutionService
    from athena_core.retrieval import EmbedderContext, VectorBackendContext
    from athena_core.retrieval.embedders import preferred_embedder

    problems: list[tuple[str, AthenaError]] = []

    def make(family: str, name: str, create: Any) -> Any:
        try:
            return create()
        except AthenaError as exc:
            problems.append((f"{family} {name!r}", exc))
            return None

    retrieval = config.retrieval
    embedder_name = retrieval.embedder or preferred_embedder(host.registry("embedder").names())
    embedder = make("embedder", embedder_name, lambda: host.create(
        "embedder", embedder_name,
        EmbedderContext(options=retrieval.embedder_options, data_dir=config.data_dir)))
    if embedder is not None:
        backend = make("vector backend", retrieval.vector_backend, lambda: host.create(
            "vector backend", retrieval.vector_backend,
            VectorBackendContext(dimension=embedder.dimension, options=retrieval.vector_options,
                                 data_dir=config.data_dir, database_url=config.database_url)))
        if backend is not None:
            backend.close()
    if config.procedures.llm_provider:
        from athena_core.llm import selected_llm_provider

        make("llm provider", config.procedures.llm_provider,
             lambda: selected_llm_provider(config, host))

    from athena_core.privacy.detection import Detection

    make("privacy rules", "[privacy]", lambda: Detection.from_plugins(host, config.privacy))
    service = ExecutionService(config, host)
    try:
        executors = [config.execution.executor] if config.execution.executor else [
            name for name in AUTO_ORDER if name in host.registry("executor")]
        for name in executors:
            make("executor", name, lambda name=name: service.create(name))
    finally:
        service.close()
    return problems
