"""``athena serve``: Athena's tools and API tree over MCP (stdio, or HTTP on localhost).

Built on the low-level server of the official ``mcp`` SDK (2.x), imported only
here and only when serving: it costs about half a second. Tools come from
:class:`~athena_core.mcp.tools.ToolSession`; the API tree (the same files
programs read at ``/athena/apis``) is offered as resources ``athena://apis/PATH``.

Each MCP session gets its own :class:`ToolSession`, keyed by the HTTP session
id where there is one, else by the client's name (stdio serves one client per
process). Its scope is ``[mcp] scope`` or, with ``[mcp] scope_from_client``,
the client's name. Calls run one at a time in a worker thread, so a long
program never stalls the protocol loop.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from athena_core.mcp.tools import SERVER_INSTRUCTIONS, ToolSession

if TYPE_CHECKING:
    from athena_core.runtime import Athena

__all__ = ["API_RESOURCE_PREFIX", "build_server", "serve_http", "serve_stdio"]

API_RESOURCE_PREFIX = "athena://apis/"
_MIME = {".md": "text/markdown", ".py": "text/x-python"}
_RESOURCE_NOT_FOUND = -32002


class _Sessions:
    """The :class:`ToolSession` of each MCP session of one server."""

    def __init__(self, athena: Athena, *, classic: bool, scope: str | None,
                 scope_from_client: bool) -> None:
        self.athena, self.classic = athena, classic
        self.scope = scope or athena.config.mcp.scope or athena.config.memory.default_scope
        self.scope_from_client = scope_from_client or athena.config.mcp.scope_from_client
        self._by_key: dict[str, ToolSession] = {}

    def for_request(self, ctx: Any) -> ToolSession:
        params = ctx.session.client_params
        client = params.client_info.name if params is not None else None
        request = ctx.request  # the HTTP request; None on stdio
        http_session = request.headers.get("mcp-session-id") if request is not None else None
        key = http_session or f"client:{client}"
        session = self._by_key.get(key)
        if session is None:
            scope = _scope_of(client) if self.scope_from_client and client else self.scope
            session = self._by_key[key] = ToolSession(
                self.athena, scope=scope, classic=self.classic, client=client)
        return session

    def any(self) -> ToolSession:
        """A session for listing tools (their set does not depend on the session)."""
        if not self._by_key:
            return ToolSession(self.athena, scope=self.scope, classic=self.classic)
        return next(iter(self._by_key.values()))


def _scope_of(client: str) -> str:
    """A client's name as a scope: ``Claude Code`` -> ``claude-code``."""
    return re.sub(r"[^a-z0-9._-]+", "-", client.lower()).strip("-")[:255] or "client"


def build_server(athena: Athena, *, classic: bool = False, scope: str | None = None,
                 scope_from_client: bool = False) -> Any:
    """The low-level MCP ``Server`` for ``athena`` (not started)."""
    import anyio
    import mcp.types as types
    from mcp.server import Server
    from mcp.shared.exceptions import MCPError

    from athena_core.discovery.tree import render_tree
    from athena_core.execution.bridge import callable_operations

    sessions = _Sessions(athena, classic=classic, scope=scope,
                         scope_from_client=scope_from_client)
    one_at_a_time = anyio.CapacityLimiter(1)
    listing = sessions.any()

    def api_files() -> dict[str, str]:
        key = ("mcp-api-tree", athena.config.execution.policy)
        files = athena.api.cache.get(key)
        if files is None:
            policy = athena.execution.policy(None)
            files = athena.api.cache[key] = {
                path: text for path, text in render_tree(
                    callable_operations(athena.api, policy)).items()
                if not path.startswith(".")}
        return files  # type: ignore[no-any-return]

    async def list_tools(ctx: Any, params: Any) -> Any:
        return types.ListToolsResult(tools=[
            types.Tool(name=tool.name, description=tool.description,
                       input_schema=tool.input_schema)
            for tool in listing.tools.values()])

    async def call_tool(ctx: Any, params: Any) -> Any:
        session = sessions.for_request(ctx)
        result = await anyio.to_thread.run_sync(
            session.call, params.name, params.arguments, limiter=one_at_a_time)
        return types.CallToolResult(content=[types.TextContent(text=result.text)],
                                    structured_content=result.data, is_error=result.is_error)

    async def list_resources(ctx: Any, params: Any) -> Any:
        return types.ListResourcesResult(resources=[
            types.Resource(uri=API_RESOURCE_PREFIX + path, name=path,
                           mime_type=_MIME.get(path[path.rfind("."):], "text/plain"))
            for path in api_files()])

    async def read_resource(ctx: Any, params: Any) -> Any:
        uri = str(params.uri)
        text = api_files().get(uri[len(API_RESOURCE_PREFIX):]) \
            if uri.startswith(API_RESOURCE_PREFIX) else None
        if text is None:
            raise MCPError(code=_RESOURCE_NOT_FOUND,
                           message=f"No resource {uri!r}; list them with resources/list.")
        return types.ReadResourceResult(contents=[types.TextResourceContents(
            uri=uri, mime_type=_MIME.get(uri[uri.rfind("."):], "text/plain"), text=text)])

    from importlib.metadata import version

    return Server("athena", version=version("athena-core"), instructions=SERVER_INSTRUCTIONS,
                  on_list_tools=list_tools, on_call_tool=call_tool,
                  on_list_resources=list_resources, on_read_resource=read_resource)


def serve_stdio(server: Any) -> None:
    """Serve ``server`` on stdin/stdout until the client disconnects."""
    import anyio
    from mcp.server.stdio import stdio_server

    async def run() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(run)


def serve_http(server: Any, *, host: str, port: int, token: str) -> None:
    """Serve ``server`` as streamable HTTP at ``http://HOST:PORT/mcp``, bearer ``token``."""
    import uvicorn

    app = server.streamable_http_app(streamable_http_path="/mcp", host=host)
    uvicorn.run(_BearerToken(app, token), host=host, port=port, log_level="warning")


class _BearerToken:
    """ASGI middleware: every HTTP request must carry ``Authorization: Bearer <token>``."""

    def __init__(self, app: Callable[..., Awaitable[None]], token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"www-authenticate", b'Bearer realm="athena"')]})
                await send({"type": "http.response.body",
                            "body": b'{"error":"missing or wrong bearer token"}'})
                return
        await self.app(scope, receive, send)
