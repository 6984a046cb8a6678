"""``athena serve``: Athena's tools and API tree over MCP (stdio, or HTTP on localhost).

Built on the low-level server of the official ``mcp`` SDK (2.x), imported only
here and only when serving: it costs about half a second. Tools come from
:class:`~athena_core.mcp.tools.ToolSession`; the API tree (the same files
programs read at ``/athena/apis``) is offered as resources ``athena://apis/PATH``.

Who a session works for decides its scope and policy, never what the client
says about itself. Over stdio the server serves the process that started it:
one scope (``--scope``, ``[mcp] scope``), the ``[execution] policy``. Over HTTP
every request carries a bearer token; :class:`_HttpGate` finds the client it
belongs to (``[mcp.clients.NAME]``, or the server's own token for ``[mcp]
scope``), and a session answers only the client that opened it. The gate also
ends sessions idle for ``[mcp] session_idle_seconds`` and, past ``[mcp]
max_sessions``, the least recently used idle one.

Calls run in worker threads, at most ``[mcp] max_concurrent_calls`` at a time
across sessions, so a long program in one session never holds up another or
the protocol loop; the calls of one session run one after another, in order.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from athena_core.errors import AthenaError
from athena_core.mcp.skills import SCHEME, SKILLS_EXTENSION, ServedSkill, SkillLibrary
from athena_core.mcp.tools import CLASSIC_INSTRUCTIONS, SERVER_INSTRUCTIONS, ToolSession
from athena_core.procedures.skills import SKILL_FILE

if TYPE_CHECKING:
    from athena_core.calls import CallContext
    from athena_core.config import McpClient
    from athena_core.runtime import Athena

__all__ = ["API_RESOURCE_PREFIX", "SessionTable", "build_server", "serve_http", "serve_stdio"]

API_RESOURCE_PREFIX = "athena://apis/"
#: Due reminders of the session's scope (reading delivers them: ``prospective.due``).
DUE_RESOURCE = "athena://prospective/due"
_MIME = {".md": "text/markdown", ".py": "text/x-python"}
_RESOURCE_NOT_FOUND = -32002
_INVALID_PARAMS = -32602
#: Skills per skills/list page, and skills whose files make one resources/list page.
_SKILLS_PAGE = 50
_RESOURCE_SKILLS_PAGE = 50
#: The extension's cache fields: a listing depends on the session's policy, and a skill
#: changes when another version of its procedure is admitted.
_SKILL_CACHING = {"ttlMs": 60_000, "cacheScope": "private"}
#: Resource templates of skill files: (template after skill://, name, MIME type, what).
_SKILL_TEMPLATES = (
    ("{namespace}/{skill}/SKILL.md", "skill", "text/markdown",
     "The SKILL.md of the active procedure namespace/name; its skill is namespace-name."),
    ("{namespace}/{skill}/scripts/{file}", "skill-script", "text/x-python",
     "main.py (the code) or test_main.py (its tests) of that skill."))
#: Keys of the ASGI scope through which the HTTP gate tells the handlers who is calling.
_CALLER, _SESSION = "athena.mcp.caller", "athena.mcp.session"
_STREAM_PATH = "/mcp"

K = TypeVar("K")
V = TypeVar("V")


@attrs.frozen
class _Caller:
    """Who a session works for: what binds it, its scope and its policy."""

    #: What a session is bound to: only requests of the same caller reach it.
    identity: str
    #: Recorded as the client of its tool calls; ``None``: the name the client gives.
    name: str | None
    scope: str
    #: A preset or ``[policies.NAME]``; ``None``: ``[execution] policy``.
    policy: str | None = None

    @classmethod
    def from_client(cls, client: McpClient) -> _Caller:
        return cls(f"mcp.clients.{client.name}", client.name, client.scope,
                   client.policy or None)


class _Session:
    """One MCP session: who it works for, its tools (made at its first call), its order."""

    def __init__(self, caller: _Caller) -> None:
        import anyio

        self.caller = caller
        #: Held around each call, so the calls of one session run one at a time, in order.
        self.order = anyio.Lock()
        self.tools: ToolSession | None = None


class SessionTable(Generic[K, V]):
    """Open sessions by key, least recently used first, each busy or idle.

    A session is busy while a request of it is in flight, idle otherwise. Not
    thread-safe: the server uses it from its event loop only.
    """

    def __init__(self, *, idle_seconds: float, max_sessions: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_seconds, self.max_sessions, self._clock = idle_seconds, max_sessions, clock
        self._values: OrderedDict[K, V] = OrderedDict()
        self._last_used: dict[K, float] = {}
        self._busy: dict[K, int] = {}

    def __len__(self) -> int:
        return len(self._values)

    def add(self, key: K, value: V) -> None:
        self._values[key] = value
        self._touch(key)

    def get(self, key: K) -> V | None:
        """The session (now the most recently used), or ``None``."""
        value = self._values.get(key)
        if value is not None:
            self._touch(key)
        return value

    def remove(self, key: K) -> V | None:
        self._last_used.pop(key, None)
        self._busy.pop(key, None)
        return self._values.pop(key, None)

    @contextlib.contextmanager
    def busy(self, key: K) -> Iterator[None]:
        """Mark the session busy for the ``with`` block: it is neither idle nor evicted."""
        self._busy[key] = self._busy.get(key, 0) + 1
        self._touch(key)
        try:
            yield
        finally:
            if key in self._values:
                self._busy[key] -= 1
                self._touch(key)

    def expired(self) -> list[K]:
        """Forget the sessions idle for longer than ``idle_seconds``; their keys."""
        cutoff = self._clock() - self.idle_seconds
        gone = [key for key, last in self._last_used.items()
                if last < cutoff and not self._busy.get(key)]
        for key in gone:
            self.remove(key)
        return gone

    def make_room(self, opening: int = 0) -> list[K]:
        """Forget the least recently used idle sessions until one more (besides ``opening``
        still being opened) fits; their keys. Busy sessions are never chosen."""
        gone: list[K] = []
        for key in list(self._values):
            if len(self._values) + opening < self.max_sessions:
                break
            if not self._busy.get(key):
                self.remove(key)
                gone.append(key)
        return gone

    def _touch(self, key: K) -> None:
        self._last_used[key] = self._clock()
        self._values.move_to_end(key)


class _Sessions:
    """The :class:`ToolSession` of each MCP session of one server."""

    def __init__(self, athena: Athena, *, classic: bool, scope: str | None) -> None:
        self.athena, self.classic = athena, classic
        self.scope = _default_scope(athena, scope)
        self._stdio = _Session(_Caller("stdio", None, self.scope))
        #: HTTP requests outside a session (stateless protocol versions), by caller.
        self._sessionless: dict[str, _Session] = {}

    def for_request(self, ctx: Any) -> tuple[_Session, ToolSession]:
        request = ctx.request  # the HTTP request; None on stdio
        if request is None:
            session = self._stdio
        else:
            session = request.scope.get(_SESSION)
            if session is None:
                caller = request.scope.get(_CALLER)
                if caller is None:  # served over HTTP without the gate: refuse, never guess
                    from mcp.shared.exceptions import MCPError

                    raise MCPError(code=-32001, message="Unauthenticated request.")
                session = self._sessionless.setdefault(caller.identity, _Session(caller))
        if session.tools is None:
            caller = session.caller
            params = ctx.session.client_params
            declared = params.client_info.name if params is not None else None
            session.tools = ToolSession(self.athena, scope=caller.scope, classic=self.classic,
                                        client=caller.name or declared, policy=caller.policy,
                                        authenticated=caller.name is not None)
        return session, session.tools


def _default_scope(athena: Athena, scope: str | None) -> str:
    return scope or athena.config.mcp.scope or athena.config.memory.default_scope


def build_server(athena: Athena, *, classic: bool = False, scope: str | None = None) -> Any:
    """The low-level MCP ``Server`` for ``athena`` (not started).

    ``scope`` is the scope of stdio sessions and of HTTP clients with the server's own
    token (default: ``[mcp] scope``, else ``[memory] default_scope``).
    """
    import anyio
    import mcp.types as types
    from mcp.server import Server
    from mcp.shared.exceptions import MCPError

    from athena_core.discovery.tree import render_tree
    from athena_core.execution.bridge import callable_operations, policy_key

    sessions = _Sessions(athena, classic=classic, scope=scope)
    #: Worker threads serving calls, shared by every session of this server.
    workers = anyio.CapacityLimiter(athena.config.mcp.max_concurrent_calls)
    athena.execution  # noqa: B018 - made now, not by two first calls at once

    def api_files(ctx: Any) -> dict[str, str]:
        """The API tree a session's programs see (its policy decides what is in it)."""
        policy = sessions.for_request(ctx)[1].policy
        key = ("mcp-api-tree", policy_key(policy))
        files = athena.api.cache.get(key)
        if files is None:
            files = athena.api.cache[key] = {
                path: text for path, text in render_tree(
                    callable_operations(athena.api, policy)).items()
                if not path.startswith(".")}
        return files

    async def list_tools(ctx: Any, params: Any) -> Any:
        return types.ListToolsResult(tools=[
            types.Tool(name=tool.name, description=tool.description,
                       input_schema=tool.input_schema)
            for tool in sessions.for_request(ctx)[1].tools.values()])

    async def call_tool(ctx: Any, params: Any) -> Any:
        session, tools = sessions.for_request(ctx)
        async with session.order:
            result = await anyio.to_thread.run_sync(
                tools.call, params.name, params.arguments, limiter=workers)
        notice = await anyio.to_thread.run_sync(due_notice, ctx, limiter=workers)
        return types.CallToolResult(content=[types.TextContent(text=result.text + notice)],
                                    structured_content=result.data, is_error=result.is_error)

    def due_notice(ctx: Any) -> str:
        """A line telling the agent how many reminders of its scope are due (never what
        they say: it reads them from the due resource, or with prospective.due())."""
        from athena_core import calls

        bound = context(ctx)
        if not bound.allows("prospective.due", frozenset({"write"})):
            return ""
        with calls.bind(bound):
            athena.prospective.tick(scope=athena.store.scope(None))  # type: ignore[union-attr]
            waiting = athena.prospective.pending_count()
        if not waiting:
            return ""
        return (f"\n\n[athena] {waiting} reminder{'s are' if waiting != 1 else ' is'} due: "
                f"read {DUE_RESOURCE} or call athena.prospective.due().")

    async def list_resources(ctx: Any, params: Any) -> Any:
        cursor = params.cursor if params is not None else None
        resources = [] if cursor is not None else [
            types.Resource(uri=API_RESOURCE_PREFIX + path, name=path,
                           mime_type=_MIME.get(path[path.rfind("."):], "text/plain"))
            for path in api_files(ctx)]
        if cursor is None and context(ctx).allows("prospective.due", frozenset({"write"})):
            resources.append(types.Resource(
                uri=DUE_RESOURCE, name="due reminders", mime_type="application/json",
                description="Reminders and tasks due now in this scope; reading delivers them."))
        found, next_cursor = await skill_page(ctx, cursor, _RESOURCE_SKILLS_PAGE)
        resources += [types.Resource(
            uri=file.uri, mime_type=file.mime_type,
            name=skill.front_matter["name"] if file.path == SKILL_FILE else file.path,
            description=skill.front_matter["description"] if file.path == SKILL_FILE else None)
            for skill in found for file in skill.files]
        return types.ListResourcesResult(resources=resources, next_cursor=next_cursor)

    async def list_resource_templates(ctx: Any, params: Any) -> Any:
        offered = skills_offered(ctx)
        return types.ListResourceTemplatesResult(resource_templates=[
            types.ResourceTemplate(uri_template=SCHEME + template, name=name,
                                   mime_type=mime, description=description)
            for template, name, mime, description in _SKILL_TEMPLATES if offered])

    async def read_resource(ctx: Any, params: Any) -> Any:
        uri = str(params.uri)
        if uri == DUE_RESOURCE:
            try:
                due = await anyio.to_thread.run_sync(read_due, ctx, limiter=workers)
            except AthenaError as exc:
                raise MCPError(code=_RESOURCE_NOT_FOUND, message=str(exc)) from None
            return types.ReadResourceResult(contents=[types.TextResourceContents(
                uri=uri, mime_type="application/json", text=due)])
        if uri.startswith(SCHEME):
            try:
                file = await anyio.to_thread.run_sync(skills.file, context(ctx), uri,
                                                      limiter=workers)
            except AthenaError as exc:
                raise MCPError(code=_RESOURCE_NOT_FOUND, message=str(exc)) from None
            return types.ReadResourceResult(contents=[types.TextResourceContents(
                uri=uri, mime_type=file.mime_type, text=file.text)])
        text = api_files(ctx).get(uri[len(API_RESOURCE_PREFIX):]) \
            if uri.startswith(API_RESOURCE_PREFIX) else None
        if text is None:
            raise MCPError(code=_RESOURCE_NOT_FOUND,
                           message=f"No resource {uri!r}; list them with resources/list.")
        return types.ReadResourceResult(contents=[types.TextResourceContents(
            uri=uri, mime_type=_MIME.get(uri[uri.rfind("."):], "text/plain"), text=text)])

    def read_due(ctx: Any) -> str:
        """``prospective.due()`` in the session's call context, as JSON for the model."""
        from athena_core import calls

        with calls.bind(context(ctx)):
            due = athena.api.get("prospective.due").call()
            due = athena.privacy.conceal_output(due, scope=athena.store.scope(None))  # type: ignore[union-attr]
        return json.dumps(due, ensure_ascii=False)

    # --- the skills extension: active procedures as Agent Skills ----------------------------

    skills = SkillLibrary(athena)

    def context(ctx: Any) -> CallContext:
        return sessions.for_request(ctx)[1].context

    def skills_offered(ctx: Any) -> bool:
        return SkillLibrary.offered_to(context(ctx), athena)

    async def skill_page(ctx: Any, cursor: str | None, limit: int
                         ) -> tuple[list[ServedSkill], str | None]:
        """A page of the skills a session is offered (none if its policy may not read
        procedures); a bad cursor is invalid params."""
        try:
            return await anyio.to_thread.run_sync(skills.page, context(ctx), cursor, limit,
                                                  limiter=workers)
        except AthenaError as exc:
            raise MCPError(code=_INVALID_PARAMS, message=str(exc)) from None

    async def list_skills(ctx: Any, params: Any) -> dict[str, Any]:
        found, next_cursor = await skill_page(ctx, params.cursor, _SKILLS_PAGE)
        return {"resultType": "complete", "skills": [skill.entry() for skill in found],
                **({"nextCursor": next_cursor} if next_cursor else {}), **_SKILL_CACHING}

    async def get_skill(ctx: Any, params: Any) -> dict[str, Any]:
        try:
            skill = await anyio.to_thread.run_sync(skills.get, context(ctx), params.uri,
                                                   limiter=workers)
        except AthenaError as exc:
            raise MCPError(code=_INVALID_PARAMS, message=str(exc)) from None
        return {"resultType": "complete", "skill": skill.entry(), **_SKILL_CACHING}

    class SkillUri(types.RequestParams):
        """``skills/get``'s params: the URI of a skill's ``SKILL.md``."""

        uri: str

    class AthenaServer(Server):
        """The SDK's server, declaring the skills extension in every protocol revision:
        under ``extensions`` (2026-07-28 on) and ``experimental`` (the handshake
        revisions, whose capabilities have no ``extensions``)."""

        def get_capabilities(self, notification_options: Any = None,
                             experimental_capabilities: dict[str, dict[str, Any]] | None = None,
                             extensions: dict[str, dict[str, Any]] | None = None, *,
                             protocol_version: str | None = None) -> Any:
            experimental = {SKILLS_EXTENSION: {}, **(experimental_capabilities or {})}
            return super().get_capabilities(notification_options, experimental, extensions,
                                            protocol_version=protocol_version)

    from importlib.metadata import version

    server = AthenaServer(
        "athena", version=version("athena-core"),
        instructions=CLASSIC_INSTRUCTIONS if classic else SERVER_INSTRUCTIONS,
        on_list_tools=list_tools, on_call_tool=call_tool, on_list_resources=list_resources,
        on_list_resource_templates=list_resource_templates, on_read_resource=read_resource)
    server.extensions[SKILLS_EXTENSION] = {}
    server.add_request_handler("skills/list", types.PaginatedRequestParams, list_skills)
    server.add_request_handler("skills/get", SkillUri, get_skill)
    return server


def serve_stdio(server: Any) -> None:
    """Serve ``server`` on stdin/stdout until the client disconnects."""
    import anyio
    from mcp.server.stdio import stdio_server

    async def run() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(run)


def serve_http(server: Any, athena: Athena, *, host: str, port: int, token: str | None,
               scope: str | None = None) -> None:
    """Serve ``server`` as streamable HTTP at ``http://HOST:PORT/mcp`` until stopped.

    Clients authenticate with a bearer token: one of ``[mcp.clients]`` (its scope and
    policy), or ``token``, the server's own, which works in ``scope`` (default ``[mcp]
    scope``) under ``[execution] policy``.
    """
    import uvicorn

    mcp = athena.config.mcp
    callers = [(client.token_sha256, _Caller.from_client(client))
               for client in mcp.clients.values()]
    if token:
        callers.append((_sha256(token), _Caller("ATHENA_SERVE_TOKEN", None,
                                                _default_scope(athena, scope))))
    app = server.streamable_http_app(
        streamable_http_path=_STREAM_PATH, host=host,
        session_idle_timeout=mcp.session_idle_seconds, max_sessions=None)  # the gate bounds
    gate = _HttpGate(app, server.session_manager, callers, host=host, port=port,
                     idle_seconds=mcp.session_idle_seconds, max_sessions=mcp.max_sessions)
    uvicorn.run(gate, host=host, port=port, log_level="warning")


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


_SessionKey = tuple[str, str]  # (caller identity, MCP session id)


class _HttpGate:
    """ASGI middleware in front of the SDK's streamable HTTP app.

    Every request must carry ``Authorization: Bearer TOKEN`` (the scheme in any
    case) with a known token, else 401. The caller it finds is handed to the SDK
    as the authenticated user, which binds each session to the caller that opened
    it (another token gets "Session not found"), and to the tool handlers, which
    take the session's scope and policy from it. Sessions are kept in a
    :class:`SessionTable` keyed by caller and session id: the gate ends idle ones
    and, to open one past ``max_sessions``, the least recently used idle one, as a
    client ends its own (``DELETE``), so the SDK forgets them too.
    """

    def __init__(self, app: Callable[..., Awaitable[None]], manager: Any,
                 callers: Iterable[tuple[str, _Caller]], *, host: str, port: int,
                 idle_seconds: float, max_sessions: int) -> None:
        from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
        from mcp.server.auth.provider import AccessToken

        self.app, self.manager = app, manager
        self._callers = [(digest.encode(), caller) for digest, caller in callers]
        self._users = {caller.identity: AuthenticatedUser(AccessToken(
            token=caller.identity, client_id=caller.identity, scopes=[]))
            for _, caller in self._callers}
        self.sessions: SessionTable[_SessionKey, _Session] = SessionTable(
            idle_seconds=idle_seconds, max_sessions=max_sessions)
        self._opening = 0
        # What a local server's DNS-rebinding protection expects of requests.
        self._host = (f"[{host}]" if ":" in host else host).encode() + f":{port}".encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if scope["type"] != "http":  # websockets and the rest: not served, fail closed
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"authorization", b"")
        caller = self._authenticate(given)
        if isinstance(caller, str):
            challenge = b'Bearer realm="athena"' + (b', error="invalid_token"' if given else b"")
            await _json_response(send, 401, {"error": caller},
                                 [(b"www-authenticate", challenge)])
            return
        user = self._users[caller.identity]
        scope = {**scope, "user": user, _CALLER: caller}
        session_id = headers.get(b"mcp-session-id", b"").decode("latin-1")
        if not session_id:
            await self._outside_a_session(caller, headers, scope, receive, send)
            return
        key = (caller.identity, session_id)
        session = self.sessions.get(key)
        if session is None:  # ended, or another client's: the SDK says "Session not found"
            await self.app(scope, receive, send)
            return
        with self.sessions.busy(key):
            status = await _status_of(self.app, {**scope, _SESSION: session}, receive, send)
        if scope["method"] == "DELETE" and status is not None and status < 400:
            self.sessions.remove(key)  # the client ended it

    def _authenticate(self, header: bytes) -> _Caller | str:
        """The caller a request's ``Authorization`` header names, or why there is none."""
        scheme, _, token = header.decode("latin-1").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "missing Authorization: Bearer TOKEN header"
        digest = _sha256(token.strip()).encode()
        found = None
        for expected, caller in self._callers:  # every one compared: constant time
            if hmac.compare_digest(digest, expected):
                found = found or caller
        return found or "unknown bearer token"

    async def _outside_a_session(self, caller: _Caller, headers: dict[bytes, bytes],
                                 scope: dict[str, Any], receive: Any, send: Any) -> None:
        """A request with no session id: ``initialize`` opens one, if there is room."""
        from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

        version = headers.get(b"mcp-protocol-version", b"").decode("latin-1")
        if scope["method"] != "POST" or (version and version not in HANDSHAKE_PROTOCOL_VERSIONS):
            await self.app(scope, receive, send)  # nothing to open (stateless versions)
            return
        for key in self.sessions.make_room(self._opening):
            await self._end(key)
        if len(self.sessions) + self._opening >= self.sessions.max_sessions:
            await _json_response(send, 503, {"error": f"{len(self.sessions)} sessions are "
                                             "busy; try again when one has finished"})
            return

        async def opened(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                session_id = dict(message.get("headers") or []).get(b"mcp-session-id")
                if session_id:
                    self.sessions.add((caller.identity, session_id.decode("latin-1")),
                                      _Session(caller))
            await send(message)

        self._opening += 1
        try:
            await self.app(scope, receive, opened)
        finally:
            self._opening -= 1

    async def _end(self, key: _SessionKey) -> None:
        """End a session in the SDK as its client would: ``DELETE`` with its id."""
        import anyio

        identity, session_id = key
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "DELETE", "scheme": "http", "path": _STREAM_PATH,
                 "raw_path": _STREAM_PATH.encode(), "root_path": "", "query_string": b"",
                 "headers": [(b"host", self._host), (b"mcp-session-id", session_id.encode())],
                 "client": None, "server": None, "user": self._users[identity]}
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}

        async def discard(message: dict[str, Any]) -> None:
            pass

        with anyio.CancelScope(shield=True):
            await self.manager.handle_request(scope, receive, discard)

    async def _lifespan(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The app's own lifespan, with the sweeper of idle sessions beside it."""
        import anyio

        async def sweep() -> None:
            every = max(0.05, min(30.0, self.sessions.idle_seconds / 4))
            while True:
                await anyio.sleep(every)
                for key in self.sessions.expired():
                    await self._end(key)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(sweep)
            try:
                await self.app(scope, receive, send)
            finally:
                tasks.cancel_scope.cancel()


async def _status_of(app: Callable[..., Awaitable[None]], scope: dict[str, Any], receive: Any,
                     send: Any) -> int | None:
    """Run ``app`` for one request; the HTTP status it answered with."""
    status: int | None = None

    async def watch(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        await send(message)

    await app(scope, receive, watch)
    return status


async def _json_response(send: Any, status: int, body: dict[str, Any],
                         headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), *headers]})
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})
