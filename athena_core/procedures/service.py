"""``athena.procedures``: the procedures of one Athena instance, as operations.

:class:`Procedures` is the owner object of the API registry's ``procedures`` namespace:
``list``, ``show``, ``history``, ``save``, ``validate`` and ``run``, declared once with
:func:`~athena_core.api.operation`, so that host applications, sandboxed programs (the
``athena`` module), classic MCP and discovery all offer the same calls. It opens the
git repository (``[procedures] repository``) and the catalog on the instance's storage
the first time one of them is used, and closes them with the instance. ``learn`` and
``approve`` are methods for the host only, not operations (see their comment).

Running (:meth:`Procedures.run`): only an ``active`` version runs; its inputs are checked
against its input schema; it runs in the sandbox, in the caller's bound scope, under the
intersection of the procedure's declared operations and what the caller may call; each
run is audited (``procedure_run``: id, commit, a hash of the inputs, status, duration and
output size, never the inputs or output) and counted in the version's run statistics.
A procedure may run procedures (when its permissions list ``procedures.run``) up to
:data:`MAX_DEPTH` deep.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from athena_core import calls
from athena_core.api import operation
from athena_core.api.limits import ArgumentLimits
from athena_core.errors import (
    InvalidArgumentError,
    ProcedureDepthError,
    ProcedureNotActiveError,
    ProcedureRunError,
)
from athena_core.procedures.gate import admit, confidence, entry_program, procedure_policy
from athena_core.procedures.inputs import check_inputs
from athena_core.procedures.model import (
    MAX_ID_PART_CHARS,
    Procedure,
    VersionRecord,
    check_procedure_id,
)

if TYPE_CHECKING:
    from datetime import datetime

    from athena_core.procedures.catalog import CatalogEntry, ProcedureCatalog
    from athena_core.procedures.learning import LearnReport, Progress
    from athena_core.procedures.packages import PackageProgress, PackageReport
    from athena_core.procedures.repository import ProcedureRepository
    from athena_core.runtime import Athena

__all__ = ["AUDIT_KIND", "MAX_DEPTH", "Procedures", "inputs_digest"]

#: How deep procedures may run procedures: a run started by a procedure's run is depth 2.
MAX_DEPTH = 4
#: The audit log's kind for a procedure run.
AUDIT_KIND = "procedure_run"
#: The caller of the call context a procedure's program runs inside.
_CALLER_PREFIX = "procedure:"
#: Argument limits of these operations, where the registry's defaults (made for memories:
#: ``id`` is a 26-character memory id, ``query`` is bounded by the memory text size).
_ID = {"id": ArgumentLimits(max_chars=2 * MAX_ID_PART_CHARS + 1,
                            why="procedure ids are 'namespace/name'")}
_QUERY = {"query": ArgumentLimits(max_chars=1_000, why="words matched against ids, "
                                                       "descriptions and tags")}


def inputs_digest(inputs: Mapping[str, Any]) -> str:
    """sha256 of ``inputs`` as canonical JSON (sorted keys, no spaces, UTF-8): what the
    audit log records of a run's inputs."""
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Procedures:
    """The ``procedures`` operations of one :class:`~athena_core.Athena` instance."""

    api_namespace = "procedures"

    def __init__(self, athena: Athena) -> None:
        self._athena = athena
        self._repository: ProcedureRepository | None = None
        self._catalog: ProcedureCatalog | None = None
        self._opening = threading.Lock()
        self._packages: builtins.list[PackageReport] = []
        #: Called before each gate run of a package synchronisation (``athena procedures
        #: packages`` draws a progress line with it).
        self.package_progress: PackageProgress | None = None

    # --- lifecycle ---------------------------------------------------------------------

    @property
    def catalog(self) -> ProcedureCatalog:
        """The catalog (and its repository), opened on first use; opening it synchronises
        the installed procedure packages (:meth:`sync_packages`)."""
        if self._catalog is None:
            with self._opening:
                if self._catalog is None:
                    from athena_core.procedures.catalog import ProcedureCatalog
                    from athena_core.procedures.repository import ProcedureRepository

                    storage = self._athena._require_store().storage
                    if self._repository is None:
                        self._repository = ProcedureRepository.open(
                            self._athena.config.procedure_repository,
                            screen=self._athena.privacy.refuse_sensitive)
                    # Set before synchronising: the gate's programs may use procedures.
                    self._catalog = ProcedureCatalog.open(storage, self._repository)
                    self.sync_packages()
        return self._catalog

    def sync_packages(self) -> builtins.list[PackageReport]:
        """Bring the store in step with the installed procedure packages that
        ``[procedures] packages`` selects: new and changed ones saved and put through the
        gate, removed ones retired, malformed ones reported (see
        :mod:`athena_core.procedures.packages`). Returns a report per package; done
        once when the catalog opens, and again when called."""
        from athena_core.procedures.packages import sync_packages

        self._packages = sync_packages(
            self._athena, self.catalog, self.repository,
            selected=self._athena.config.procedures.packages, progress=self.package_progress)
        return builtins.list(self._packages)

    def packages(self) -> builtins.list[PackageReport]:
        """The installed procedure packages as the last synchronisation found them (the
        catalog's opening synchronises them), by name."""
        self.catalog  # noqa: B018 - opens (and synchronises) it
        return builtins.list(self._packages)

    @property
    def repository(self) -> ProcedureRepository:
        """The git repository of the procedures, opened on first use."""
        self.catalog  # noqa: B018 - opens both
        assert self._repository is not None
        return self._repository

    def erase_holding(self, forms: Sequence[str]) -> builtins.list[str]:
        """For ``forget(subject=...)``: erase from the whole git history every procedure
        any version of which holds one of ``forms`` (see
        :mod:`athena_core.procedures.erasure`); return their ids. A store whose
        procedures were never used has none to erase."""
        from athena_core.procedures.erasure import erase_holding

        if self._catalog is None and not self._athena.config.procedure_repository.exists():
            return []
        return builtins.list(erase_holding(self.catalog, forms))

    def close(self) -> None:
        """Close the repository (the catalog's rows live in the instance's storage)."""
        repository, self._repository, self._catalog = self._repository, None, None
        if repository is not None:
            repository.close()

    # --- reading -----------------------------------------------------------------------

    @operation(limits=_QUERY)
    def list(self, query: str | None = None, *, tags: Sequence[str] | None = None,
             status: Literal["candidate", "active", "retired"] | None = None,
             limit: int = 100) -> builtins.list[dict[str, Any]]:
        """The procedures, by id: each one's ``id``, ``description``, ``tags``, ``source``,
        ``status`` and ``active_commit``.

        ``query`` keeps those whose id, description or tags contain every word of it (any
        case); ``tags`` those that have all of them; ``status`` those with that status.
        At most ``limit``.
        """
        if limit < 1:
            raise InvalidArgumentError("limit must be at least 1.", argument="limit")
        words = (query or "").lower().split()
        wanted = set(tags or ())
        found = []
        for entry in self.catalog.list(status=status):
            text = " ".join([entry.id, entry.description, *entry.tags]).lower()
            if all(word in text for word in words) and wanted <= set(entry.tags):
                found.append(_listed(entry))
                if len(found) == limit:
                    break
        return found

    @operation(limits=_ID)
    def show(self, id: str) -> dict[str, Any]:
        """Procedure ``id``: its manifest fields (``description``, ``input_schema``,
        ``permissions``, ...) as of its active version (else its newest), plus
        ``status``, ``active_commit``, ``latest_commit``, ``commit`` (the version shown),
        ``runs`` and ``successes`` of that version, ``confidence`` (0-1, from its
        validation report and real runs) and ``validation`` (the report, or ``null``)."""
        entry = self.catalog.get(check_procedure_id(id))
        commit = entry.active_commit or entry.latest_commit
        version = self.catalog.version(entry.id, commit)
        stats = self.catalog.stats(entry.id, commit)
        return {**version.procedure.manifest_fields(), "status": entry.status,
                "active_commit": entry.active_commit, "latest_commit": entry.latest_commit,
                "commit": commit, "runs": stats.runs, "successes": stats.successes,
                "confidence": confidence(version.validation, stats),
                "validation": (version.validation.to_dict()
                               if version.validation is not None else None)}

    @operation(limits=_ID)
    def history(self, id: str) -> builtins.list[dict[str, Any]]:
        """Procedure ``id``'s versions, newest first: ``commit``, ``number``, ``status``,
        ``author``, ``message``, ``created_at``, ``validated`` (whether the gate passed it;
        ``null`` if it was never validated), ``runs`` and ``successes``."""
        procedure_id = check_procedure_id(id)
        return [self._version_dict(procedure_id, record)
                for record in self.catalog.versions(procedure_id)]

    # --- writing -----------------------------------------------------------------------

    @operation(permissions="write", limits=_ID)
    def save(self, id: str, description: str, code: str, tests: str, *,
             permissions: Sequence[str] = (), tags: Sequence[str] = (),
             examples: Sequence[Mapping[str, Any]] = (),
             real_values: Sequence[str] = (),
             message: str = "saved with athena.procedures.save") -> dict[str, Any]:
        """Save a new version of procedure ``id`` (source ``user``) and return it
        (``commit``, ``number``, ``status``, ...): a ``candidate`` until
        ``validate`` admits it.

        ``code`` defines ``run(...)`` with typed parameters (its input schema); ``tests``
        are ``test_*`` functions importing it (``from main import run``);
        ``permissions`` names the Athena operations it calls; ``examples`` are inputs
        (``{"inputs": {...}, "expected": ...}``) the gate dry-runs it with;
        ``real_values`` names inputs whose placeholders are resolved to the real values
        before a run, which only a caller with the ``reveal`` permission may declare.
        """
        context = calls.current()
        if real_values and context is not None:
            context.check("procedures.save", frozenset({"reveal"}))
        procedure = Procedure.from_code(
            code, id=id, description=description, permissions=builtins.list(permissions),
            tags=builtins.list(tags), examples=builtins.list(examples),
            real_values=builtins.list(real_values), source="user")
        author = context.caller if context is not None else "host"
        version = self.catalog.save(procedure, code, tests, author=author, message=message)
        return self._version_dict(procedure.id, version)

    @operation(permissions=("write", "execute"), limits=_ID)
    def validate(self, id: str, commit: str | None = None) -> dict[str, Any]:
        """Verify version ``commit`` of ``id`` (default: its newest) with the gate: static
        checks, its tests in the sandbox, a dry run of its examples. It becomes
        ``active`` only if every check passed. Returns ``commit``, ``status``,
        ``confidence`` and ``validation`` (the report: each check, each test)."""
        procedure_id = check_procedure_id(id)
        chosen = commit or self.catalog.get(procedure_id).latest_commit
        # The gate runs in scratch scopes of its own, under the procedure's policy,
        # whatever scope the caller is bound to.
        with calls.bind(calls.CallContext(scope=None, caller="gate")):
            record = admit(self._athena, self.catalog, self.repository, procedure_id, chosen,
                           hold=self._athena.config.procedures.require_approval)
        return self._decision(procedure_id, record)

    # --- host only: learning and approval ---------------------------------------------
    # Not operations of the registry: learning reads the audit log (of every scope, unless
    # told one), which no program or MCP client may read, and approval is a person's
    # decision, which an agent must not take for itself.

    def learn(self, *, scope: str | None = None, since: datetime | str | None = None,
              min_runs: int = 3, admit: bool = True,
              progress: Progress | None = None) -> LearnReport:
        """Learn procedures from the audit log's successful programs
        (:func:`athena_core.procedures.learning.learn`): propose, test, save and put each
        through the gate; with ``admit=False``, propose only and save nothing."""
        from athena_core.procedures.learning import learn

        return learn(self._athena, scope=scope, since=since, min_runs=min_runs, admit=admit,
                     progress=progress)

    def approve(self, id: str, commit: str | None = None) -> dict[str, Any]:
        """Make version ``commit`` of ``id`` (default: its newest) ``active``, as a person's
        approval (``[procedures] require_approval``). Only a version whose last validation
        passed can be approved; raises ``InvalidArgumentError`` naming ``commit`` otherwise.
        Returns what ``validate`` returns."""
        procedure_id = check_procedure_id(id)
        chosen = commit or self.catalog.get(procedure_id).latest_commit
        version = self.catalog.version(procedure_id, chosen)
        if version.validation is None or not version.validation.passed:
            raise InvalidArgumentError(
                f"Version {version.commit[:12]} of {procedure_id!r} has not passed the gate, "
                "so it cannot be approved.", argument="commit",
                hint=f"Validate it first: athena procedures validate {procedure_id} --commit "
                     f"{version.commit[:12]}.")
        record = self.catalog.set_status(procedure_id, version.commit, "active",
                                         validation=version.validation)
        return self._decision(procedure_id, record)

    # --- running -----------------------------------------------------------------------

    @operation(limits=_ID)
    def run(self, id: str, inputs: Mapping[str, Any] | None = None, **named: Any) -> Any:
        """Run procedure ``id``'s active version with its inputs and return its output.

        Inputs are given by name (``run("notes/recent", topic="deploys")``) or as
        ``inputs={...}`` (both may be used; not the same name twice). It runs in the
        sandbox, in your scope, and may call only the operations it declares that you
        may call too. Raises ``ProcedureNotActiveError`` if no version is active
        (validate it first), ``InvalidArgumentError`` naming an input that does not fit
        its schema, and ``ProcedureRunError`` if the run fails.
        """
        context = calls.current()
        assert context is not None  # the dispatcher binds one for every call
        depth = _depth(context) + 1
        procedure_id = check_procedure_id(id)
        if depth > MAX_DEPTH:
            raise ProcedureDepthError(
                f"Procedure {procedure_id!r} would run at depth {depth}; procedures may run "
                f"procedures at most {MAX_DEPTH} deep.",
                hint="Call the inner procedure from the outer caller instead.")
        values = _merged(inputs, named)
        entry = self.catalog.get(procedure_id)
        if entry.active_commit is None:
            raise ProcedureNotActiveError(
                f"Procedure {procedure_id!r} has no active version (it is "
                f"{entry.status}); only a version the gate admitted runs.",
                hint="Validate it first: athena.procedures.validate(id).")
        version = self.catalog.version(procedure_id, entry.active_commit)
        procedure = version.procedure
        values = check_inputs(procedure_id, procedure.input_schema, values)
        scope = self._athena._require_store().scope(None)
        values = self._with_real_values(procedure, values, scope)
        registry = self._athena.api
        allowed = [name for name in procedure.permissions if name in registry
                   and context.allows(name, registry.get(name).permissions)]
        policy = procedure_policy(self._athena, allowed)
        started = time.perf_counter()
        with calls.bind(calls.CallContext(scope=scope, caller=f"{_CALLER_PREFIX}{procedure_id}",
                                          outer=context)):
            result = self._athena.execution.run(entry_program(version, [values]),
                                                language="python", policy=policy, scope=scope)
        duration_ms = (time.perf_counter() - started) * 1000
        outcome = _outcome(result.value) if result.ok else None
        ok = outcome is not None and outcome[0] == "ok"
        output = json.dumps(outcome[1]).encode("utf-8") if ok and outcome is not None else b""
        error = (str(outcome[1])[:200] if outcome is not None and not ok
                 else result.error.type if result.error is not None
                 else "its output is larger than the policy's output limit"
                 if result.value_truncated else None)
        self._athena.audit.append(
            AUDIT_KIND, scope=scope, policy=policy.name, status="ok" if ok else "error",
            duration_ms=duration_ms, language="python", response_bytes=len(output),
            details={"procedure": procedure_id, "commit": version.commit,
                     "inputs_sha256": inputs_digest(values), "output_bytes": len(output),
                     "execution_id": result.id, "execution_status": result.status,
                     "depth": depth, "error": error})
        self.catalog.record_run(procedure_id, version.commit, ok=ok)
        if not ok or outcome is None:
            raise ProcedureRunError(
                f"Procedure {procedure_id!r} failed: "
                f"{error or 'its sandboxed run ended with status ' + result.status}.",
                status=result.status, error=error,
                hint="athena.procedures.show(id) gives its permissions and inputs.")
        return outcome[1]

    # --- helpers -----------------------------------------------------------------------

    def _with_real_values(self, procedure: Procedure, values: dict[str, Any],
                          scope: str) -> dict[str, Any]:
        """``values`` with the placeholders in the inputs ``procedure`` declares
        ``real_values`` resolved (the others keep theirs)."""
        wanted = {name: values[name] for name in procedure.real_values if name in values}
        if not wanted:
            return values
        resolved = self._athena.privacy.resolve_value(
            f"procedure {procedure.id}", wanted, scope=scope)
        return {**values, **resolved}

    def _decision(self, procedure_id: str, record: VersionRecord) -> dict[str, Any]:
        """What ``validate`` and ``approve`` return about the version they decided on."""
        stats = self.catalog.stats(procedure_id, record.commit)
        return {"id": procedure_id, "commit": record.commit, "status": record.status,
                "confidence": confidence(record.validation, stats),
                "validation": (record.validation.to_dict()
                               if record.validation is not None else None)}

    def _version_dict(self, procedure_id: str, record: VersionRecord) -> dict[str, Any]:
        stats = self.catalog.stats(procedure_id, record.commit)
        return {"id": procedure_id, "commit": record.commit, "number": record.number,
                "status": record.status, "author": record.author, "message": record.message,
                "created_at": record.created_at.isoformat(),
                "validated": (record.validation.passed
                              if record.validation is not None else None),
                "runs": stats.runs, "successes": stats.successes}


def _listed(entry: CatalogEntry) -> dict[str, Any]:
    return {"id": entry.id, "description": entry.description, "tags": builtins.list(entry.tags),
            "source": entry.source, "status": entry.status,
            "active_commit": entry.active_commit}


def _outcome(value: Any) -> tuple[str, Any] | None:
    """The one ``["ok", output]`` or ``["error", where]`` an entry program returns, or
    ``None`` if the program's value is not that shape (it comes from the sandbox)."""
    if isinstance(value, builtins.list) and len(value) == 1 \
            and isinstance(value[0], builtins.list) and len(value[0]) == 2 \
            and value[0][0] in ("ok", "error") \
            and (value[0][0] == "ok" or isinstance(value[0][1], str)):
        return value[0][0], value[0][1]
    return None


def _depth(context: calls.CallContext | None) -> int:
    """How many procedure runs the call bound to ``context`` is inside."""
    depth = 0
    while context is not None:
        depth += context.caller.startswith(_CALLER_PREFIX)
        context = context.outer
    return depth


def _merged(inputs: Mapping[str, Any] | None, named: Mapping[str, Any]) -> dict[str, Any]:
    given = dict(inputs or {})
    twice = sorted(set(given) & set(named))
    if twice:
        raise InvalidArgumentError(
            f"The input {twice[0]!r} is given both by name and in inputs; give it once.",
            argument=twice[0])
    return {**given, **named}
