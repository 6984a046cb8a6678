"""The typed errors Athena raises.

Every error Athena raises on purpose derives from :class:`AthenaError`, so a host
application can catch one base class. Each message says what went wrong and what
to do next; ``hint`` carries the "what to do next" part separately for UIs that
show it apart.
"""

from __future__ import annotations

__all__ = [
    "AthenaError",
    "CascadeCycleError",
    "ConfigError",
    "CorruptDatabaseError",
    "DependencyCycleError",
    "DuplicateNameError",
    "GraphFactNotFoundError",
    "GraphInputError",
    "ImportFormatError",
    "InvalidArgumentError",
    "InvalidIntervalError",
    "KeyUnavailableError",
    "MemoryNotFoundError",
    "MissingExtraError",
    "NothingToLearnError",
    "OperationDeclarationError",
    "OptionError",
    "PermissionDeniedError",
    "PlaceholderError",
    "PluginContractError",
    "PluginLoadError",
    "ProcedureDepthError",
    "ProcedureManifestError",
    "ProcedureNotActiveError",
    "ProcedureNotFoundError",
    "ProcedurePackageError",
    "ProcedureRunError",
    "ProcedureStoreError",
    "ProtectedValueError",
    "ReindexRequiredError",
    "SandboxUnavailableError",
    "ScheduleError",
    "SchemaVersionError",
    "ScopeViolationError",
    "SensitiveValueError",
    "SkillExportError",
    "SkillFormatError",
    "StorageError",
    "StorageFullError",
    "StorageLockedError",
    "StoragePermissionError",
    "TaskNotFoundError",
    "TriggerInPastError",
    "UnknownEntityError",
    "UnknownNameError",
    "UnknownPrivacyTypeError",
    "UnknownRelationTypeError",
    "UnknownTimeZoneError",
]


class AthenaError(Exception):
    """Base class of every error Athena raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message if hint is None else f"{message} {hint}")
        self.message = message
        self.hint = hint


class ConfigError(AthenaError):
    """The configuration (file, environment or arguments) is invalid."""


class UnknownNameError(ConfigError):
    """A name was asked for that no plugin registered; ``choices`` lists the valid ones."""

    def __init__(self, family: str, name: str, choices: list[str] | tuple[str, ...]) -> None:
        listed = ", ".join(repr(c) for c in sorted(choices)) or "(none registered)"
        super().__init__(
            f"Unknown {family} {name!r}. Available: {listed}.",
            hint="Install the plugin that provides it, or pick one of the available names.",
        )
        self.family = family
        self.name = name
        self.choices = tuple(sorted(choices))


class UnknownPrivacyTypeError(UnknownNameError):
    """``[privacy]`` names a type that no detector reports and no pattern defines;
    ``where`` says which key, ``choices`` lists the valid names."""

    def __init__(self, where: str, name: str, choices: list[str] | tuple[str, ...]) -> None:
        ConfigError.__init__(
            self, f"{where} names {name!r}, which no PII detector reports and no [privacy] "
                  f"pattern defines. Valid names: {', '.join(sorted(choices))}.",
            hint="Fix the name, or install the plugin whose detector reports it.")
        self.family, self.name, self.choices = "privacy type", name, tuple(sorted(choices))
        self.where = where


class PluginLoadError(AthenaError):
    """A plugin could not be imported or registered."""

    def __init__(self, plugin: str, distribution: str | None, cause: BaseException) -> None:
        where = f" (distribution {distribution})" if distribution else ""
        super().__init__(
            f"Plugin {plugin!r}{where} failed to load: {type(cause).__name__}: {cause}",
            hint=f"Reinstall or upgrade it, or block it with ATHENA_PLUGINS_BLOCK={plugin}.",
        )
        self.plugin = plugin
        self.distribution = distribution
        self.cause = cause


class PluginContractError(AthenaError):
    """A plugin's object lacks what its hook requires (a member, a matching name); the
    message names the plugin, the object and what to add."""


class OperationDeclarationError(AthenaError):
    """An operation cannot be served as declared: its name is invalid or reserved, or its
    type hints do not resolve at run time. Raised when a plugin is checked at open; the
    plugin is then disabled (or, in strict mode, wrapped in a :class:`PluginLoadError`)."""


class DuplicateNameError(AthenaError):
    """Two plugins registered the same name; both are named in the message."""


class InvalidArgumentError(AthenaError, ValueError):
    """An operation was called with an argument of the wrong type or value.

    ``argument`` names the argument (or record field) when the check knows it.
    """

    def __init__(self, message: str, *, hint: str | None = None,
                 argument: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.argument = argument


class OptionError(ConfigError, InvalidArgumentError):
    """A plugin's option (``[retrieval.embedder_options]`` and the like) is unknown or invalid.

    Both a :class:`ConfigError` (the options come from the configuration) and an
    :class:`InvalidArgumentError` (the same checks guard a plugin class's constructor).
    Raised through :class:`athena_core.options.PluginOptions`, so that every plugin words
    it the same way.
    """


class PermissionDeniedError(AthenaError):
    """The caller's policy does not allow an operation.

    ``operation`` is the operation's dotted name; ``missing`` the permissions it
    needs that the policy does not grant (empty when the policy's operation
    patterns leave it out).
    """

    def __init__(self, message: str, *, operation: str = "",
                 missing: tuple[str, ...] = (), hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.operation = operation
        self.missing = missing


class ScopeViolationError(PermissionDeniedError):
    """A call asked for a scope other than the one its entry point bound."""


class MemoryNotFoundError(AthenaError, KeyError):
    """No memory with the given id exists in the given scope."""

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


class StorageError(AthenaError):
    """The database could not be used."""


class StorageLockedError(StorageError):
    """Another connection held the database's write lock for longer than the busy timeout.

    Nothing was written; the same call may succeed when retried.
    """


class StorageFullError(StorageError):
    """The disk (or the database's size limit) is full; the write was not stored."""


class StoragePermissionError(StorageError):
    """The data dir or a database file cannot be read or written by this process
    (its mode, or its owner being another user)."""


class CorruptDatabaseError(StorageError):
    """The database file exists but is not a readable Athena database.

    Athena never replaces such a file; the message says how to recover.
    """


class SchemaVersionError(StorageError):
    """The database was written by a newer Athena than the one running."""


class ReindexRequiredError(StorageError):
    """Stored vectors were made by a different embedder than the configured one."""


class SandboxUnavailableError(AthenaError):
    """No executor can run code here; Athena never falls back to running it unsandboxed."""


class ImportFormatError(AthenaError, ValueError):
    """An export file is malformed; ``line`` is the 1-based line number and ``field`` the
    record's field at fault (``fields.<name>`` for a layer's own), when there is one."""

    def __init__(self, message: str, *, line: int | None = None,
                 field: str | None = None) -> None:
        where = f"line {line}: " if line is not None else ""
        super().__init__(
            f"{where}{message}",
            hint="Nothing was imported; fix the file (or re-export it) and run the import again.",
        )
        self.line = line
        self.field = field


class ProcedureNotFoundError(AthenaError, KeyError):
    """No procedure with the given id (or no version of it at the given commit) is stored."""

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


class ProcedureManifestError(InvalidArgumentError):
    """A procedure's ``manifest.json`` is malformed; ``argument`` names the field at fault
    (``None`` when the file as a whole is unreadable)."""


class ProcedureNotActiveError(AthenaError):
    """A procedure was asked to run, but it has no ``active`` version: only a version the
    gate admitted runs (validate it first)."""


class ProcedureRunError(AthenaError):
    """A procedure ran and failed: it raised, returned what cannot cross the bridge, or its
    sandboxed run was denied, killed or timed out. ``status`` is the run's status and
    ``error`` the type of what it raised (never its message, which could quote memory)."""

    def __init__(self, message: str, *, status: str, error: str | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.error = error


class ProcedureDepthError(AthenaError):
    """A procedure called procedures nested deeper than the limit allows."""


class ProcedurePackageError(AthenaError):
    """An installed procedure package cannot be loaded: its entry point, ``package.json``,
    a procedure folder or manifest is malformed, or its name is taken. ``package`` is the
    package's name (its entry point's), ``procedure`` the procedure at fault (if one is),
    ``distribution`` the distribution that installed it and ``field`` the ``package.json``
    field at fault. Nothing of the package is saved; its procedures stay as they were."""

    def __init__(self, message: str, *, package: str | None, procedure: str | None = None,
                 distribution: str | None = None, field: str | None = None,
                 hint: str | None = None) -> None:
        where = f"Procedure package {package!r}" if package else "A procedure package"
        if distribution:
            where += f" (distribution {distribution})"
        if procedure:
            where += f", procedure {procedure!r}"
        super().__init__(
            f"{where}: {message}",
            hint=hint or "Nothing of this package version was saved and its procedures stay "
                         "as they were; fix the package, or leave it out of [procedures] "
                         "packages.")
        self.package = package
        self.procedure = procedure
        self.distribution = distribution
        self.field = field

class NothingToLearnError(AthenaError):
    """Procedures cannot be learned because the audit log keeps no program text
    (``[audit] keep_programs = false``)."""


class ProcedureStoreError(StorageError):
    """The procedure repository (git) could not be read or written: not a repository,
    damaged, not writable, or held by another writer for longer than the lock timeout."""


class SkillFormatError(AthenaError, ValueError):
    """A skill folder cannot be imported: it has no ``SKILL.md``, its front matter does not
    parse, or it has no description. ``path`` is the file and ``line`` the 1-based line at
    fault, when there is one."""

    def __init__(self, message: str, *, path: str, line: int | None = None) -> None:
        where = f"{path}, line {line}" if line is not None else path
        super().__init__(f"{where}: {message}",
                         hint="Nothing was imported; fix the skill folder and import it again.")
        self.path = path
        self.line = line


class SkillExportError(InvalidArgumentError):
    """A procedure cannot be written as an Agent Skills folder that meets the specification
    (its skill name breaks the naming rules, or the target folder exists); nothing was
    written."""


class KeyUnavailableError(AthenaError):
    """The key that protects sensitive values cannot be had: the key provider has no key,
    it cannot be read, or it is not the key this store's values were encrypted under.

    Nothing was written or decrypted; ``athena keys status`` and ``athena doctor`` say
    which key is expected where."""


class ProtectedValueError(AthenaError):
    """An encrypted sensitive value failed authentication: its ciphertext was changed,
    or moved to another row or column. It is never decrypted; the message names the
    row, not the value."""


class SensitiveValueError(InvalidArgumentError):
    """A text that is kept where placeholders cannot stand in for values (a procedure's
    files, in git and shared by every scope) holds a sensitive value. The message names
    the file, the type and the line, never the value; nothing was saved."""


class PlaceholderError(InvalidArgumentError):
    """A placeholder (``[EMAIL_k3x7q2mz]``) in an argument cannot be resolved: it was
    never handed out in this scope (forged, or from another scope), or it is nested or
    cut off. Nothing was called."""


class GraphInputError(InvalidArgumentError):
    """A knowledge-graph write was refused as a whole (nothing was stored): the message
    says what is wrong and what is accepted. Its subclasses name the kind of problem."""


class UnknownEntityError(GraphInputError):
    """A relation, observation or query names an entity the scope's graph does not hold
    (by name or alias); ``graph.entity(name, type)`` creates it."""


class InvalidIntervalError(GraphInputError):
    """A valid time interval ends at or before it starts (``valid_to <= valid_from``)."""


class UnknownRelationTypeError(GraphInputError):
    """A relation or observation type is not declared, in a scope whose graph has declared
    types (``graph.declare``); the message lists the declared ones."""


class CascadeCycleError(GraphInputError):
    """A cascade rule would close a cycle (``a`` makes ``b`` stale, ``b`` makes ``a``
    stale); the message gives the cycle."""


class GraphFactNotFoundError(AthenaError, KeyError):
    """No fact with the given id exists in the scope's graph."""

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


class MissingExtraError(AthenaError):
    """A feature needs an optional package that is not installed; the message names the
    package and the extra that installs it."""


class ScheduleError(InvalidArgumentError):
    """A time or event trigger is malformed (a cron expression, an RRULE, an ``at`` or
    ``every`` value, a cue): the message says which part and what is accepted. Nothing
    was stored."""


class UnknownTimeZoneError(ScheduleError):
    """A trigger names a time zone the IANA database here does not know. Nothing was
    stored."""


class TriggerInPastError(ScheduleError):
    """A time trigger would never fire: its one instant, or its last, is in the past.
    Nothing was stored."""


class DependencyCycleError(InvalidArgumentError):
    """Task dependencies (or a parent goal) would form a cycle. Nothing was stored."""


class TaskNotFoundError(AthenaError, KeyError):
    """No task, goal or reminder with that id in the scope."""

    def __str__(self) -> str:
        return self.message
