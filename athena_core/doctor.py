"""``athena doctor``: check the environment and say what to fix."""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from athena_core.config import Config
from athena_core.errors import AthenaError

if TYPE_CHECKING:
    from athena_core.execution.isolation import ExecutorIsolation
    from athena_core.plugins import PluginHost, PluginInfo

__all__ = ["Check", "run_checks"]


@attrs.frozen
class Check:
    name: str
    #: ``ok``, ``warn`` or ``fail``.
    status: str
    detail: str
    fix: str | None = None
    #: For an executor: where it can run and the isolation it puts in force.
    isolation: ExecutorIsolation | None = None

    def to_dict(self) -> dict[str, Any]:
        out = attrs.asdict(self, recurse=False)
        if self.isolation is None:
            del out["isolation"]
        else:
            out["isolation"] = self.isolation.to_dict()
        return out


def run_checks(data_dir: str | os.PathLike[str] | None = None,
               config_path: str | os.PathLike[str] | None = None) -> list[Check]:
    """Run every check; never raises for a problem it can describe."""
    checks = [_python(), _sqlite()]
    try:
        config = Config.load(data_dir, path=config_path)
    except AthenaError as exc:
        return [*checks, Check("config", "fail", exc.message, exc.hint)]
    source = str(config.source) if config.source else "defaults (no athena.toml)"
    checks.append(Check("config", "ok", f"{source}; data dir {config.data_dir}"))
    checks.append(_data_dir(config.data_dir))
    from athena_core.runtime import Athena

    try:
        host = Athena.plugin_host(config)
    except AthenaError as exc:  # strict mode: a faulty plugin stops everything
        return [*checks, Check("plugins", "fail", exc.message, exc.hint)]
    checks.extend(_plugin_checks(config, host))
    checks.extend(_open_checks(config, {info.name for info in host.failures()}))
    checks.append(_sandbox_client())
    checks.append(_executor(config, host))
    checks.extend(_isolation(config, host))
    return checks


def _python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    return Check("python", "ok", f"Python {version} ({sys.executable})")


def _sqlite() -> Check:
    try:
        conn = sqlite3.connect(":memory:")
        conn.execute("CREATE VIRTUAL TABLE t USING fts5(x)")
        conn.close()
    except sqlite3.Error as exc:
        return Check("sqlite", "fail", f"SQLite {sqlite3.sqlite_version} lacks FTS5 ({exc})",
                     "Use a Python built against an SQLite with FTS5 (all common builds have it).")
    return Check("sqlite", "ok", f"SQLite {sqlite3.sqlite_version} with FTS5")


def _data_dir(path: Path) -> Check:
    if not path.exists():
        return Check("data dir", "warn", f"{path} does not exist yet",
                     "Run `athena init` (or any command that stores a memory) to create it.")
    if not os.access(path, os.W_OK):
        return Check("data dir", "fail", f"{path} is not writable",
                     f"Fix its permissions (chmod u+w {path}) or set ATHENA_HOME elsewhere.")
    return Check("data dir", "ok", str(path))


def _plugin_checks(config: Config, host: PluginHost) -> list[Check]:
    """One failed check per disabled plugin, and per selected plugin that cannot be made
    with its options."""
    from athena_core.selection import check_selected_plugins

    checks = [_failed_plugin(info) for info in host.failures()]
    for what, error in check_selected_plugins(config, host):
        checks.append(Check(what, "fail", error.message, error.hint))
    return checks


def _failed_plugin(info: PluginInfo) -> Check:
    return Check(f"plugin {info.name}", "fail", info.error or "failed to load",
                 f"Fix or upgrade {info.distribution or info.name}, or block it "
                 f"(ATHENA_PLUGINS_BLOCK={info.name}); it is disabled until then.")


def _open_checks(config: Config, reported: set[str]) -> list[Check]:
    """``reported``: the failed plugins already reported."""
    from athena_core.runtime import Athena

    if config.storage.url == "" and not (config.data_dir / "athena.db").exists():
        return [Check("database", "warn", "no database yet",
                      "It is created on first use, e.g. `athena remember \"hello\"`.")]
    try:
        athena = Athena.open(config=config)
    except AthenaError as exc:
        return [Check("database", "fail", exc.message, exc.hint)]
    checks: list[Check] = []
    with athena:
        checks += [_failed_plugin(info) for info in athena.plugins.failures()
                   if info.name not in reported]  # those found only when layers are made
        storage, index = athena.storage, athena.index
        assert storage is not None and index is not None
        problems = storage.integrity_problems()
        where = storage.path or storage.url.render_as_string(hide_password=True)
        if problems:
            checks.append(Check("database", "fail", f"{where}: {'; '.join(problems[:3])}",
                                "Restore a backup, or export what is readable and re-import."))
        else:
            checks.append(Check("database", "ok",
                                f"{where} (schema {storage.schema_revision()}, {storage.dialect})"))
        embedder = index.embedder.identity
        target = index.stored.reindex_target
        if index.needs_reindex:
            checks.append(Check("embedder", "fail",
                                f"vectors were made by {index.stored_identity}, "
                                f"configured is {embedder}: recall is full-text only and "
                                "writes are refused", "Run `athena reindex`."))
        elif target is not None:
            checks.append(Check("embedder", "warn",
                                f"{embedder}; a reindex to {target} is under way or was "
                                "stopped", "Rerun `athena reindex` with that embedder to "
                                "finish it."))
        else:
            checks.append(Check("embedder", "ok",
                                f"{index.settings.embedder} ({embedder}); vector backend "
                                f"{config.retrieval.vector_backend}"))
        checks.append(_keys(athena))
    return checks


def _keys(athena: Any) -> Check:
    """The master key: readable, private, the one the store's values are under."""
    privacy = athena.privacy
    if privacy.keys is None:
        return Check("keys", "ok", "sensitive values are stored as given ([privacy] conceal "
                                   "= false)")
    provider = privacy.keys.provider
    if not privacy.keys.exist():
        return Check("keys", "ok", f"no sensitive value stored yet, so no keys; the master "
                                   f"key will be in {provider.describe()}")
    problems = provider.problems() if hasattr(provider, "problems") else []
    try:
        status = privacy.key_status()
        privacy.keys.current()
    except AthenaError as exc:
        return Check("keys", "fail", exc.message, exc.hint)
    if problems:
        return Check("keys", "warn", "; ".join(problems),
                     "Without the key no sensitive value can be read back: keep it private "
                     "and keep a copy apart from the data (docs/privacy.md).")
    in_use = [k for k in status["keys"] if k["purpose"] == "data" and not k["retired"]]
    summary = (f"master key in {status['provider']}; {status['values']:,} sensitive values "
               f"under {len(in_use)} data key version{'s' if len(in_use) != 1 else ''}")
    if status["rotation_target"] is not None:
        return Check("keys", "warn", f"{summary}; a rotation was interrupted",
                     "Run `athena keys rotate` to finish it.")
    return Check("keys", "ok", summary)


def _sandbox_client(directory: Path | None = None) -> Check:
    """The files executors put in the sandbox are installed (``directory``: where to look
    instead of the installed ``athena_core/sandbox_client``)."""
    import athena_core.sandbox_client as client

    directory = directory or Path(client.__file__).parent
    missing = [name for name in client.FILES if not (directory / name).is_file()]
    if missing:
        paths = ", ".join(str(directory / name) for name in missing)
        return Check("sandbox client", "fail",
                     f"missing {paths}: programs cannot run in the sandbox"
                     + (" (JavaScript needs athena.mjs)" if "athena.mjs" in missing else ""),
                     "Reinstall athena-core (pip install --force-reinstall --no-deps "
                     "athena-core); a package built without its package data lacks these "
                     "files.")
    return Check("sandbox client", "ok", f"{', '.join(client.FILES)} in {directory}")


def _executor(config: Config, host: PluginHost) -> Check:
    from athena_core.execution.runner import ExecutionService

    service = ExecutionService(config, host)
    try:
        executor = service.executor()
    except AthenaError as exc:
        # Memory works without a sandbox; only an executor chosen explicitly must work.
        status = "fail" if config.execution.executor else "warn"
        return Check("sandbox", status, exc.message, exc.hint)
    finally:
        service.close()
    return Check("sandbox", "ok", f"executor {executor.name!r} runs programs here")


def _isolation(config: Config, host: PluginHost) -> list[Check]:
    """One check per installed executor: where it can run, and what isolation it puts in
    force here; an executor that runs with a feature off, or reports none, is a warning."""
    from athena_core.execution.isolation import executor_isolation

    return [_isolation_check(report) for report in executor_isolation(config, host)]


def _isolation_check(report: ExecutorIsolation) -> Check:
    from athena_core.execution.isolation import NOT_REPORTED

    name = f"isolation {report.executor}"
    if report.unavailable is not None:
        return Check(name, "warn", f"cannot run here: {report.unavailable}",
                     isolation=report)
    if report.features is None:
        return Check(name, "warn", NOT_REPORTED, isolation=report)
    off = report.reduced
    if off:  # the reasons are on the features' own lines
        return Check(name, "warn", f"runs here with {', '.join(off)} off", isolation=report)
    return Check(name, "ok", "runs here with every isolation feature it reports in force",
                 isolation=report)
