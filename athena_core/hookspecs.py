"""The plugin contract: every hook Athena calls, typed and documented.

Plugins implement hooks with :data:`athena_core.hookimpl` and are found through
the ``athena.plugins`` entry point group. Hooks are always called with keyword
arguments; an implementation may accept fewer arguments than its spec (that is
how hooks grow) and never gives its arguments defaults.

Registration hooks receive a ``register(name, factory)`` callback. The name is
what configuration selects (``[retrieval] embedder = "hashing"``); registering a
name twice is an error that names both plugins. What a factory is called with,
and what it must return, is stated in each hook.

The families, in the order Athena calls them:

* **registration** - memory layers, vector backends, embedders, executors,
  extra API operations, PII detectors, key providers, marketplace sources and
  LLM providers;
* **proposals** - knowledge-graph entities and relations proposed for a text;
* **lifecycle** - configure, startup, shutdown;
* **events** - observers called after an operation succeeded and its writes
  committed. An observer's return value is ignored; an observer that raises is
  logged (logger ``athena.plugins``, with the plugin's name in the record's
  ``plugin`` attribute) and never makes the operation fail, and the other
  observers still get the call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from athena_core.config import Config
    from athena_core.memory.values import Fact, Hit, Memory
    from athena_core.runtime import Athena
    from athena_core.transfer import ImportReport

__all__ = ["PROJECT", "Register", "hookimpl", "hookspec"]

PROJECT = "athena"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: The callback every registration hook receives: ``register(name, factory)``.
Register = Callable[[str, Callable[..., Any]], None]


# --- registration -----------------------------------------------------------


@hookspec
def athena_register_memory_layers(register: Register) -> None:
    """Register memory layers.

    ``factory(context: athena_core.memory.LayerContext)`` returns an
    :class:`athena_core.memory.MemoryLayer` whose ``name`` is the registered
    name. Its methods decorated with
    :func:`athena_core.api.operation` become agent-callable as
    ``athena.<name>.<method>``. The built-in layers are ``episodic`` and
    ``semantic``.

    Added in 0.1.
    """


@hookspec
def athena_register_vector_backends(register: Register) -> None:
    """Register vector backends (the dense half of retrieval).

    ``factory(context: athena_core.retrieval.VectorBackendContext)`` returns an
    :class:`athena_core.retrieval.VectorBackend`. Selected by
    ``[retrieval] vector_backend``; the built-in one is ``exact``. Every backend
    must pass :class:`athena_core.testing.VectorBackendContract`. A backend that keeps
    its entries between processes (a file, a table) implements
    :class:`athena_core.retrieval.PersistentVectorBackend` and passes
    :class:`athena_core.testing.PersistentVectorBackendContract`: Athena saves a
    checkpoint with the entries and rebuilds them from the database when it no
    longer matches.

    Added in 0.1.
    """


@hookspec
def athena_register_embedders(register: Register) -> None:
    """Register embedders (text to vectors).

    ``factory(context: athena_core.retrieval.EmbedderContext)`` returns an
    :class:`athena_core.retrieval.Embedder`. Selected by
    ``[retrieval] embedder``; the built-in one is ``hashing``. Every embedder
    must pass :class:`athena_core.testing.EmbedderContract` and must not fetch
    anything from the network.

    Added in 0.1.
    """


@hookspec
def athena_register_executors(register: Register) -> None:
    """Register code executors (sandboxes that run agents' programs).

    ``factory(context: athena_core.execution.model.ExecutorContext)`` returns an
    :class:`athena_core.execution.model.Executor` that runs an execution request
    under OS isolation and enforces every policy rule it accepts, refusing
    (``refusals``) requests with rules it cannot enforce. Selected by
    ``[execution] executor``, or automatically (``bwrap``, then ``srt``); an
    executor must never fall back to running code unsandboxed.

    Added in 0.1.
    """


@hookspec
def athena_register_api(register: Register) -> None:
    """Register extra agent-callable operations.

    ``factory`` is a function decorated with :func:`athena_core.api.operation`
    whose first parameter receives the :class:`~athena_core.Athena` instance;
    the registered name is its dotted API name (for example ``"notes.pin"``).
    Operations become available on the host API, and to sandboxed programs,
    discovery and MCP as those arrive, from this one declaration.

    Checked when the plugin loads: every dotted part of the name is a public
    Python identifier, its first part is not reserved
    (:meth:`athena_core.Athena.reserved_names`: ``remember``, ``api``,
    ``errors``, ...), and the type hints resolve at run time (a name imported
    only under ``if TYPE_CHECKING:`` does not). A plugin that fails is disabled.

    Added in 0.1.
    """


@hookspec
def athena_register_pii_detectors(register: Register) -> None:
    """Register detectors of sensitive values (e-mail addresses, keys, ...).

    ``factory(context: athena_core.privacy.DetectorContext)`` returns an
    :class:`athena_core.privacy.Detector`: ``types`` (the type names its spans may
    have) and ``detect(text)``, which returns :class:`athena_core.privacy.Span`
    values (type, start, end, detector, confidence), overlapping or not. Every
    registered detector runs on every scan, under the ``[privacy]`` rules that select
    types by type or detector name; the built-in ones are ``email``, ``phone``,
    ``payment_card``, ``iban``, ``us_ssn``, ``ip_address`` and ``secrets``. A
    detector that raises or returns a span outside its types or the text fails the
    scan with a ``PluginContractError`` naming it.

    Added in 0.1; called since 0.1 (``athena.privacy.scan``).
    """


@hookspec
def athena_register_key_providers(register: Register) -> None:
    """Register key providers for encryption at rest.

    ``factory(context: athena_core.privacy.keys.KeyProviderContext)`` returns a
    :class:`athena_core.privacy.keys.KeyProvider`, which holds the master key that wraps
    the data keys of sensitive values: ``load()`` returns it (32 bytes) or ``None`` if
    there is none yet, ``create()`` makes and keeps one (or raises
    ``KeyUnavailableError`` if it cannot), and ``describe()`` says where it is, never
    what. ``[privacy] key_provider`` chooses one by name; the built-in ones are ``file``
    and ``env``.

    Added in 0.1; called since 0.1 (``[privacy] key_provider``).
    """



@hookspec
def athena_register_marketplace_sources(register: Register) -> None:
    """Register marketplace sources that procedures can be found and installed from.

    ``factory(context)`` returns a source that lists, searches and fetches
    procedure packages as data (their code is never imported into the host).

    Added in 0.1.
    """


@hookspec
def athena_register_llm_providers(register: Register) -> None:
    """Register LLM providers: language models a feature may ask for help.

    ``factory(context: athena_core.llm.LlmProviderContext)`` returns an
    :class:`athena_core.llm.LlmProvider`: an object with
    ``complete(prompt: str, *, max_tokens: int) -> str``. ``[procedures]
    llm_provider`` selects one by name; an unknown name is an
    ``UnknownNameError`` listing the installed ones. ``athena procedures learn``
    asks it to name, describe and generalise its proposals, whose code still
    goes through the gate. Every feature that uses one also works, more simply,
    without one.

    Added in 0.1.
    """


# --- proposals ----------------------------------------------------------------


@hookspec
def athena_graph_proposals(text: str, types: Sequence[str]) -> Any:
    """Propose knowledge-graph entities and relations found in ``text`` (a memory's text
    as stored: sensitive values are placeholders such as ``[EMAIL_k3x7q2mz]``).

    Return ``None`` or ``{"entities": [{"name": str, "type": str}, ...], "relations":
    [{"subject": str, "predicate": str, "object": str}, ...]}``. ``types`` are the
    relation types the scope declares (empty: any). A language-model plugin answers
    here. Proposals are only suggestions: each goes through the graph's validation
    (every name must occur in ``text``, types must be well-formed and declared, a
    relation's ends must be proposed or known entities) and what fails is reported by
    ``graph.extract`` and never written. An implementation that raises is reported the
    same way; the rule-based proposals still apply.

    Added in 0.2.
    """


# --- lifecycle ----------------------------------------------------------------


@hookspec(historic=True)
def athena_configure(config: Config) -> None:
    """Receive the effective configuration before anything is opened.

    Historic: a plugin registered later still receives the call. Use it to read
    options; do no I/O here.

    Added in 0.1.
    """


@hookspec
def athena_startup(athena: Athena) -> None:
    """Called once when an :class:`~athena_core.Athena` instance is open and ready.

    Added in 0.1.
    """


@hookspec
def athena_shutdown(athena: Athena) -> None:
    """Called once when an :class:`~athena_core.Athena` instance closes.

    Release what ``athena_startup`` acquired. Exceptions are reported, not raised,
    so every plugin gets the call.

    Added in 0.1.
    """


# --- events -----------------------------------------------------------------


@hookspec
def athena_after_remember(athena: Athena, memory: Memory) -> None:
    """Called after a memory was stored in any layer and committed.

    ``memory`` is the stored :class:`athena_core.memory.Memory`. Observers must
    not modify it; the return value is ignored. A new version of a fact is a new
    memory (``athena_after_supersede`` follows); imported memories are reported
    once per import by ``athena_after_import`` instead.

    Added in 0.1.
    """


@hookspec
def athena_after_supersede(athena: Athena, old: Fact, new: Fact) -> None:
    """Called after ``semantic.update`` superseded fact ``old`` with ``new`` and committed.

    ``old`` is the previous version as it now is (``valid_to`` set, ``superseded_by``
    is ``new.id``); ``new`` is the new version, which ``athena_after_remember`` has
    just reported.

    Added in 0.1.
    """


@hookspec
def athena_after_import(athena: Athena, report: ImportReport) -> None:
    """Called once per import (``athena import``, :func:`athena_core.transfer.import_jsonl`)
    after every imported memory was committed.

    ``report`` counts the memories imported and those skipped (already present).
    Imported memories do not fire ``athena_after_remember`` one by one: an import
    of a million lines is one event.

    Added in 0.1.
    """


@hookspec
def athena_after_recall(athena: Athena, query: str, hits: Sequence[Hit]) -> None:
    """Called after ``recall`` found ``hits`` for ``query``.

    Added in 0.1.
    """


@hookspec
def athena_after_forget(athena: Athena, ids: Sequence[str]) -> None:
    """Called after the memories with ``ids`` were deleted for good.

    Plugins that keep copies (caches, external indexes) must delete them here.

    Added in 0.1.
    """


@hookspec
def athena_after_execute(athena: Athena, result: Any) -> None:
    """Called after a program ran in a sandbox, with its execution result.

    Added in 0.1.
    """
