"""Every way in: one ``Door`` per entry path, all answering the same ``call``.

A door is bound to one tenant (scope) and, where the path has one, one policy. Its
``call(op, *args, **kwargs)`` calls API operation ``op`` the way a user of that path
would - a host application, a program under an executor, an MCP client in code or
classic mode over stdio or HTTP, the CLI - and returns an :class:`Outcome` holding
everything the caller got back (``seen``: scanned for other tenants' secrets), or
``None`` where the path does not offer ``op`` at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from athena_core import Athena
from athena_core.errors import AthenaError
from athena_core.execution.bridge import to_jsonable
from athena_core.mcp.tools import tool_name
from tests.test_mcp import server_env


@attrs.frozen
class Outcome:
    """What one call gave its caller."""

    ok: bool
    value: Any = None
    #: The error's type name (``PermissionDeniedError``, ``ScopeViolationError``, ...).
    error: str | None = None
    #: Everything the caller saw, as text.
    seen: str = ""

    @property
    def refused(self) -> bool:
        """Refused by the trust boundary: permission or scope (by type name)."""
        return not self.ok and self.error in ("PermissionDeniedError", "ScopeViolationError")


def _seen(*parts: Any) -> str:
    return json.dumps(parts, ensure_ascii=False, default=str)


class Door:
    """One entry path, bound to ``scope`` (and ``policy``)."""

    name = "door"

    def call(self, op: str, *args: Any, **kwargs: Any) -> Outcome | None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"<{self.name}>"


# --- the host API --------------------------------------------------------------------------

class HostDoor(Door):
    """A host application serving one tenant: ``with athena.bound(scope=..., policy=...)``."""

    def __init__(self, athena: Athena, scope: str, policy: Any = None) -> None:
        self.athena, self.scope, self.policy = athena, scope, policy
        self.name = "host"

    def call(self, op: str, *args: Any, **kwargs: Any) -> Outcome | None:
        try:
            with self.athena.bound(scope=self.scope, policy=self.policy):
                value = to_jsonable(self.athena.api.get(op)(*args, **kwargs))
        except AthenaError as exc:
            return Outcome(False, error=type(exc).__name__, seen=_seen(str(exc)))
        return Outcome(True, value, seen=_seen(value))


# --- programs under an executor -------------------------------------------------------------

_PROGRAM = """\
import athena
def call_it():
    target = athena
    for part in {op!r}.split("."):
        target = getattr(target, part)
    return target(*{args!r}, **{kwargs!r})
try:
    out = {{"ok": True, "value": call_it()}}
except athena.errors.AthenaError as exc:
    out = {{"ok": False, "error": exc.type, "message": str(exc)}}
except AttributeError as exc:
    out = {{"ok": False, "error": "AttributeError", "message": str(exc)}}
except (TypeError, ValueError) as exc:
    out = {{"ok": False, "error": "InvalidArgument", "message": str(exc)}}
out
"""


def program_for(op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """A program calling ``op`` and returning what happened, as JSON data."""
    return _PROGRAM.format(op=op, args=list(args), kwargs=kwargs)


def _program_outcome(status: str, value: Any, error: Any, seen: str) -> Outcome | None:
    if status != "ok" or not isinstance(value, dict):
        return Outcome(False, error=f"program {status}: {error}", seen=seen)
    if value.get("error") == "AttributeError":
        return None  # the program's module has no such operation (execute, for one)
    return Outcome(bool(value["ok"]), value.get("value"), value.get("error"), seen)


class ProgramDoor(Door):
    """``Athena.execute`` under one executor, bound to the tenant's scope."""

    def __init__(self, athena: Athena, scope: str, executor: str, policy: Any = None) -> None:
        self.athena, self.scope, self.policy = athena, scope, policy
        self.name = f"execute[{executor}]"

    def call(self, op: str, *args: Any, **kwargs: Any) -> Outcome | None:
        result = self.athena.execute(program_for(op, args, kwargs), scope=self.scope,
                                     policy=self.policy)
        seen = _seen(result.to_dict())
        return _program_outcome(result.status, result.value, result.error, seen)


# --- MCP over a real SDK client ---------------------------------------------------------------

class McpClient:
    """A synchronous face on the SDK's async client: its loop runs in a thread of its own."""

    def __init__(self, connect: Callable[[], contextlib.AbstractAsyncContextManager[Any]]
                 ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._stack = contextlib.AsyncExitStack()
        self.session = self._run(self._open(connect))

    async def _open(self, connect: Callable[[], Any]) -> Any:
        session = await self._stack.enter_async_context(connect())
        self.initialized = await session.initialize()
        return session

    def _run(self, coroutine: Any, timeout: float = 120) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        return self._run(self.session.call_tool(name, arguments))

    def tools(self) -> list[str]:
        return [tool.name for tool in self._run(self.session.list_tools()).tools]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._run(self._stack.aclose(), timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def stdio_client(home: Path, *options: str, env: dict[str, str] | None = None) -> McpClient:
    """``athena serve --home HOME OPTIONS`` over stdio (``env``: extra variables), with an
    initialized client."""
    import mcp.types as types
    from mcp import ClientSession, StdioServerParameters
    from mcp import stdio_client as connect_stdio

    params = StdioServerParameters(
        command=sys.executable, args=["-m", "athena_core.cli", "serve", "--home", str(home),
                                      *options],
        env=server_env(**(env or {})), cwd=home.parent)
    errlog = open(home.with_suffix(f".{os.getpid()}.stderr"), "a", encoding="utf-8")  # noqa: SIM115

    @contextlib.asynccontextmanager
    async def connect() -> Any:
        try:
            async with (connect_stdio(params, errlog=errlog) as (read, write),
                        ClientSession(read, write, read_timeout_seconds=90,
                                      client_info=types.Implementation(
                                          name="invariants", version="1")) as session):
                yield session
        finally:
            errlog.close()

    return McpClient(connect)


def http_client(url: str, token: str) -> McpClient:
    """A client of a streamable-HTTP server, authenticated with ``token``."""
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    @contextlib.asynccontextmanager
    async def connect() -> Any:
        async with (httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"},
                                       timeout=120) as http,
                    streamable_http_client(url, http_client=http) as (read, write),
                    ClientSession(read, write, read_timeout_seconds=90) as session):
            yield session

    return McpClient(connect)


def _tool_outcome(result: Any) -> tuple[bool, Any, str]:
    data = result.structured_content or {}
    text = "".join(getattr(c, "text", "") for c in result.content)
    return not result.is_error, data, _seen(text, data)


class McpCodeDoor(Door):
    """``run_code`` of a code-mode server, over stdio or HTTP."""

    def __init__(self, client: McpClient, name: str) -> None:
        self.client, self.name = client, name

    def call(self, op: str, *args: Any, **kwargs: Any) -> Outcome | None:
        _, data, seen = _tool_outcome(self.client.call_tool(
            "run_code", {"code": program_for(op, args, kwargs)}))
        return _program_outcome(data.get("status", "error"), data.get("value"),
                                data.get("error"), seen)

    def close(self) -> None:
        self.client.close()


class McpClassicDoor(Door):
    """One tool per operation (classic mode), over stdio or HTTP."""

    def __init__(self, client: McpClient, name: str, athena: Athena) -> None:
        self.client, self.name = client, name
        self._athena = athena  # for operation signatures only
        self._offered = set(client.tools())

    def call(self, op: str, *args: Any, **kwargs: Any) -> Outcome | None:
        tool = tool_name(op)
        if tool not in self._offered:
            return None
        signature = self._athena.api.get(op).signature
        arguments = dict(signature.bind_partial(*args, **kwargs).arguments)
        ok, data, seen = _tool_outcome(self.client.call_tool(tool, to_jsonable(arguments)))
        if ok:
            return Outcome(True, data.get("result", data), seen=seen)
        return Outcome(False, error=(data.get("error") or {}).get("type"), seen=seen)

    def close(self) -> None:
        self.client.close()


# --- the CLI ------------------------------------------------------------------------------------

class CliDoor(Door):
    """The ``athena`` command, run as its own process with ``--scope``."""

    def __init__(self, home: Path, scope: str) -> None:
        self.home, self.scope, self.name = home, scope, "cli"

    @staticmethod
    def command(op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[str] | None:
        """The command line that calls ``op``, or ``None`` where the CLI has none (the
        scope is the door's ``--scope``; one command has one)."""
        match op, args, kwargs:
            case "remember", (str() as text,), dict() if not kwargs:
                return ["remember", text]
            case "recall", (str() as query,), dict() if not kwargs:
                return ["recall", query, "-k", "50"]
            case "forget", (str() | list() as ids,), dict() if not kwargs:
                return ["forget", *([ids] if isinstance(ids, str) else ids)]
            case "forget", (), {"everything": True, **rest} if not rest:
                return ["forget", "--all"]
            case "forget", (), {"session": str() as session, **rest} if not rest:
                return ["forget", "--session", session]
            case "episodic.timeline", (), dict() if "scope" not in kwargs:
                return ["timeline", "--limit", "1000"]
            case str(), tuple(), dict() if op.startswith("graph.") and "scope" not in kwargs:
                # athena graph <operation>: positional arguments, then --options
                options = [part for name, value in kwargs.items() for item in (
                    value if isinstance(value, list) else [value])
                    for part in (f"--{name.replace('_', '-')}", str(item))]
                return ["graph", op.split(".", 1)[1].replace("_", "-"),
                        *map(str, args), *options]
            case "prospective.list", (), dict() if not kwargs:
                return ["tasks", "list"]
            case "prospective.add", (str() as title,), dict() if not kwargs:
                return ["tasks", "add", title]
            case "prospective.done" | "prospective.cancel", (str() as id,), dict() \
                    if not kwargs:
                return ["tasks", op.split(".")[1], id]
            case "prospective.runs", (str() as id,), dict() if not kwargs:
                return ["tasks", "runs", id]
        return None

    def call(self, op: str, *args: Any, **kwargs: Any) -> Outcome | None:
        line = self.command(op, args, kwargs)
        if line is None:
            return None
        done = run_cli(self.home, *line, "--scope", self.scope, "--json")
        seen = _seen(done.stdout, done.stderr)
        try:
            data = json.loads(done.stdout) if done.stdout.strip() else None
        except ValueError:
            data = None
        if done.returncode != 0:
            error = data.get("error", {}).get("type") if isinstance(data, dict) else None
            return Outcome(False, error=error or f"exit {done.returncode}", seen=seen)
        return Outcome(True, data, seen=seen)


def run_cli(home: Path, *arguments: str, stdin: str | None = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "athena_core.cli", *arguments,
                           "--home", str(home)], input=stdin, capture_output=True, text=True,
                          env=server_env(), timeout=120, check=False)
