"""Configuration: ``athena.toml`` in the data dir, overridden by ``ATHENA_*`` variables.

The data dir is, in order: an explicit path, ``$ATHENA_HOME``, ``~/.athena``.
Each ``[section]`` of the file maps to a frozen attrs class below; each key can
also be set from the environment as ``ATHENA_<SECTION>_<KEY>`` (for example
``ATHENA_RETRIEVAL_EMBEDDER=hashing``). Unknown sections and keys are errors
that list the valid ones, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from athena_core.errors import ConfigError

__all__ = [
    "CONFIG_FILENAME",
    "AuditConfig",
    "Config",
    "McpClient",
    "McpConfig",
    "MemoryConfig",
    "PluginsConfig",
    "PrivacyConfig",
    "PrivacyRules",
    "ProceduresConfig",
    "RetrievalConfig",
    "StorageConfig",
    "default_config_text",
    "default_data_dir",
]

CONFIG_FILENAME = "athena.toml"
_SYNCHRONOUS = ("off", "normal", "full", "extra")


@attrs.frozen
class StorageConfig:
    """``[storage]``: where memories are kept."""

    #: SQLAlchemy URL; empty means the SQLite file ``athena.db`` in the data dir.
    url: str = ""
    #: How long a writer waits for another process's write to finish.
    busy_timeout_ms: int = attrs.field(default=30_000, validator=attrs.validators.ge(0))
    #: SQLite ``synchronous`` level; ``full`` survives power loss, ``normal`` a killed process.
    synchronous: str = attrs.field(default="full", validator=attrs.validators.in_(_SYNCHRONOUS))
    #: SQLite files up to this size (MB) get ``PRAGMA quick_check`` at every open; 0: never.
    open_check_mb: int = attrs.field(default=16, validator=attrs.validators.ge(0))


@attrs.frozen
class MemoryConfig:
    """``[memory]``: defaults for every layer."""

    #: Scope used when an operation is called without ``scope=``.
    default_scope: str = "default"
    #: Largest text one memory may hold, in bytes of UTF-8.
    max_text_bytes: int = attrs.field(default=1_000_000, validator=attrs.validators.ge(1))


_unit_interval = attrs.validators.and_(attrs.validators.ge(0.0), attrs.validators.le(1.0))


@attrs.frozen
class RetrievalConfig:
    """``[retrieval]``: how recall finds memories."""

    #: Registered name of the embedder plugin; empty picks the best installed one
    #: (``minilm``, then the built-in ``hashing``).
    embedder: str = ""
    #: Registered name of the vector backend plugin.
    vector_backend: str = "exact"
    #: Candidates taken from each retriever before fusion (at least ``k``).
    candidates: int = attrs.field(default=50, validator=attrs.validators.ge(1))
    #: Share of the full-text score in the mixed score (the cosine similarity gets the rest).
    lexical_weight: float = attrs.field(default=0.6, validator=_unit_interval)
    #: Episodes this many places before and after a candidate in its session are its context.
    neighbour_window: int = attrs.field(default=2, validator=attrs.validators.ge(0))
    #: Share of its best neighbour's score a candidate gains (0 turns context off).
    neighbour_weight: float = attrs.field(default=0.7, validator=attrs.validators.ge(0))
    #: An episode whose actor the query names scores this much more (0.5: x1.5; 0 turns it off).
    actor_weight: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    #: A memory from the time a query names ("in March 2024") scores this much more.
    period_weight: float = attrs.field(default=0.2, validator=attrs.validators.ge(0))
    #: A memory that is itself a question (its text ends with "?") scores this share less:
    #: it rarely holds the answer a recall looks for (0 turns it off).
    question_penalty: float = attrs.field(default=0.2, validator=_unit_interval)
    #: Query expansion: the full-text search is run again with the most telling words of the
    #: best matches, adding at most this share of the best direct full-text score. Off (0)
    #: by default: 0.4 finds more (LoCoMo recall@10 +1 point) for ~5 ms more per recall.
    expansion_weight: float = attrs.field(default=0.0, validator=attrs.validators.ge(0))
    #: The best matches the expansion words are taken from, and how many words are taken.
    expansion_sources: int = attrs.field(default=2, validator=attrs.validators.ge(1))
    expansion_words: int = attrs.field(default=10, validator=attrs.validators.ge(1))
    #: Added for recency: this weight times 0.5 ** (age / half-life); 0 turns it off.
    recency_weight: float = attrs.field(default=0.0, validator=attrs.validators.ge(0))
    #: Half-life of the recency term, in days.
    recency_half_life_days: float = attrs.field(default=30.0, validator=attrs.validators.gt(0))
    #: Added for importance: this weight times the memory's importance (0 to 1).
    importance_weight: float = attrs.field(default=0.0, validator=attrs.validators.ge(0))
    #: Options passed to the embedder's factory.
    embedder_options: Mapping[str, Any] = attrs.field(factory=dict)
    #: Options passed to the vector backend's factory.
    vector_options: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class ExecutionConfig:
    """``[execution]``: how agents' programs run."""

    #: Registered executor name; empty picks the best available sandbox (bwrap, then srt).
    executor: str = ""
    #: Policy used when ``execute`` is called without one (a preset or a ``[policies.X]``).
    policy: str = "strict"
    #: Pre-started sandboxed workers kept ready (0 disables the warm pool).
    pool_size: int = attrs.field(default=2, validator=attrs.validators.ge(0))
    #: Options passed to the executor's factory.
    executor_options: Mapping[str, Any] = attrs.field(factory=dict)
    #: Wait for the disk flush when writing an execution's or tool call's audit record.
    #: Off: the record survives a killed process but a power cut may lose the last ones.
    durable_records: bool = False


_CLIENT_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@attrs.frozen
class McpClient:
    """``[mcp.clients.NAME]``: one HTTP client of ``athena serve``, known by its token.

    Only the token's SHA-256 is stored (``athena mcp token add`` prints the token
    once and writes the table).
    """

    #: The client's name (the table's): its tool calls are recorded under it.
    name: str
    #: Lower-case hex SHA-256 of the client's bearer token.
    token_sha256: str
    #: The scope of every session of this client.
    scope: str
    #: The policy of its programs and tool calls; empty: ``[execution] policy``.
    policy: str = ""


def _mcp_clients(raw: Any) -> Mapping[str, McpClient]:
    """``[mcp.clients.NAME]`` tables, checked, as :class:`McpClient` values by name."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"[mcp] clients must be tables [mcp.clients.NAME], not {raw!r}.")
    clients: dict[str, McpClient] = {}
    owners: dict[str, str] = {}
    for name, table in raw.items():
        where = f"[mcp.clients.{name}]"
        if isinstance(table, McpClient):
            client = table
        elif not isinstance(table, Mapping):
            raise ConfigError(f"{where} must be a table with token_sha256 and scope.")
        else:
            unknown = sorted(set(table) - {"token_sha256", "scope", "policy"})
            if unknown:
                raise ConfigError(f"Unknown key {unknown[0]!r} in {where}. "
                                  "Valid keys: policy, scope, token_sha256.")
            missing = [key for key in ("token_sha256", "scope") if not table.get(key)]
            if missing:
                raise ConfigError(f"{where} needs {' and '.join(missing)}.",
                                  hint="`athena mcp token add NAME --scope SCOPE` writes it.")
            if not all(isinstance(table.get(key, ""), str)
                       for key in ("token_sha256", "scope", "policy")):
                raise ConfigError(f"{where}: token_sha256, scope and policy must be strings.")
            client = McpClient(name=name, token_sha256=table["token_sha256"].lower(),
                               scope=table["scope"], policy=table.get("policy", ""))
        if not _CLIENT_NAME.fullmatch(name):
            raise ConfigError(f"{where}: a client's name is 1-64 letters, digits, _ or -.")
        if not client.scope.strip() or len(client.scope) > 255:
            raise ConfigError(f"{where}: scope must be a non-empty string of at most 255 "
                              "characters.")
        if not _SHA256.fullmatch(client.token_sha256):
            raise ConfigError(f"{where} token_sha256 must be 64 hexadecimal digits (the "
                              "SHA-256 of the token), not the token itself.",
                              hint="`athena mcp token add NAME --scope SCOPE` writes it.")
        if client.token_sha256 in owners:
            raise ConfigError(f"[mcp.clients.{owners[client.token_sha256]}] and {where} have "
                              "the same token; give each client its own.")
        owners[client.token_sha256] = name
        clients[name] = client
    return types.MappingProxyType(clients)


#: Keys that were removed, with what replaces them: an old file fails with the way out
#: instead of silently doing something else.
_REMOVED_KEYS = {
    ("mcp", "scope_from_client"): (
        "[mcp] scope_from_client was removed: it let a client choose its scope by the name "
        "it gives itself. Over HTTP, give each client its own token, which decides its scope "
        "and policy: `athena mcp token add NAME --scope SCOPE` writes a [mcp.clients.NAME] "
        "table (docs/mcp.md, \"HTTP, clients and tokens\"). Over stdio, set [mcp] scope or pass "
        "--scope. Then delete scope_from_client from the file."),
}


@attrs.frozen
class McpConfig:
    """``[mcp]``: what ``athena serve`` gives MCP clients."""

    #: Scope of every MCP session; empty: ``[memory] default_scope``. Over HTTP, the
    #: scope of clients with the server's own token (``ATHENA_SERVE_TOKEN``).
    scope: str = ""
    #: Calls served at the same time, across sessions (one session's calls run in order).
    max_concurrent_calls: int = attrs.field(default=4, validator=attrs.validators.ge(1))
    #: An HTTP session with no request in flight for this long is ended.
    session_idle_seconds: float = attrs.field(default=1800.0, validator=attrs.validators.gt(0))
    #: HTTP sessions open at once; one more ends the least recently used idle one.
    max_sessions: int = attrs.field(default=1000, validator=attrs.validators.ge(1))
    #: Longest tool result sent to a client, in characters (its text and its structured
    #: content together); a longer one is cut, and says what was cut.
    max_response_chars: int = attrs.field(default=100_000, validator=attrs.validators.ge(2_000))
    #: HTTP clients, from ``[mcp.clients.NAME]`` tables: each client's token decides
    #: the scope and policy of its sessions.
    clients: Mapping[str, McpClient] = attrs.field(factory=dict, converter=_mcp_clients)


@attrs.frozen
class AuditConfig:
    """``[audit]``: what the audit log keeps (see ``docs/audit.md``)."""

    #: Keep the text of each program and the argument values of each tool call in its
    #: record (their sha256 is kept either way). Forget scrubs the text that quotes what
    #: it forgot; learning procedures from successful programs needs the text.
    keep_programs: bool = True


def _package_names(_instance: object, _attribute: attrs.Attribute[Any],
                   value: tuple[str, ...]) -> None:
    for name in value:
        if name != "*" and not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", name):
            raise ValueError(f"packages: {name!r} is not '*' or a package name (lower-case "
                             "letters, digits and single hyphens)")


@attrs.frozen
class ProceduresConfig:
    """``[procedures]``: where procedures are kept (see ``docs/procedures.md``)."""

    #: Path of the procedures' git repository (bare); empty means ``procedures.git`` in the
    #: data dir, a relative path is taken from the data dir. Always a local directory, also
    #: when ``[storage] url`` is a PostgreSQL server (decision 17).
    repository: str = ""
    #: The installed procedure packages (entry point group ``athena.procedures``) to load,
    #: by name: ``["*"]`` (the default) is every one, ``[]`` none. A package left out has
    #: its procedures retired.
    packages: tuple[str, ...] = attrs.field(default=("*",), validator=_package_names)

    #: The LLM provider (a registered name) that ``athena procedures learn`` asks to name,
    #: describe and generalise its proposals; empty: none, no model is used.
    llm_provider: str = ""
    #: A version that passes the gate stays a ``candidate`` until a person approves it
    #: (``athena procedures approve``).
    require_approval: bool = False


_TYPE_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


def _patterns(raw: Any) -> Mapping[str, str]:
    """``patterns``: type name -> regular expression, each checked to compile."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"[privacy] patterns must be a table of NAME = \"REGEX\", not {raw!r}.")
    for name, pattern in raw.items():
        if not isinstance(name, str) or not _TYPE_NAME.fullmatch(name):
            raise ConfigError(f"[privacy] pattern name {name!r} must be lower-case letters, "
                              "digits and _ (starting with a letter), at most 64 characters.")
        _compiles(f"pattern {name!r}", pattern)
    return types.MappingProxyType(dict(raw))


def _compiles(what: str, pattern: Any) -> None:
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError(f"[privacy] {what} must be a non-empty regular expression string.")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"[privacy] {what} is not a valid regular expression: {exc}.",
                          hint="Python `re` syntax; in TOML, write it in single quotes.") from None
    if compiled.match(""):
        raise ConfigError(f"[privacy] {what} matches the empty string; it would match "
                          "everywhere.")


def _regexes(raw: Any) -> tuple[str, ...]:
    values = tuple(raw)
    for pattern in values:
        _compiles("allow_patterns entry", pattern)
    return values


@attrs.frozen
class PrivacyRules:
    """What to detect: the keys of ``[privacy]`` and of each ``[privacy.scopes."NAME"]``."""

    #: Types (or detector names, which stand for all their types) to report; empty: all.
    types: tuple[str, ...] = ()
    #: Values never reported, compared exactly.
    allow: tuple[str, ...] = ()
    #: Regular expressions: a value that one matches in full is never reported.
    allow_patterns: tuple[str, ...] = attrs.field(default=(), converter=_regexes)
    #: Custom types: name -> regular expression (its whole match is the value).
    patterns: Mapping[str, str] = attrs.field(factory=dict, converter=_patterns)


def _privacy_scopes(raw: Any) -> Mapping[str, PrivacyRules]:
    if not isinstance(raw, Mapping):
        raise ConfigError('[privacy] scopes must be tables [privacy.scopes."SCOPE"].')
    scopes: dict[str, PrivacyRules] = {}
    for scope, table in raw.items():
        if isinstance(table, PrivacyRules):
            scopes[scope] = table
            continue
        where = f'[privacy.scopes."{scope}"]'
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where} must be a table.")
        valid = [field.name for field in attrs.fields(PrivacyRules)]
        unknown = sorted(set(table) - set(valid))
        if unknown:
            raise ConfigError(f"Unknown key {unknown[0]!r} in {where}. "
                              f"Valid keys: {', '.join(sorted(valid))}.")
        checked = {key: _check_type("privacy", key, value, _field_type(PrivacyRules, key))
                   for key, value in table.items()}
        scopes[scope] = PrivacyRules(**checked)
    return types.MappingProxyType(scopes)


@attrs.frozen
class PrivacyConfig(PrivacyRules):
    """``[privacy]``: which sensitive values are detected (see ``docs/privacy.md``).

    A scope's table overrides ``types`` when it sets them, and adds its ``allow``,
    ``allow_patterns`` and ``patterns`` to these.
    """

    #: Per-scope rules, from ``[privacy.scopes."SCOPE"]`` tables.
    scopes: Mapping[str, PrivacyRules] = attrs.field(factory=dict, converter=_privacy_scopes)
    #: Store every memory's text and metadata in placeholder form, the sensitive values
    #: encrypted in the vault; hand models placeholders only. Off: stored as given.
    conceal: bool = True
    #: Where the master key comes from: ``file`` (default), ``env``, or a key provider
    #: plugin's registered name.
    key_provider: str = "file"
    #: The ``file`` provider's key file, relative to the data dir unless absolute
    #: (default ``keys/master.key``; created 0600 when the store first needs a key).
    key_file: str = ""
    #: The environment variable the ``env`` provider reads (32 bytes in base64).
    key_env: str = "ATHENA_MASTER_KEY"
    #: Options passed to a key provider plugin's factory (``[privacy.key_options]``).
    key_options: Mapping[str, Any] = attrs.field(factory=dict)

    def rules_for(self, scope: str | None) -> PrivacyRules:
        """The rules in force in ``scope``: these, with the scope's own applied."""
        own = self.scopes.get(scope) if scope is not None else None
        if own is None:
            return PrivacyRules(self.types, self.allow, self.allow_patterns, self.patterns)
        return PrivacyRules(own.types or self.types, (*self.allow, *own.allow),
                            (*self.allow_patterns, *own.allow_patterns),
                            {**self.patterns, **own.patterns})


@attrs.frozen
class PluginsConfig:
    """``[plugins]``: which installed plugins load."""

    #: If not empty, only these plugins load.
    allow: tuple[str, ...] = ()
    #: These plugins never load (wins over ``allow``).
    block: tuple[str, ...] = ()
    #: Raise on a plugin that fails to load instead of reporting and skipping it.
    strict: bool = False


_SECTIONS: dict[str, type] = {
    "storage": StorageConfig,
    "memory": MemoryConfig,
    "retrieval": RetrievalConfig,
    "execution": ExecutionConfig,
    "mcp": McpConfig,
    "audit": AuditConfig,
    "procedures": ProceduresConfig,
    "privacy": PrivacyConfig,
    "plugins": PluginsConfig,
}


@attrs.frozen
class Config:
    """The whole configuration of one :class:`~athena_core.Athena` instance."""

    data_dir: Path
    storage: StorageConfig = StorageConfig()
    memory: MemoryConfig = MemoryConfig()
    retrieval: RetrievalConfig = RetrievalConfig()
    execution: ExecutionConfig = ExecutionConfig()
    mcp: McpConfig = McpConfig()
    audit: AuditConfig = AuditConfig()
    procedures: ProceduresConfig = ProceduresConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    plugins: PluginsConfig = PluginsConfig()
    #: Custom execution policies from ``[policies.NAME]`` tables, by name.
    policies: Mapping[str, Any] = attrs.field(factory=dict)
    #: The file this config was read from, if any.
    source: Path | None = None

    @property
    def database_url(self) -> str:
        return self.storage.url or f"sqlite:///{self.data_dir / 'athena.db'}"

    @property
    def procedure_repository(self) -> Path:
        """The procedures' git repository: ``[procedures] repository``, from the data dir."""
        return self.data_dir / Path(self.procedures.repository or "procedures.git").expanduser()

    @classmethod
    def load(
        cls,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Config:
        """Read the config for ``data_dir`` (or the file at ``path``) plus ``ATHENA_*`` overrides.

        A missing file means all defaults. Raises :class:`ConfigError` on unknown
        sections, keys or values.
        """
        env = os.environ if env is None else env
        if path is not None:
            file = Path(path).expanduser().resolve()
            source: Path | None = file
            if not file.is_file():
                raise ConfigError(f"Config file {file} does not exist.",
                                  hint="Create it with `athena init` or fix the path.")
            home = Path(data_dir).expanduser() if data_dir is not None else file.parent
        else:
            home = Path(data_dir).expanduser() if data_dir is not None else default_data_dir(env)
            candidate = home / CONFIG_FILENAME
            source = candidate if candidate.is_file() else None
        raw = _read_toml(source) if source is not None else {}
        return cls.from_mapping(raw, data_dir=home.resolve(), env=env, source=source)

    @classmethod
    def from_mapping(
        cls,
        raw: Mapping[str, Any],
        *,
        data_dir: Path,
        env: Mapping[str, str] | None = None,
        source: Path | None = None,
    ) -> Config:
        """Build a config from parsed TOML, applying ``ATHENA_*`` overrides from ``env``."""
        where = str(source) if source else "configuration"
        unknown = sorted(set(raw) - set(_SECTIONS) - {"policies"})
        if unknown:
            raise ConfigError(
                f"Unknown section [{unknown[0]}] in {where}. "
                f"Valid sections: {', '.join(sorted([*_SECTIONS, 'policies']))}."
            )
        sections: dict[str, Any] = {}
        for name, section_cls in _SECTIONS.items():
            values = raw.get(name, {})
            if not isinstance(values, Mapping):
                raise ConfigError(f"[{name}] in {where} must be a table, not {values!r}.")
            values = {**values, **_env_overrides(name, section_cls, env or {})}
            sections[name] = _build_section(name, section_cls, values, where)
        policies = _policies(raw, where)
        _check_client_policies(sections["mcp"], policies, where)
        return cls(data_dir=data_dir, source=source, policies=policies, **sections)

    def to_dict(self) -> dict[str, Any]:
        """The effective configuration as plain data (what ``athena config show`` prints)."""
        out: dict[str, Any] = {"data_dir": str(self.data_dir),
                               "source": str(self.source) if self.source else None}
        for name in _SECTIONS:
            section = attrs.asdict(getattr(self, name), recurse=False)
            out[name] = {k: list(v) if isinstance(v, tuple) else _plain(v)
                         if isinstance(v, Mapping) else v for k, v in section.items()}
        out["policies"] = {name: policy.to_dict() for name, policy in self.policies.items()}
        return out


def _policies(raw: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    from athena_core.execution.policy import PRESETS, policy_from_mapping

    tables = raw.get("policies", {})
    if not isinstance(tables, Mapping):
        raise ConfigError(f"[policies] in {where} must hold tables such as [policies.ci].")
    policies = {}
    for name, table in tables.items():
        if name in PRESETS:
            raise ConfigError(f"[policies.{name}] in {where} would shadow the preset {name!r}; "
                              "pick another name (extends = \"strict\" starts from a preset).")
        if not isinstance(table, Mapping):
            raise ConfigError(f"[policies.{name}] in {where} must be a table.")
        policies[name] = policy_from_mapping(name, table)
    return types.MappingProxyType(policies)


def _plain(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _data(attrs.asdict(v)) if attrs.has(type(v)) else v for k, v in mapping.items()}


def _data(value: Any) -> Any:
    """``value`` with its mappings as dicts and its tuples as lists (JSON-ready)."""
    if isinstance(value, Mapping):
        return {k: _data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_data(v) for v in value]
    return value


def _check_client_policies(mcp: McpConfig, policies: Mapping[str, Any], where: str) -> None:
    from athena_core.execution.policy import PRESETS

    for client in mcp.clients.values():
        if client.policy and client.policy not in PRESETS and client.policy not in policies:
            raise ConfigError(
                f"[mcp.clients.{client.name}] in {where} names policy {client.policy!r}, "
                f"which is neither a preset nor a [policies.NAME] table; policies: "
                f"{', '.join(sorted([*PRESETS, *policies]))}.")


def default_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$ATHENA_HOME`` if set, else ``~/.athena``."""
    env = os.environ if env is None else env
    home = env.get("ATHENA_HOME")
    return Path(home).expanduser() if home else Path("~/.athena").expanduser()


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}.",
                          hint="Fix the file, or move it aside and run `athena init`.") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text: {exc}.") from exc


def _env_overrides(section: str, section_cls: type, env: Mapping[str, str]) -> dict[str, Any]:
    prefix = f"ATHENA_{section.upper()}_"
    fields = {f.name: f for f in attrs.fields(section_cls)}
    out: dict[str, Any] = {}
    for var, text in env.items():
        if not var.startswith(prefix):
            continue
        key = var[len(prefix):].lower()
        if (section, key) in _REMOVED_KEYS:
            raise ConfigError(f"{_REMOVED_KEYS[section, key]} (set by {var})")
        if key not in fields:
            raise ConfigError(
                f"Unknown environment variable {var}. Valid ones for [{section}]: "
                + ", ".join(prefix + k.upper() for k in fields) + "."
            )
        out[key] = _parse_env_value(var, text, _field_type(section_cls, key))
    return out


def _field_type(section_cls: type, key: str) -> Any:
    return typing.get_type_hints(section_cls)[key]


def _parse_env_value(var: str, text: str, kind: Any) -> Any:
    origin = typing.get_origin(kind)
    if kind is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{var}={text!r} is not a boolean; use true or false.")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{var}={text!r} is not an integer.") from None
    if kind is float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise ConfigError(f"{var}={text!r} is not a finite number.")
        return value
    if origin is tuple:
        return tuple(part.strip() for part in text.split(",") if part.strip())
    if origin is not None and issubclass(origin, Mapping):
        try:
            parsed = tomllib.loads(f"value = {text}")["value"]
        except tomllib.TOMLDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            raise ConfigError(f"{var} must be an inline TOML table such as {{ key = 1 }}.")
        return parsed
    return text


def _build_section(name: str, section_cls: type, values: Mapping[str, Any], where: str) -> Any:
    fields = {f.name for f in attrs.fields(section_cls)}
    unknown = sorted(set(values) - fields)
    for key in unknown:
        if (name, key) in _REMOVED_KEYS:
            raise ConfigError(f"{_REMOVED_KEYS[name, key]} (in {where})")
    if unknown:
        raise ConfigError(
            f"Unknown key {unknown[0]!r} in [{name}] of {where}. "
            f"Valid keys: {', '.join(sorted(fields))}."
        )
    checked = {key: _check_type(name, key, value, _field_type(section_cls, key))
               for key, value in values.items()}
    try:
        return section_cls(**checked)
    except ValueError as exc:
        raise ConfigError(f"Invalid value in [{name}] of {where}: {exc}") from None


def _check_type(section: str, key: str, value: Any, kind: Any) -> Any:
    origin = typing.get_origin(kind)
    ok: bool
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:  # an integer is a float too; NaN and infinity are not numbers here
        ok = (isinstance(value, int | float) and not isinstance(value, bool)
              and math.isfinite(value))
        value = float(value) if ok else value
    elif kind is str:
        ok = isinstance(value, str)
    elif origin is tuple:
        ok = isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
        value = tuple(value) if ok else value
    elif origin is not None and isinstance(origin, type) and issubclass(origin, Mapping):
        ok = isinstance(value, Mapping)
        value = types.MappingProxyType(dict(value)) if ok else value
    else:  # pragma: no cover - every field type is handled above
        ok = True
    if not ok:
        raise ConfigError(f"[{section}] {key} = {value!r} has the wrong type; expected {kind}.")
    return value


def default_config_text() -> str:
    """The commented default ``athena.toml`` that ``athena init`` writes."""
    return '''\
# Athena configuration. Every key may also be set from the environment as
# ATHENA_<SECTION>_<KEY>, e.g. ATHENA_RETRIEVAL_EMBEDDER=hashing.
# `athena config check` validates this file; `athena config show` prints the result.

[storage]
# SQLAlchemy URL of the database. Empty: the SQLite file athena.db in this directory.
# PostgreSQL: "postgresql://user:password@host/dbname"
# (needs the driver: pip install "athena-core[postgres]").
url = ""
# How long (ms) a writer waits for another process's write to finish.
busy_timeout_ms = 30000
# SQLite durability: "full" survives power loss, "normal" survives a killed process.
synchronous = "full"
# A SQLite file up to this size (MB) is checked for damage (PRAGMA quick_check) at every
# open, which costs a few ms per MB; 0: never (`athena doctor` checks any size).
open_check_mb = 16

[memory]
# Scope used when an operation is called without scope=.
default_scope = "default"
# Largest text one memory may hold, in bytes of UTF-8.
max_text_bytes = 1000000

[retrieval]
# Registered names; `athena plugins list` shows what is installed. An empty embedder
# picks the best installed one (minilm, then the built-in hashing). For more recall at
# about seven times the cost: "mpnet" with lexical_weight 0.3, neighbour_weight 0.45,
# actor_weight 0.3 and expansion_weight 0.5 (README, "Tune recall for quality").
embedder = ""
vector_backend = "exact"
# Candidates per retriever; the full-text share of the mixed score (cosine gets the rest).
candidates = 50
lexical_weight = 0.6
# Context: episodes within this many places in the same session lend a share of their score.
neighbour_window = 2
neighbour_weight = 0.7
# Boosts: an episode whose actor the query names (x1.5), a memory from the time a query
# names, such as "on 3 May 2024" or "in 2023" (x1.2); 0 turns each off.
actor_weight = 0.5
period_weight = 0.2
# A memory that is itself a question (its text ends with "?") scores 20% less: it rarely
# holds the answer a recall looks for. 0 turns it off.
question_penalty = 0.2
# Query expansion: search again with the 10 most telling words of the best 2 matches,
# adding at most this share of the best direct full-text score. Off by default: 0.4
# finds more (LoCoMo recall@10 +1 point) for about 5 ms more per recall.
expansion_weight = 0.0
expansion_sources = 2
expansion_words = 10
# Optional: favour recent and important memories (0 turns each off).
recency_weight = 0.0
recency_half_life_days = 30.0
importance_weight = 0.0

[retrieval.embedder_options]

[retrieval.vector_options]

[execution]
# Executor for agents' programs; empty picks the best available sandbox (bwrap, then srt).
executor = ""
# Policy used when none is given: strict, research, development, or one defined below.
policy = "strict"
# Pre-started sandboxed workers kept ready (0 disables the warm pool).
pool_size = 2
# Wait for the disk flush when writing each execution's and tool call's audit record;
# false: a killed process loses no record, a power cut may lose the last ones.
durable_records = false

[execution.executor_options]

# A custom policy; select it with `athena run --policy ci` or execute(policy="ci").
# [policies.ci]
# extends = "strict"
# read_paths = ["~/src/project"]
# env = ["CI"]
# limits = { wall_seconds = 60, memory_bytes = 1073741824 }

[mcp]
# Scope of every MCP session of `athena serve`; empty: [memory] default_scope. Over
# HTTP, the scope of clients that use the server's own token (ATHENA_SERVE_TOKEN).
scope = ""
# Calls served at the same time, across sessions; one session's calls run in order.
max_concurrent_calls = 4
# An HTTP session with no request in flight for this long (seconds) is ended.
session_idle_seconds = 1800.0
# HTTP sessions open at once; one more ends the least recently used idle one.
max_sessions = 1000
# Longest tool result sent to a client, in characters (its text and its structured
# content together); a longer one is cut, and says what was cut.
max_response_chars = 100000

# HTTP clients, each with its own token, scope and policy. Written by
# `athena mcp token add NAME --scope SCOPE [--policy POLICY]`, which prints the token
# once and keeps only its SHA-256 here.
# [mcp.clients.alice]
# token_sha256 = "..."
# scope = "team:alice"
# policy = "strict"

[audit]
# Keep each program's text and each tool call's argument values in the audit log (their
# sha256 is kept either way). Forget scrubs the text that quotes what it forgot.
keep_programs = true

[procedures]
# The procedures' git repository (bare). Empty: procedures.git in this directory; a relative
# path is taken from this directory. It stays a local directory with PostgreSQL too.
repository = ""
# The installed procedure packages to load, by name: ["*"] is every one, [] none.
packages = ["*"]

# The LLM provider (a name an installed plugin registers) that `athena procedures learn`
# asks to name, describe and generalise what it proposes; its output goes through the
# same gate. Empty: no model is used.
llm_provider = ""
# Keep a version that passes the gate a candidate until a person approves it
# (`athena procedures approve ID`).
require_approval = false

[privacy]
# Sensitive values to detect (`athena privacy scan` shows what is found; docs/privacy.md
# lists the types). Empty: every type. A detector's name stands for all its types.
types = []
# Values never reported (exact), and regular expressions a value may match in full.
allow = []
allow_patterns = []
# Store memories with each sensitive value replaced by a placeholder ([EMAIL_k3x7q2mz]),
# the values encrypted (AES-256-GCM) in the vault; models see placeholders only.
conceal = true
# Where the master key comes from: "file" (key_file, created 0600), "env" (key_env), or
# a key provider plugin. Keep a copy of the key: without it no value can be read back.
key_provider = "file"
key_file = ""                    # default: keys/master.key in the data dir
key_env = "ATHENA_MASTER_KEY"
# A key provider plugin's options, e.g. { service = "athena" } for "keyring".
key_options = {}

# Types of your own: NAME = 'regular expression'.
[privacy.patterns]
# employee_id = 'EMP-[0-9]{6}'

# Rules of one scope: its types replace the ones above; allow lists and patterns add to them.
# [privacy.scopes."team:support"]
# types = ["email", "phone"]

[plugins]
# If not empty, only these plugins load. `block` wins over `allow`.
allow = []
block = []
# Raise when a plugin fails to load instead of reporting and skipping it.
strict = false
'''
