"""Two tenants in one data dir, and every door open to tenant B.

Tenant A's memories hold a secret token; tenant B is the attacker (or just a
neighbour). Doors: the host API, ``Athena.execute`` under each executor that can
run here, MCP code and classic mode over a real SDK client on stdio and on HTTP
(authenticated per client), and the CLI - each once with B's default policy and,
where the path has policies, once with a read-only one.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import secrets
from pathlib import Path
from typing import Any

import attrs
from hypothesis import HealthCheck, settings

from athena_core import Athena
from athena_core.config import Config
from athena_core.errors import SandboxUnavailableError
from athena_core.transfer import export_jsonl
from tests.invariants.doors import (
    CliDoor,
    Door,
    HostDoor,
    McpClassicDoor,
    McpCodeDoor,
    ProgramDoor,
    http_client,
    stdio_client,
)
from tests.test_mcp import http_server

#: The session name both tenants use: a session selector must not cross scopes.
SHARED_SESSION = "standup"
CONFIG = """\
[retrieval]
embedder = "hashing"

[plugins]
strict = true

[policies.readonly]
extends = "strict"
permissions = ["read"]

[mcp.clients.tenant-b]
token_sha256 = "{b}"
scope = "B"

[mcp.clients.tenant-b-readonly]
token_sha256 = "{b_readonly}"
scope = "B"
policy = "readonly"
"""


def examples(count: int) -> Any:
    """Hypothesis settings of the suite's generated cases: ``count`` of them, each calling
    through real doors (no deadline; the session-wide world is not reset between them)."""
    return settings(max_examples=count, deadline=None, suppress_health_check=[
        HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])


def canary(prefix: str = "zqx") -> str:
    """A token the full-text tokenizer keeps whole (lower case, ends in a digit)."""
    return f"{prefix}{secrets.token_hex(12)}7"


@attrs.define
class Tenant:
    scope: str
    token: str
    ids: dict[str, str] = attrs.field(factory=dict)
    #: Knowledge-graph facts by role (their ids are not memory ids).
    facts: dict[str, str] = attrs.field(factory=dict)
    #: The id of the tenant's reminder (prospective memory; not a memory id).
    task: str = ""

    @classmethod
    def seeded(cls, athena: Athena, scope: str) -> Tenant:
        """A tenant with a fact in two versions, a note with metadata and an episode."""
        tenant = cls(scope, canary())
        with athena.bound(scope=scope):
            first = athena.remember(f"{scope} deploy key {tenant.token}",
                                    metadata={"tenant": scope})
            tenant.ids["fact_v1"] = first
            tenant.ids["fact"] = athena.semantic.update(first, f"{scope} deploy key rotated "
                                                        f"{tenant.token}")
            tenant.ids["note"] = athena.remember(f"{scope} note {tenant.token}",
                                                 metadata={"tenant": scope, "kind": "note"})
            tenant.ids["episode"] = athena.episodic.record(
                f"{scope} standup mentioned {tenant.token}", session=SHARED_SESSION,
                actor="lead", context={"tenant": scope})
            graph = athena.graph
            graph.declare("lives_in", functional=True)
            graph.declare("secret")
            graph.entity(f"{scope} owner", "person")
            graph.entity("Vault", "place")
            tenant.facts["home"] = graph.relate(f"{scope} owner", "lives_in", "Vault")["id"]
            tenant.facts["secret"] = graph.observe(f"{scope} owner", "secret",
                                                   tenant.token)["id"]
            tenant.task = athena.prospective.add(
                f"{scope} rotate the key {tenant.token}", kind="reminder",
                cron="0 9 29 2 *", when={"keyword": "standup"}, once=False)["id"]
        return tenant


def runnable_executors(athena: Athena) -> list[str]:
    """The executors installed that can run here (CI installs bwrap, srt, restrictedpython)."""
    names = athena.plugins.registry("executor").names()
    reasons: dict[str, str | None] = {}
    for name in names:
        try:
            athena.execution.executor(name)
            reasons[name] = None
        except SandboxUnavailableError as exc:
            reasons[name] = exc.message
    required = {"bwrap", "restrictedpython"} if needs_all_doors() else set()
    if os.environ.get("ATHENA_REQUIRE_SRT") == "1":
        required.add("srt")
    missing = {name: reasons.get(name, "not installed") for name in required
               if reasons.get(name, "not installed") is not None}
    assert not missing, f"executors the suite must drive cannot run here: {missing}"
    return [name for name, reason in reasons.items() if reason is None]


class World:
    """The data dir, its tenants, and B's doors (built lazily, closed by :meth:`close`)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        home.mkdir(parents=True)
        self.tokens = {"default": secrets.token_urlsafe(24),
                       "readonly": secrets.token_urlsafe(24)}
        (home / "athena.toml").write_text(CONFIG.format(
            b=hashlib.sha256(self.tokens["default"].encode()).hexdigest(),
            b_readonly=hashlib.sha256(self.tokens["readonly"].encode()).hexdigest()),
            encoding="utf-8")
        self.athena = self.open()
        self.a = Tenant.seeded(self.athena, "A")
        self.b = Tenant.seeded(self.athena, "B")
        self.executors = runnable_executors(self.athena)
        self._instances: list[Athena] = [self.athena]
        self._stack = contextlib.ExitStack()
        self._doors: dict[str, list[Door]] = {}

    def open(self, **env: str) -> Athena:
        return Athena.open(config=Config.load(self.home, env=env))

    def snapshot(self, scope: str) -> str:
        """Everything of ``scope``, as an export (ids, texts, versions, timestamps)."""
        out = io.StringIO()
        export_jsonl(self.athena, out, scope=scope)
        return out.getvalue()

    def doors(self, policy: str = "default", *, scope: str = "B") -> list[Door]:
        """Every door, bound to ``scope`` (B) under ``policy`` (``default`` or ``readonly``).

        The CLI has no policy: it is among the default doors only.
        """
        key = f"{scope}/{policy}"
        if key not in self._doors:
            self._doors[key] = self._open_doors(policy, scope)
        return self._doors[key]

    def _open_doors(self, policy: str, scope: str) -> list[Door]:
        chosen = None if policy == "default" else policy
        doors: list[Door] = [HostDoor(self.athena, scope, chosen)]
        for name in self.executors:
            instance = self.open(ATHENA_EXECUTION_EXECUTOR=name)
            self._instances.append(instance)
            doors.append(ProgramDoor(instance, scope, name, chosen))
        # stdio serves one client with the server's own policy.
        stdio_env = {} if chosen is None else {"ATHENA_EXECUTION_POLICY": chosen}
        for mode in ("code", "classic"):
            classic = ["--classic"] if mode == "classic" else []
            client = stdio_client(self.home, "--scope", scope, *classic, env=stdio_env)
            doors.append(self._mcp_door(client, f"mcp-{mode}[stdio]", mode))
            if scope == "B":
                url = self._stack.enter_context(http_server(self.home, None, *classic))
                client = http_client(url, self.tokens[policy])
                doors.append(self._mcp_door(client, f"mcp-{mode}[http]", mode))
        if chosen is None:
            doors.append(CliDoor(self.home, scope))
        return doors

    def _mcp_door(self, client: Any, name: str, mode: str) -> Door:
        door = McpCodeDoor(client, name) if mode == "code" else McpClassicDoor(
            client, name, self.athena)
        self._stack.callback(door.close)
        return door

    def close(self) -> None:
        self._stack.close()
        for instance in self._instances:
            instance.close()


def needs_all_doors() -> bool:
    """CI runs every door; elsewhere, doors whose tools are missing are left out."""
    return os.environ.get("ATHENA_REQUIRE_SANDBOX") == "1"
