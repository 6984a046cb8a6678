"""The front door: :class:`Athena` opens a data dir, wires plugins, layers and storage."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import attrs

from athena_core.api import ApiRegistry, Namespace, operation
from athena_core.config import Config
from athena_core.errors import AthenaError, InvalidArgumentError, MemoryNotFoundError
from athena_core.execution.model import ExecutionResult
from athena_core.memory.values import Episode, Hit, Memory
from athena_core.plugins import PluginHost, Registry

if TYPE_CHECKING:
    from athena_core.audit import AuditLog
    from athena_core.calls import CallContext
    from athena_core.execution.runner import ExecutionService
    from athena_core.graph import Graph
    from athena_core.memory import MemoryStore
    from athena_core.privacy.service import Privacy
    from athena_core.procedures.service import Procedures
    from athena_core.prospective.service import Prospective
    from athena_core.retrieval.index import RecallIndex
    from athena_core.storage import Storage

__all__ = ["Athena"]

log = logging.getLogger("athena")

#: Plugins that ship inside athena-core (also declared as its entry points).
BUILTIN_PLUGINS = {
    "athena.memory": "athena_core.memory.plugin",
    "athena.retrieval": "athena_core.retrieval.plugin",
    "athena.privacy": "athena_core.privacy.plugin",
}
#: What ``__init__`` sets on every instance (the class's own names come from ``dir``).
_INSTANCE_NAMES = frozenset({"config", "plugins", "api", "layers", "storage", "index", "store"})


class Athena:
    """Long-term memory for one agent, team or app, backed by one data dir or database.

    Open it with :meth:`open` (or as a context manager); every operation takes a
    ``scope`` and never sees another scope's memories. Layer operations hang off
    ``athena.<layer>``, e.g. ``athena.episodic.record(...)``.
    """

    api_namespace = ""

    def __init__(self, config: Config, plugins: PluginHost) -> None:
        # Dumb on purpose: open() does the wiring, so a failed open cleans up after itself.
        self.config = config
        self.plugins = plugins
        self.api = ApiRegistry()
        self.layers: dict[str, Any] = {}
        self.storage: Storage | None = None
        self.index: RecallIndex | None = None
        self.store: MemoryStore | None = None
        self._execution: ExecutionService | None = None
        self._audit: AuditLog | None = None
        self._procedures: Procedures | None = None
        self._privacy: Privacy | None = None
        self._graph: Graph | None = None
        self._prospective: Prospective | None = None
        self._closed = False

    # --- lifecycle ---------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        config: Config | str | os.PathLike[str] | None = None,
        plugins: Sequence[object] = (),
        entry_points: bool = True,
    ) -> Athena:
        """Open the data dir ``path`` (default ``$ATHENA_HOME`` or ``~/.athena``).

        ``config`` is a :class:`Config` or the path of an ``athena.toml``;
        ``plugins`` are extra plugin objects to register (host apps, tests);
        ``entry_points=False`` loads only the built-in and given plugins.
        """
        if not isinstance(config, Config):
            config = Config.load(path, path=config)
        host = cls.plugin_host(config, plugins=plugins, entry_points=entry_points)
        athena = cls(config, host)
        try:
            athena._wire()
        except BaseException:
            athena.close()
            raise
        return athena

    @staticmethod
    def plugin_host(config: Config, *, plugins: Sequence[object] = (),
                    entry_points: bool = True) -> PluginHost:
        """The plugins ``config`` allows, loaded and checked (see :meth:`PluginHost.check`):
        installed ones (unless ``entry_points=False``), the built-in ones, then
        ``plugins``. ``athena plugins list``, ``config check`` and ``doctor`` see exactly
        what :meth:`open` would use."""
        host = PluginHost(config.plugins)
        if entry_points:
            host.load_entry_points()
        seen = {info.name for info in host.plugins()}
        for name, module in BUILTIN_PLUGINS.items():
            if name not in seen:  # running from a source tree without installed metadata
                host.load_module(name, module, distribution="athena-core")
        for plugin in plugins:
            host.register(plugin)
        host.check()
        return host

    @classmethod
    def reserved_names(cls) -> frozenset[str]:
        """Names that no plugin's operation or memory layer may take (or start with): what
        ``athena.<name>`` already is - an operation or attribute of Athena, or a name of
        a program's ``athena`` module (``errors``, ``operations``, ...)."""
        from athena_core.api.registry import SANDBOX_NAMES

        public = {name for name in dir(cls) if not name.startswith("_")}
        return frozenset(public) | _INSTANCE_NAMES | SANDBOX_NAMES

    def _wire(self) -> None:
        from athena_core.audit import AuditLog
        from athena_core.memory import MemoryStore
        from athena_core.privacy.detection import Detection
        from athena_core.privacy.keys import KeyProviderContext, Keys
        from athena_core.privacy.service import Privacy
        from athena_core.privacy.vault import Vault
        from athena_core.retrieval import EmbedderContext, VectorBackendContext
        from athena_core.retrieval.embedders import preferred_embedder
        from athena_core.retrieval.index import RecallIndex
        from athena_core.storage import Storage
        from athena_core.storage.faults import file_errors

        config, host = self.config, self.plugins
        host.hook.athena_configure.call_historic(kwargs={"config": config})
        self._privacy = Privacy(Detection.from_plugins(host, config.privacy),
                                max_text_bytes=config.memory.max_text_bytes,
                                default_scope=config.memory.default_scope)
        key_provider = (host.create("key provider", config.privacy.key_provider,
                                    KeyProviderContext(config))
                        if config.privacy.conceal else None)
        with file_errors(config.data_dir):
            config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        retrieval = config.retrieval
        if not retrieval.embedder:
            retrieval = attrs.evolve(retrieval, embedder=preferred_embedder(
                host.registry("embedder").names()))
        embedder = host.create(
            "embedder", retrieval.embedder,
            EmbedderContext(options=retrieval.embedder_options, data_dir=config.data_dir))
        # Storage first: its migrations refuse a new database that already holds tables
        # (a backend may keep its own in the same database).
        self.storage = Storage.open(config.database_url, config.storage)
        vault = None if key_provider is None else Vault(
            self.storage, Keys(self.storage, key_provider, on_create=self._keys_created),
            self._privacy.detection)
        self._audit = AuditLog(self.storage, config.audit, vault)
        if vault is not None:
            vault.keys.prepare()
        self._privacy.attach(vault, self._audit)
        self.api.resolver = self._privacy.resolve_arguments
        backend = host.create(
            "vector backend", config.retrieval.vector_backend,
            VectorBackendContext(dimension=embedder.dimension,
                                 options=config.retrieval.vector_options,
                                 data_dir=config.data_dir,
                                 database_url=config.database_url))
        self.index = RecallIndex(self.storage, embedder, backend, retrieval)
        self.index.open()
        self.store = MemoryStore(self.storage, self.index, config, notify=self._notify,
                                 vault=vault)
        self.api.collect(self, namespace="", provider="athena-core")
        self.api.collect(self.procedures, namespace="procedures", provider="athena-core")
        self.api.collect(self.privacy, namespace="privacy", provider="athena-core")
        self.api.collect(self.graph, namespace="graph", provider="athena-core")
        self._wire_prospective()
        in_use = {host.registry("embedder").provider(retrieval.embedder),
                  host.registry("vector backend").provider(config.retrieval.vector_backend)}
        layers, extra = host.registry("memory layer"), host.registry("api operation")
        for plugin in dict.fromkeys([*(layers.provider(n) for n in layers),
                                     *(extra.provider(n) for n in extra)]):
            try:
                self._add_plugin(plugin, layers, extra)
            except Exception as exc:  # the plugin, not Athena, is broken
                if plugin in in_use:  # its embedder or vector backend already runs here
                    raise host.failure(plugin, exc) from exc
                host.disable(plugin, exc)  # raises in strict mode, or for a built-in
        host.hook.athena_startup(athena=self)

    def _wire_prospective(self) -> None:
        """Prospective memory: its operations, its event triggers on the write path and
        after operations, and a tick that catches up what fell due while no process
        ran (each trigger per its misfire policy)."""
        from athena_core.prospective.service import Prospective

        store = self._require_store()
        prospective = Prospective(store, default_scope=self.config.memory.default_scope)
        self._prospective = prospective
        store.before_commit = prospective.on_write
        self.api.collect(prospective, namespace="prospective", provider="athena-core")
        self.api.observer = lambda name: (None if name.startswith("prospective.")
                                          else prospective.on_operation(name))
        prospective.tick()

    def _keys_created(self, session: Any) -> None:
        """The audit record of the store's first privacy keys, in their transaction."""
        self.audit.append("key_operation", scope="*", status="ok",
                          details={"operation": "create",
                                   "provider": self.config.privacy.key_provider},
                          session=session)

    def _add_plugin(self, plugin: str, layers: Registry[Any], extra: Registry[Any]) -> None:
        """Create ``plugin``'s memory layers and register its operations: all or none."""
        from athena_core.api.checks import check_plugin_operations
        from athena_core.memory import LayerContext
        from athena_core.memory.store import check_layer

        context = LayerContext(self._require_store(), self.config)
        created = {name: layers.create(name, context)
                   for name in layers if layers.provider(name) == plugin}
        for name, layer in created.items():
            check_layer(layer, name=name, plugin=plugin)
        ops = [op for name, layer in created.items()
               for op in self.api.declared(layer, namespace=name, provider=plugin)]
        ops += [self.api.function(name, extra.factory(name), owner=self, provider=plugin)
                for name in extra if extra.provider(name) == plugin]
        if not self.plugins.is_core(plugin):
            check_plugin_operations(ops)
        self.api.add_all(ops)
        self.layers.update(created)

    def close(self) -> None:
        """Flush and release everything; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self.store is not None:
            self.plugins.notify("athena_shutdown", athena=self)
        if self._execution is not None:
            self._execution.close()
        if self._procedures is not None:
            self._procedures.close()
        if self.index is not None:
            self.index.close()
        if self.storage is not None:
            self._purge_deleted_text()
            self.storage.close()

    def _purge_deleted_text(self) -> None:
        """On close: merge away the terms forgets left in the full-text index (see
        :func:`~athena_core.retrieval.lexical.purge_deleted_text`); closing never fails."""
        from athena_core.retrieval.lexical import purge_deleted_text

        assert self.storage is not None
        try:
            purge_deleted_text(self.storage)
        except AthenaError:
            log.warning("Could not merge the full-text index on close; the next checkpoint "
                        "or close will.", exc_info=True)

    def __enter__(self) -> Athena:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __getattr__(self, name: str) -> Namespace:
        if not name.startswith("_") and name in self.api.namespaces():
            return Namespace(self.api, name)
        raise AttributeError(f"{type(self).__name__!r} has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"<Athena {self.config.data_dir}>"

    # --- operations every layer shares -------------------------------------------

    @operation(permissions="write")
    def remember(self, text: str, *, layer: str = "semantic",
                 metadata: Mapping[str, Any] | None = None, importance: float = 0.5,
                 scope: str | None = None) -> str:
        """Store ``text`` in a memory layer (semantic by default) and return its id.

        ``metadata`` is free JSON data returned with the memory and usable as a
        recall filter; ``importance`` is between 0 and 1.
        """
        target = self._layer(layer)
        new_id: str = target.store_generic(text, metadata=metadata, importance=importance,
                                           scope=scope)
        return new_id

    @operation()
    def recall(self, query: str, *, k: int = 10, layers: Sequence[str] | None = None,
               as_of: datetime | None = None, metadata: Mapping[str, Any] | None = None,
               scope: str | None = None) -> list[Hit]:
        """The ``k`` memories most relevant to ``query``, best first.

        Searches every layer unless ``layers`` names some. Returns what is
        current, or what was valid at ``as_of``. ``metadata`` keeps only memories
        whose top-level metadata values pass it: ``{"team": "ops"}`` (equal),
        ``{"team": {"in": [...]}}``, ``{"tags": {"contains": "db"}}``, ``{"n": {"gte": 2,
        "lt": 5}}`` (see docs/recall.md); it is applied inside the search.
        """
        from athena_core.memory.recall import hybrid_recall
        from athena_core.retrieval.filters import MetadataFilter, RecallFilter

        store = self._require_store()
        if layers is not None:
            for name in layers:
                self._layer(name)
        where = RecallFilter(store.scope(scope), layers=layers, as_of=as_of,
                             metadata=MetadataFilter.parse(metadata))
        hits = hybrid_recall(store, query, k=k, where=where)
        self._notify("athena_after_recall", query=query, hits=hits)
        return hits

    @operation(permissions="delete")
    def forget(self, ids: str | Sequence[str] | None = None, *, session: str | None = None,
               start: datetime | None = None, end: datetime | None = None,
               metadata: Mapping[str, Any] | None = None, subject: str | None = None,
               everything: bool = False, scope: str | None = None) -> int:
        """Delete memories for good and return how many rows went.

        Select by ``ids``, or in bulk: the events of a ``session``, memories from
        [``start``, ``end``), those whose metadata has the ``metadata`` values, those
        holding the value ``subject`` (an e-mail address, a phone number, a name...;
        its placeholder and its encrypted copy go too, and so does every procedure any
        version of which holds it, from the whole git history), or ``everything=True`` (the
        whole scope, its sensitive values included). Several selectors keep what matches
        all of them; at least one is needed. Nothing is left behind in tables or the
        vector index, and no search finds the memories again; their words leave the
        full-text index's files at the next ``checkpoint()`` or close. Forgetting a
        fact forgets all its versions. Unknown ids raise an error and delete
        nothing. The audit log records that a forget happened (not what was
        forgotten) and drops the program text that quoted it.
        """
        from sqlalchemy import delete, select

        from athena_core.graph.store import forget_memories as forget_graph_facts
        from athena_core.graph.store import forget_subject as forget_graph_subject
        from athena_core.memory.forgetting import ForgetSelection
        from athena_core.retrieval.lexical import note_deleted_text
        from athena_core.storage.models import EpisodeRow, MemoryRow
        from athena_core.storage.queries import key_batches, scoped_keys

        store = self._require_store()
        scope = store.scope(scope)
        forms, digest = self.privacy.subject_forms(subject, scope=scope)
        if session is not None:  # as events store it: its sensitive values concealed
            session = store.conceal_query(store.label(session, name="session",
                                                      column=EpisodeRow.session,
                                                      blank_ok=True), scope=scope)
        selection = ForgetSelection.of(ids, session=session, start=start, end=end,
                                       metadata=metadata, everything=everything,
                                       subject=forms)
        procedures = [] if forms is None else self.procedures.erase_holding(forms)
        with store.transaction() as tx:
            found = selection.rows(tx.session, scope, elsewhere=self.prospective.ids_among(
                tx.session, scope, selection.ids))
            keys = {row.pk for row in found}
            for layer in {row.layer for row in found}:
                if layer in self.layers:
                    keys = self.layers[layer].related_for_forget(tx.session, keys)
            keys = scoped_keys(tx.session, scope, keys)  # no expansion crosses the scope
            forget_graph_facts(tx.session, scope, sorted(keys), everything=selection.everything)
            graph = 0 if forms is None else forget_graph_subject(tx.session, scope, forms)
            rows: list[Any] = []
            for batch in key_batches(keys):
                rows += tx.session.execute(select(MemoryRow.id, MemoryRow.layer, MemoryRow.text,
                                                  MemoryRow.meta)
                                           .where(MemoryRow.pk.in_(batch))).all()
                tx.session.execute(delete(MemoryRow).where(MemoryRow.pk.in_(batch)))
            gone = [row.id for row in rows]
            intentions, intention_texts = self.prospective.forget(tx.session, scope,
                                                                  selection, forms)
            audit = self.audit
            values = 0
            if store.vault is not None and selection.everything:
                values = store.vault.erase_scope(tx.session, scope)
            elif digest is not None and store.vault is not None:
                values = store.vault.erase(tx.session, scope, [digest])
            scrubbed = audit.scrub(scope, None if selection.everything
                                   else [*_forgotten_texts(rows), *intention_texts,
                                         *(forms or ())],
                                   session=tx.session)
            audit.record_forget(scope=scope, rows=len(rows), selector=selection.kind,
                                scrubbed=scrubbed, values=values,
                                layers={row.layer for row in rows},
                                erased={"procedures": len(procedures), "graph": graph},
                                session=tx.session)
            note_deleted_text(tx.session)  # merged away at the next checkpoint or close
            tx.changed_existing_rows(sorted(keys), removed=True)
        self._notify("athena_after_forget", ids=gone)
        return len(gone) + intentions

    @operation()
    def get(self, id: str, *, scope: str | None = None) -> Memory:
        """The memory with ``id`` (any layer); an episode also has its ``kind``,
        ``actor``, ``session`` and ``outcome``."""
        from athena_core.storage.queries import MEMORY_BY_ID

        store = self._require_store()
        scope = store.scope(scope)
        with store.storage.snapshot() as connection:
            row = connection.execute(MEMORY_BY_ID, {"id": id, "scope": scope}).first()
        if row is None:
            raise MemoryNotFoundError(f"No memory {id!r} in scope {scope!r}.")
        if row.kind is not None:  # an episode: with its kind, actor, session and outcome
            return Episode.from_record(row._mapping)
        return Memory.from_record(row._mapping)

    @operation(permissions="execute")
    def execute(self, code: str, *, language: Literal["python", "javascript", "bash"] = "python",
                policy: str | Mapping[str, Any] | None = None, scope: str | None = None
                ) -> ExecutionResult:
        """Run ``code`` in the sandbox and return its result.

        Inside, ``import athena`` reaches this instance's memory through the audited
        bridge, bound to ``scope``. ``policy`` is a preset (``strict``, ``research``,
        ``development``), a ``[policies.NAME]`` from athena.toml, or a policy as a
        dict; the default comes from ``[execution] policy``. Every execution is
        recorded in the audit log, not in memory. Raises ``SandboxUnavailableError``
        when no sandbox can run here; code never runs unsandboxed.
        """
        store = self._require_store()
        return self.execution.run(code, language=language, policy=policy,
                                  scope=store.scope(scope))

    @property
    def execution(self) -> ExecutionService:
        """Executor selection and runs (created on first use)."""
        if self._execution is None:
            from athena_core.execution.runner import ExecutionService

            self._execution = ExecutionService(self.config, self.plugins, self)
        return self._execution

    @property
    def procedures(self) -> Procedures:
        """Procedural memory: ``list``, ``show``, ``history``, ``save``, ``validate`` and
        ``run`` (see docs/procedures.md). Its git repository and catalog open on first
        use."""
        if self._procedures is None:
            from athena_core.procedures.service import Procedures

            self._procedures = Procedures(self)
        return self._procedures

    @property
    def graph(self) -> Graph:
        """The knowledge graph: entities, relations and observations in valid time and
        record time (see docs/layers.md)."""
        if self._graph is None:
            from athena_core.graph import Graph

            self._graph = Graph(self)
        return self._graph

    @property
    def prospective(self) -> Prospective:
        """Prospective memory: tasks, goals and reminders with time, event and context
        triggers (see docs/layers.md)."""
        if self._closed or self._prospective is None:
            raise InvalidArgumentError("This Athena instance is closed.",
                                       hint="Open a new one with Athena.open().")
        return self._prospective

    @property
    def privacy(self) -> Privacy:
        """Detection of sensitive values: ``scan`` (see docs/privacy.md)."""
        if self._closed or self._privacy is None:
            raise InvalidArgumentError("This Athena instance is closed.",
                                       hint="Open a new one with Athena.open().")
        return self._privacy

    @property
    def audit(self) -> AuditLog:
        """The audit log: executions, tool calls and forgets (host side only; see
        :mod:`athena_core.audit`)."""
        if self._closed or self._audit is None:
            raise InvalidArgumentError("This Athena instance is closed.",
                                       hint="Open a new one with Athena.open().")
        return self._audit

    # --- call contexts ---------------------------------------------------------------

    def bound(self, *, scope: str | None = None,
              policy: str | Mapping[str, Any] | None = None,
              caller: str = "host") -> contextlib.AbstractContextManager[CallContext]:
        """Bind a scope (and a policy's permissions) for the calls made in a ``with`` block.

        For host applications that serve several tenants: every operation called in the
        block - a plugin's included, with or without a ``scope`` parameter - runs in
        ``scope``, and naming another raises ``ScopeViolationError``. With ``policy``
        (a name or a dict, as for :meth:`execute`), only what it grants may be called::

            with athena.bound(scope="team:b", policy="strict"):
                athena.recall("deploys")          # team:b's memories only
        """
        from athena_core import calls

        outer = calls.current()  # a block inside another only narrows it
        store = self._require_store()
        scope = store.scope(scope) if scope is not None or outer is not None else None
        if policy is None:
            context = calls.CallContext(scope=scope, caller=caller, outer=outer)
        else:
            context = calls.CallContext.for_policy(
                self.execution.policy(policy), scope=scope or store.scope(None), caller=caller,
                outer=outer)
        return calls.bind(context)

    # --- maintenance ---------------------------------------------------------------

    def checkpoint(self) -> None:
        """Write everything in the SQLite write-ahead log into the database file, after
        merging the full-text index if forgets left deleted terms in it."""
        from athena_core.retrieval.lexical import purge_deleted_text

        storage = self._require_store().storage
        purge_deleted_text(storage)
        storage.checkpoint()

    # --- helpers ---------------------------------------------------------------------

    def _layer(self, name: str) -> Any:
        try:
            return self.layers[name]
        except KeyError:
            raise InvalidArgumentError(
                f"Unknown memory layer {name!r}. Available: {', '.join(sorted(self.layers))}."
            ) from None

    def _require_store(self) -> MemoryStore:
        if self._closed or self.store is None:
            raise InvalidArgumentError("This Athena instance is closed.",
                                       hint="Open a new one with Athena.open().")
        return self.store

    def _notify(self, hook: str, **kwargs: Any) -> None:
        """Tell observer plugins (``athena_after_*``) what happened; see
        :meth:`PluginHost.notify`: a failing observer is logged, never raised."""
        self.plugins.notify(hook, athena=self, **kwargs)


def _forgotten_texts(rows: Sequence[Any]) -> list[str]:
    """What forgotten ``rows`` held (texts and metadata strings): the audit log scrubs
    the programs and arguments that quote any of it."""
    texts: list[str] = []

    def strings(value: Any) -> None:
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, Mapping):
            for item in value.values():
                strings(item)
        elif isinstance(value, list | tuple):
            for item in value:
                strings(item)

    for row in rows:
        texts.append(row.text)
        strings(row.meta)
    return texts
