"""The token economy of Athena's MCP server: what an agent's context holds after doing
realistic memory tasks in code mode (one ``run_code`` program per task) and in classic
mode (one tool per operation, as a conventional memory server offers).

Each task is done both ways against a real Athena (default config, bubblewrap sandbox),
each on its own fresh copy of one seeded data dir, and both answers must be equal. The
tokens counted, with a real tokenizer (``quicktok``, offline), are everything that enters
the context of the conversation doing the task:

- the always-loaded surface, once per task: the server instructions and every tool as
  ``tools/list`` sends it (name, description, JSON input schema; compact JSON);
- every tool call: the tool's name and its arguments as JSON;
- every tool result: its text.

Not counted, since they are the same in both modes: the question, the agent's own
reasoning and its final answer, and the framing a client puts around messages.

Each task is also **rerun through a saved procedure**: its program saved as the procedure
``tokens/<task>`` and called with one short ``run_code`` program; what the agent writes
then is compared with writing the program again, and the answer must be the same.

    python benchmarks/tokens.py                        # the table; about 10 seconds
    python benchmarks/tokens.py --json FILE            # the table, plus JSON in FILE
    python benchmarks/tokens.py --json                 # JSON on stdout instead of the table
    python benchmarks/tokens.py --encoding cl100k_base
    python benchmarks/tokens.py --tasks forget-customer,oncall-handover

Progress goes to stderr. The exit status is 1 when any task's two answers differ or a
task fails in either mode. Needs ``pip install -e .[bench]`` (the tokenizer).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
from timing import note, output

__all__ = ["ENCODINGS", "TARGETS", "TASKS", "measure", "render", "run_child"]

ENCODINGS = ("o200k_base", "cl100k_base")
#: name -> (description, limit): the saving is at least, the surface at most, the limit.
TARGETS = {
    "saving": ("fewer tokens in all, code vs classic", 90.0),
    "surface": ("always-loaded surface, code mode", 1000),
    "rerun": ("fewer tokens written, rerun via a saved procedure", 80.0),
}
#: "Today" for the tasks; the seeded history is the eight weeks before it.
TODAY = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
HISTORY_WEEKS = 8
#: The classic agent's page size, larger than any listing of the tasks: what the server
#: cuts to ``[mcp] max_response_chars``, the agent continues from a cursor (Agent.listing).
LIMIT = 1000


# --- counting ----------------------------------------------------------------------------


def _compact(value: Any) -> str:
    """JSON as MCP clients and Athena's tools send it: compact, UTF-8 kept."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Tokens:
    """A tokenizer from ``quicktok`` (exact BPE, data shipped in the wheel: no download)."""

    def __init__(self, encoding: str) -> None:
        try:
            import quicktok
        except ImportError:
            raise SystemExit("benchmarks/tokens.py needs the quicktok tokenizer: "
                             "pip install -e .[bench]") from None
        self.encoding = encoding
        self.version = quicktok.__version__
        self._enc = quicktok.get_encoding(encoding)

    def __call__(self, text: str) -> int:
        return int(self._enc.count(text))  # ordinary text: special tokens are not parsed


def surface(session: Any, count: Tokens) -> dict[str, Any]:
    """The tokens a client loads before the first call: instructions and tool definitions.

    Tools are serialised with the MCP SDK's own types, as ``tools/list`` sends them.
    """
    import mcp.types as types

    from athena_core.mcp.tools import CLASSIC_INSTRUCTIONS, SERVER_INSTRUCTIONS

    tools = {name: count(types.Tool(name=tool.name, description=tool.description,
                                    input_schema=tool.input_schema)
                         .model_dump_json(by_alias=True, exclude_none=True))
             for name, tool in session.tools.items()}
    instructions = count(CLASSIC_INSTRUCTIONS if session.classic else SERVER_INSTRUCTIONS)
    return {"instructions": instructions, "tools": tools,
            "total": instructions + sum(tools.values())}


# --- the seeded store ----------------------------------------------------------------------

SERVICES = {"payments": "money", "billing": "money", "checkout": "shop", "inventory": "shop",
            "search": "discovery", "recommendations": "discovery", "auth": "platform",
            "gateway": "platform", "notifications": "platform"}
PEOPLE = {"money": ["Dana Ortiz", "Priya Shah", "Tom Becker", "Ravi Patel"],
          "shop": ["Lena Vogel", "Marcus Reed", "Aiko Tanaka", "Sam Okafor"],
          "discovery": ["Mei Chen", "Jonas Berg", "Fatima Noor", "Leo Rossi"],
          "platform": ["Nina Kowalski", "Omar Haddad", "Grace Liu", "Ivan Petrov"]}
CUSTOMERS = {"acme": "Acme Corp", "globex": "Globex", "initech": "Initech",
             "umbrella": "Umbrella Health", "hooli": "Hooli", "stark": "Stark Industries",
             "wayne": "Wayne Enterprises", "wonka": "Wonka Foods", "soylent": "Soylent",
             "tyrell": "Tyrell Labs"}
_CONFIG = {"timeout": ("{}s", (5, 10, 15, 30, 60)), "retries": ("{}", (0, 1, 2, 3, 5)),
           "pool_size": ("{}", (10, 20, 30, 50, 80)),
           "rate_limit": ("{} requests/s", (50, 100, 200, 500, 1000)),
           "log_level": ("{}", ("debug", "info", "warning"))}
_SYMPTOMS = ("elevated 5xx error rate", "p99 latency above the SLO", "queue backlog growing",
             "database connection pool exhausted", "certificate expiry warnings",
             "memory leak in worker pods", "cache hit rate collapsed",
             "third-party API timeouts")
_CAUSES = ("a slow query after the last migration", "an expired TLS certificate",
           "a retry storm from a client", "a bad feature flag", "a noisy neighbour on the node",
           "a leaked connection in the new release")
_MITIGATIONS = ("rolled back the release", "restarted the worker pods", "raised the pool size",
                "disabled the feature flag", "failed over to the replica",
                "renewed the certificate")
_DEPLOY_FAILURES = ("health checks failed after rollout", "error rate above 5% within minutes",
                    "database migration timed out", "pods crash-looping on start",
                    "p99 latency doubled", "config validation failed")
_FIXES = ("rolled back to {previous}", "raised the connection pool from 20 to 50 and redeployed",
          "reverted the feature flag and redeployed", "shipped hotfix {hotfix}",
          "re-ran the migration with a longer lock timeout")
_ALERTS = ("HighErrorRate", "HighLatency", "PodRestarts", "DiskPressure", "QueueBacklog",
           "CertExpiry")
_SUITES = ("unit", "integration", "e2e", "contract")
_ISSUES = (("cannot download invoices", "billing"), ("SSO login loops", "auth"),
           ("search results miss new products", "search"), ("duplicate charge on card",
                                                             "payments"),
           ("webhook deliveries delayed", "notifications"), ("API rate limit too low", "gateway"),
           ("password reset emails not arriving", "notifications"),
           ("checkout times out on mobile", "checkout"), ("stock counts are wrong", "inventory"),
           ("recommendations show sold-out items", "recommendations"))
_RUNBOOK = (("5xx errors spike after a deploy", "roll back with `deployctl rollback {s}`"),
            ("latency rises above the SLO", "check the database pool dashboard, then scale out"),
            ("the queue backlog grows", "add consumers with `deployctl scale {s}-worker +2`"),
            ("certificates are about to expire", "run `certctl renew {s}`"),
            ("pods restart in a loop", "look for OOM kills and raise the memory limit"))
_NOTES = {
    "perf": ("p95 latency regressed after the ORM upgrade", "connection pool exhaustion under "
             "peak load", "N+1 queries in the listing endpoint", "cold starts add 800 ms",
             "the nightly batch spends most of its time serialising JSON",
             "cache warm-up after a deploy takes five minutes"),
    "security": ("tokens were logged at debug level", "signing keys rotate every 90 days",
                 "admin endpoints lack rate limiting", "dependency scan flags an old TLS library"),
    "cost": ("the staging cluster runs all weekend", "log retention costs more than compute",
             "reserved instances expire next quarter"),
    "ux": ("users miss the save button on mobile", "error messages show internal codes",
           "the empty state needs a call to action"),
    "tech-debt": ("two HTTP clients are in use", "the settings module is 3,000 lines long",
                  "feature flags older than a year should go"),
    "migration": ("move the queue to the managed broker", "the Postgres 16 upgrade needs a "
                  "maintenance window", "old API v1 clients still call us"),
    "reliability": ("connection pool exhaustion caused the last two pages", "retries lack "
                    "jitter", "the health check does not test the database"),
    "flaky-test": ("the e2e checkout test depends on wall-clock time", "integration tests share "
                   "one database", "contract tests time out on slow runners"),
}
_CUSTOMER_FACTS = ("{name}'s account manager is {person}.",
                   "{name} is on the {plan} plan, renewing on {renewal}.",
                   "{name} uses {svc1} and {svc2}.",
                   "{name} pays invoices in {currency}, net {days} days.",
                   "{name} asked for {feature}.")
_FEATURES = ("SSO with their own identity provider", "a data export API", "EU data residency",
             "audit logs for admins", "higher API rate limits")
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _ulid(stamp: datetime, rnd: random.Random) -> str:
    """An id in Athena's layout (milliseconds, then 80 bits), reproducible for a seed."""
    value = int(stamp.timestamp() * 1000) << 80 | rnd.getrandbits(80)
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def _iso(stamp: datetime) -> str:
    return stamp.isoformat()


class _World:
    """Records of Athena's export format for a synthetic engineering organisation."""

    def __init__(self, seed: int, scope: str) -> None:
        self.rnd = random.Random(f"tokens/{seed}")
        self.scope = scope
        self.records: list[dict[str, Any]] = []
        self.start = TODAY - timedelta(weeks=HISTORY_WEEKS)

    def _add(self, layer: str, text: str, stamp: datetime, metadata: dict[str, Any],
             fields: dict[str, Any], *, id_: str | None = None, valid_to: datetime | None = None
             ) -> None:
        self.records.append({
            "id": id_ or _ulid(stamp, self.rnd), "layer": layer, "scope": self.scope,
            "text": text, "metadata": metadata, "importance": 0.5, "created_at": _iso(stamp),
            "updated_at": _iso(valid_to or stamp), "valid_from": _iso(stamp),
            "valid_to": _iso(valid_to) if valid_to else None, "fields": fields})

    def fact(self, versions: list[tuple[datetime, str, str | None]],
             metadata: dict[str, Any]) -> None:
        """One fact and its later versions: ``(when, text, why it replaced the one before)``."""
        ids = [_ulid(stamp, self.rnd) for stamp, _, _ in versions]
        for number, (stamp, text, _) in enumerate(versions):
            after = versions[number + 1] if number + 1 < len(versions) else None
            self._add("semantic", text, stamp, metadata, {
                "lineage_id": ids[0], "version": number + 1,
                "superseded_by": ids[number + 1] if after else None,
                "supersede_reason": after[2] if after else None},
                id_=ids[number], valid_to=after[0] if after else None)

    def event(self, stamp: datetime, text: str, kind: str, context: dict[str, Any], *,
              outcome: str | None = None, session: str | None = None) -> None:
        self._add("episodic", text, stamp, context,
                  {"kind": kind, "outcome": outcome, "session": session})

    def moment(self, day: datetime, first_hour: int = 8, last_hour: int = 19) -> datetime:
        return day + timedelta(hours=self.rnd.randint(first_hour, last_hour - 1),
                               minutes=self.rnd.randint(0, 59))

    def anytime(self) -> datetime:
        """A moment on a weekday of the history or of the 30 days before it."""
        rnd = self.rnd
        while True:
            day = (self.start - timedelta(days=30)
                   + timedelta(days=rnd.randrange((HISTORY_WEEKS * 7) + 30)))
            if day.weekday() < 5:
                return self.moment(day)

    # --- semantic memory -----------------------------------------------------------------

    def facts(self) -> None:
        rnd = self.rnd
        founding = self.start - timedelta(days=60)
        for service, team in SERVICES.items():
            lead = rnd.choice(PEOPLE[team])
            self.fact([(self.moment(founding), f"{service} is owned by team {team}; "
                        f"tech lead {lead}.", None)],
                      {"topic": "ownership", "service": service, "team": team})
            versions: list[tuple[datetime, str, str | None]] = []
            for week in range(HISTORY_WEEKS):
                if week and rnd.random() < 0.45:
                    continue
                primary, secondary = rnd.sample(PEOPLE[team], 2)
                monday = self.start + timedelta(weeks=week, hours=9)
                versions.append((monday, f"On-call for {service}: {primary} (primary), "
                                         f"{secondary} (secondary).",
                                 "weekly rotation" if versions else None))
            self.fact(versions, {"topic": "oncall", "service": service, "team": team})
            for key, (form, values) in _CONFIG.items():
                chosen = rnd.sample(values, min(3, len(values)))
                changes = rnd.choices((0, 1, 2), weights=(70, 20, 10))[0]
                stamps = sorted(self.anytime() for _ in range(changes + 1))
                self.fact([(stamp, f"{service} config: {key} = {form.format(value)}",
                            f"tuned after {rnd.choice(_SYMPTOMS)}" if number else None)
                           for number, (stamp, value) in enumerate(zip(stamps, chosen,
                                                                       strict=False))],
                          {"topic": "config", "service": service, "key": key})
            for symptom, action in _RUNBOOK:
                self.fact([(self.anytime(), f"Runbook for {service}: if {symptom}, "
                            f"{action.format(s=service)}.", None)],
                          {"topic": "runbook", "service": service})
        for key, name in CUSTOMERS.items():
            svc1, svc2 = rnd.sample(sorted(SERVICES), 2)
            details = {"name": name, "person": rnd.choice(PEOPLE["money"] + PEOPLE["shop"]),
                       "plan": rnd.choice(("Team", "Business", "Enterprise")),
                       "renewal": f"2027-{rnd.randint(1, 12):02d}-01", "svc1": svc1,
                       "svc2": svc2, "currency": rnd.choice(("EUR", "USD", "GBP")),
                       "days": rnd.choice((15, 30, 45)), "feature": rnd.choice(_FEATURES)}
            for template in _CUSTOMER_FACTS:
                self.fact([(self.anytime(), template.format(**details), None)],
                          {"topic": "customer", "customer": key})
        tags = sorted(_NOTES)
        for number in range(480):
            service = rnd.choice(sorted(SERVICES))
            team = SERVICES[service]
            tag = rnd.choice(tags)
            chosen = sorted({tag, *rnd.sample(tags, rnd.choice((0, 0, 1, 2)))})
            text = (f"{service}: {rnd.choice(_NOTES[tag])} (noted by "
                    f"{rnd.choice(PEOPLE[team])}, OPS-{3000 + number}).")
            self.fact([(self.anytime(), text, None)],
                      {"topic": "note", "service": service, "team": team, "tags": chosen})

    # --- episodic memory -----------------------------------------------------------------

    def events(self) -> None:
        rnd = self.rnd
        versions = {service: [1, rnd.randint(0, 9), 0] for service in SERVICES}
        failure_rate = {service: rnd.uniform(0.05, 0.25) for service in SERVICES}
        flaky = {(service, suite): rnd.choice((0.02, 0.05, 0.1, 0.2, 0.35))
                 for service in SERVICES for suite in _SUITES}
        customers = sorted(CUSTOMERS)
        customer_weights = [rnd.randint(1, 6) for _ in customers]
        incident, deploy, ticket = 1000, 0, 5000
        for offset in range(HISTORY_WEEKS * 7):
            day = self.start + timedelta(days=offset)
            weekday = day.weekday() < 5
            recent = TODAY - day <= timedelta(days=10)
            for service, team in SERVICES.items():
                if weekday and rnd.random() < 0.45:
                    deploy += 1
                    major, minor, patch = versions[service]
                    previous = f"v{major}.{minor}.{patch}"
                    if rnd.random() < 0.3:
                        minor, patch = minor + 1, 0
                    else:
                        patch += 1
                    versions[service] = [major, minor, patch]
                    version = f"v{major}.{minor}.{patch}"
                    at, session = self.moment(day, 9, 17), f"deploy-{deploy}"
                    context = {"service": service, "version": version, "env": "production",
                               "deployer": rnd.choice(PEOPLE[team])}
                    if rnd.random() < failure_rate[service]:
                        self.event(at, f"Deploy of {service} {version} failed: "
                                       f"{rnd.choice(_DEPLOY_FAILURES)}", "deploy", context,
                                   outcome="failure", session=session)
                        fix = rnd.choice(_FIXES).format(previous=previous,
                                                        hotfix=f"v{major}.{minor}.{patch + 1}")
                        self.event(at + timedelta(minutes=rnd.randint(15, 240)),
                                   f"Fixed the failed {service} {version} deploy: {fix}",
                                   "remediation", {"service": service, "version": version},
                                   outcome="success", session=session)
                    else:
                        self.event(at, f"Deployed {service} {version} to production",
                                   "deploy", context, outcome="success", session=session)
                if rnd.random() < 0.16:
                    self._incident(day, service, team, f"INC-{incident}", recent)
                    incident += 1
            for _ in range(rnd.randint(3, 9)):
                service = rnd.choice(sorted(SERVICES))
                alert = rnd.choice(_ALERTS)
                self.event(self.moment(day, 0, 24), f"Alert {alert} fired for {service}",
                           "alert", {"service": service, "alert": alert})
            for _ in range(rnd.randint(6, 14) if weekday else rnd.randint(0, 3)):
                service, suite = rnd.choice(sorted(SERVICES)), rnd.choice(_SUITES)
                branch = "main" if rnd.random() < 0.65 else f"feature/{rnd.randint(100, 999)}"
                failed = rnd.random() < flaky[service, suite]
                self.event(self.moment(day, 0, 24),
                           f"CI {suite} tests on {service}@{branch}: "
                           f"{'failed' if failed else 'passed'}", "ci",
                           {"service": service, "suite": suite, "branch": branch},
                           outcome="failure" if failed else "success")
            for _ in range(rnd.randint(2, 6) if weekday else rnd.randint(0, 1)):
                ticket += 1
                customer = rnd.choices(customers, weights=customer_weights)[0]
                issue, service = rnd.choice(_ISSUES)
                pending = rnd.random() < (0.6 if TODAY - day <= timedelta(days=7) else 0.05)
                self.event(self.moment(day), f"Ticket T-{ticket} from {CUSTOMERS[customer]}: "
                                             f"{issue}", "support_ticket",
                           {"customer": customer, "service": service, "ticket": f"T-{ticket}"},
                           outcome="pending" if pending else "solved")
            if day.weekday() == 1:
                for team in PEOPLE:
                    self.event(day + timedelta(hours=10), f"{team} weekly sync: reviewed "
                               f"incidents, {rnd.choice(_NOTES['tech-debt'])}", "meeting",
                               {"team": team})

    def _incident(self, day: datetime, service: str, team: str, name: str, recent: bool
                  ) -> None:
        rnd = self.rnd
        at = self.moment(day, 0, 24)
        severity = rnd.choices(("sev1", "sev2", "sev3"), weights=(10, 30, 60))[0]
        symptom = rnd.choice(_SYMPTOMS)
        still_open = recent and rnd.random() < 0.45
        session = f"inc-{name}"
        for _ in range(rnd.randint(1, 4)):
            alert = rnd.choice(_ALERTS)
            self.event(at - timedelta(minutes=rnd.randint(5, 110)),
                       f"Alert {alert} fired for {service}", "alert",
                       {"service": service, "alert": alert})
        context = {"service": service, "severity": severity, "incident": name}
        self.event(at, f"{severity.upper()} incident {name} on {service}: {symptom}",
                   "incident", context, outcome="open" if still_open else "resolved",
                   session=session)
        updates = [(5, f"{name}: paged {rnd.choice(PEOPLE[team])}"),
                   (rnd.randint(20, 60), f"{name}: cause identified, {rnd.choice(_CAUSES)}")]
        if not still_open or rnd.random() < 0.5:
            updates.append((rnd.randint(61, 150), f"{name}: mitigated, "
                                                  f"{rnd.choice(_MITIGATIONS)}"))
        if not still_open:
            updates.append((rnd.randint(151, 360), f"{name}: resolved, postmortem scheduled"))
        for minutes, text in updates:
            self.event(at + timedelta(minutes=minutes), text, "incident_update",
                       {"service": service, "incident": name}, session=session)


def seed_store(home: Path, seed: int) -> dict[str, Any]:
    """Fill an empty data dir with the synthetic organisation (``athena import``'s code path).

    Ids and timestamps come from the seed, so the store, and every tool output over it,
    is the same on every run.
    """
    import io

    from athena_core import Athena
    from athena_core.transfer import FORMAT, VERSION, import_jsonl

    with Athena.open(home) as athena:
        scope = athena.config.memory.default_scope
        world = _World(seed, scope)
        world.facts()
        world.events()
        records = sorted(world.records, key=lambda r: (r["created_at"], r["id"]))
        lines = [_compact({"format": FORMAT, "version": VERSION})]
        lines += [_compact(record) for record in records]
        report = import_jsonl(athena, io.BytesIO(("\n".join(lines) + "\n").encode()))
        athena.checkpoint()
    if report.imported != len(records):
        raise RuntimeError(f"imported {report.imported} of {len(records)} seeded memories")
    kinds = Counter(r["fields"]["kind"] for r in records if r["layer"] == "episodic")
    facts = [r for r in records if r["layer"] == "semantic"]
    return {"memories": len(records), "scope": scope,
            "facts": sum(r["valid_to"] is None for r in facts),
            "superseded_fact_versions": sum(r["valid_to"] is not None for r in facts),
            "events": sum(kinds.values()), "event_kinds": dict(sorted(kinds.items())),
            "from": _iso(world.start), "today": _iso(TODAY)}


# --- agents ----------------------------------------------------------------------------------


class TaskFailed(Exception):
    """A tool call failed, or a program did: a bug in the task or in Athena."""


def _read(text: str) -> tuple[Any, list[str] | None]:
    """A classic-mode result's text as the agent reads it: the value, and what was cut.

    Whole, the text is the operation's JSON; cut to ``[mcp] max_response_chars``, it is
    an object: the first items under ``result``, then ``truncated``, ``cut`` and ``hint``.
    """
    value = json.loads(text)
    if isinstance(value, dict) and value.get("truncated") is True and "cut" in value:
        if "result" not in value:  # only a preview of the whole text: nothing to go on from
            raise TaskFailed(f"a result was cut to a preview: {value['cut']}")
        return value["result"], [str(note) for note in value["cut"]]
    return value, None


class Agent:
    """One conversation: calls tools through a ToolSession and counts what they cost."""

    def __init__(self, session: Any, count: Tokens) -> None:
        self.session = session
        self.count = count
        self.calls: list[dict[str, Any]] = []

    def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        result = self.session.call(tool, arguments)
        self.calls.append({"tool": tool,
                           "input": self.count(tool) + self.count(_compact(arguments)),
                           "output": self.count(result.text)})
        if result.is_error:
            raise TaskFailed(f"{tool} failed: {result.text[:2000]}")
        return result

    def tool(self, name: str, **arguments: Any) -> Any:
        """A classic-mode call; the result as the agent reads it (the JSON of its text).

        A result the server cut to ``[mcp] max_response_chars`` is not the operation's
        value: its text is an object holding the first items under ``result`` and saying
        what was cut. An agent that needs everything must page (:meth:`listing`).
        """
        value, cut = _read(self.call(name, arguments).text)
        if cut is not None:
            raise TaskFailed(f"{name} was cut by the server ({'; '.join(cut)}): "
                             "it needs paging")
        return value

    def listing(self, name: str, **arguments: Any) -> list[Any]:
        """Every item of a classic-mode listing, as a client reading the results gets it.

        A page the server cut (or one that filled ``limit``/``k``) goes on from its last
        shown item's ``cursor``, which every event and fact carries; the cut items are
        asked for again, the shown ones are not.
        """
        size = arguments.get("limit", arguments.get("k"))
        items: list[Any] = []
        while True:
            page, cut = _read(self.call(name, arguments).text)
            items += page
            if cut is None and (size is None or len(page) < size):
                return items
            cursor = page[-1].get("cursor") if page else None
            if cursor is None:
                why = "; ".join(cut) if cut is not None else f"it returned {len(page)} items"
                raise TaskFailed(f"{name} needs paging ({why}) but gives no cursor")
            arguments = {**arguments, "cursor": cursor}

    def run(self, program: str) -> Any:
        """A code-mode call: one ``run_code``; the value of the program's last expression."""
        data = self.call("run_code", {"code": program}).data or {}
        if data.get("stderr"):
            raise TaskFailed(f"the program wrote to stderr: {data['stderr'][:2000]}")
        return data.get("value")

    def tokens(self, surface_total: int) -> dict[str, Any]:
        inputs = sum(c["input"] for c in self.calls)
        outputs = sum(c["output"] for c in self.calls)
        # Each call is a turn of the agent, and so is the final answer; a turn reads the
        # whole context so far again (what a client without prompt caching pays for).
        context, reread = surface_total, 0
        for call in self.calls:
            reread += context
            context += call["input"] + call["output"]
        reread += context
        return {"calls": len(self.calls), "surface": surface_total, "inputs": inputs,
                "outputs": outputs, "total": surface_total + inputs + outputs,
                "reread": reread, "per_call": self.calls}


# --- tasks -----------------------------------------------------------------------------------


@attrs.frozen
class Task:
    """A question, done as classic tool calls (Python reading their JSON) and as one program."""

    name: str
    question: str
    classic: Callable[[Agent], Any]
    program: str
    #: What an agent would ask search_api before writing the program.
    search: str
    #: Whether list order is part of the answer (otherwise lists are compared as multisets).
    ordered: bool = False


TASKS: list[Task] = []


def task(name: str, question: str, *, program: str, search: str, ordered: bool = False
         ) -> Callable[[Callable[[Agent], Any]], Callable[[Agent], Any]]:
    def register(classic: Callable[[Agent], Any]) -> Callable[[Agent], Any]:
        TASKS.append(Task(name, question, classic, textwrap.dedent(program).strip(), search,
                          ordered))
        return classic
    return register


LAST_WEEK = {"start": "2026-10-26", "end": "2026-11-02"}
OCTOBER = {"start": "2026-10-01", "end": "2026-11-01"}


def _top(counts: Counter[str]) -> tuple[str, int]:
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))


@task("failed-deploys-last-week",
      "Which deployments failed last week (2026-10-26 to 2026-11-01), and what fixed them?",
      search="events of one kind between two dates",
      program="""
        deploys = athena.episodic.timeline(kind="deploy", start="2026-10-26", end="2026-11-02",
                                           limit=1000)
        fixes = {e.session: e.text for e in athena.episodic.timeline(
            kind="remediation", start="2026-10-26", limit=1000)}
        sorted([d.metadata["service"], d.metadata["version"], fixes.get(d.session)]
               for d in deploys if d.outcome == "failure")
        """)
def _failed_deploys(agent: Agent) -> Any:
    deploys = agent.listing("episodic_timeline", kind="deploy", **LAST_WEEK, limit=LIMIT)
    failed = [d for d in deploys if d["outcome"] == "failure"]
    fixes = agent.listing("episodic_timeline", kind="remediation",
                          start=LAST_WEEK["start"], limit=LIMIT)
    fix_of = {e["session"]: e["text"] for e in fixes}
    return sorted([d["metadata"]["service"], d["metadata"]["version"], fix_of.get(d["session"])]
                  for d in failed)


@task("oncall-handover",
      "Make Grace Liu the primary on-call for payments (the secondary stays), then show the "
      "history of that fact.",
      search="find a fact, replace it with a new version, show its history", ordered=True,
      program="""
        import re
        hit = athena.recall("on-call payments", k=1,
                            metadata={"topic": "oncall", "service": "payments"})[0]
        secondary = re.search(r", (.+) \\(secondary\\)", hit.text).group(1)
        new = athena.semantic.update(
            hit.id, f"On-call for payments: Grace Liu (primary), {secondary} (secondary).",
            reason="Grace Liu takes over as primary")
        [v.text for v in athena.semantic.history(new)]
        """)
def _oncall_handover(agent: Agent) -> Any:
    hit = agent.tool("recall", query="on-call payments", k=1,
                     metadata={"topic": "oncall", "service": "payments"})[0]
    secondary = re.search(r", (.+) \(secondary\)", hit["text"]).group(1)  # type: ignore[union-attr]
    new = agent.tool("semantic_update", id=hit["id"],
                     text=f"On-call for payments: Grace Liu (primary), {secondary} (secondary).",
                     reason="Grace Liu takes over as primary")
    return [v["text"] for v in agent.tool("semantic_history", id=new)]


@task("incidents-per-service-october", "How many incidents did each service have in October?",
      search="events of one kind between two dates",
      program="""
        from collections import Counter
        incidents = athena.episodic.timeline(kind="incident", start="2026-10-01",
                                             end="2026-11-01", limit=1000)
        dict(Counter(e.metadata["service"] for e in incidents))
        """)
def _incidents_per_service(agent: Agent) -> Any:
    incidents = agent.listing("episodic_timeline", kind="incident", **OCTOBER, limit=LIMIT)
    return dict(Counter(e["metadata"]["service"] for e in incidents))


@task("perf-notes-by-service", "Find the notes tagged perf and count them by service.",
      search="list all current facts",
      program="""
        from collections import Counter
        notes = [f for f in athena.semantic.facts(limit=10000) if f.metadata.get("topic") == "note"]
        dict(Counter(f.metadata["service"] for f in notes if "perf" in f.metadata["tags"]))
        """)
def _perf_notes(agent: Agent) -> Any:
    # Tags are a list, which the metadata filter tests with "contains".
    notes = agent.listing("semantic_facts", limit=LIMIT,
                          metadata={"topic": "note", "tags": {"contains": "perf"}})
    return dict(Counter(f["metadata"]["service"] for f in notes))


@task("forget-customer", "Forget everything about the customer Globex, and confirm that "
      "nothing about them is left.",
      search="delete memories about a customer",
      program="""
        ids = [h.id for h in athena.recall("Globex", k=1000, metadata={"customer": "globex"})]
        forgotten = athena.forget(ids)
        left = athena.recall("Globex", k=1000, metadata={"customer": "globex"})
        {"forgotten": forgotten, "left": len(left)}
        """)
def _forget_customer(agent: Agent) -> Any:
    hits = agent.listing("recall", query="Globex", k=LIMIT, metadata={"customer": "globex"})
    forgotten = agent.tool("forget", ids=[h["id"] for h in hits])
    left = agent.tool("recall", query="Globex", k=LIMIT, metadata={"customer": "globex"})
    return {"forgotten": forgotten, "left": len(left)}


@task("busiest-service-owner", "Which service had the most incidents last week, who owns it, "
      "and who is on call for it?",
      search="events of one kind between two dates; find facts by metadata",
      program="""
        from collections import Counter
        incidents = athena.episodic.timeline(kind="incident", start="2026-10-26",
                                             end="2026-11-02", limit=1000)
        counts = Counter(e.metadata["service"] for e in incidents)
        service, n = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        owner = athena.recall("owned by team", k=1,
                              metadata={"topic": "ownership", "service": service})[0].text
        oncall = athena.recall("on-call", k=1,
                               metadata={"topic": "oncall", "service": service})[0].text
        {"service": service, "incidents": n, "owner": owner, "oncall": oncall}
        """)
def _busiest_service(agent: Agent) -> Any:
    incidents = agent.listing("episodic_timeline", kind="incident", **LAST_WEEK,
                              limit=LIMIT)
    service, n = _top(Counter(e["metadata"]["service"] for e in incidents))
    owner = agent.tool("recall", query="owned by team", k=1,
                       metadata={"topic": "ownership", "service": service})[0]["text"]
    oncall = agent.tool("recall", query="on-call", k=1,
                        metadata={"topic": "oncall", "service": service})[0]["text"]
    return {"service": service, "incidents": n, "owner": owner, "oncall": oncall}


@task("deploy-success-rate", "What was each service's deploy success rate (percent) over the "
      "last four weeks (2026-10-05 to 2026-11-01)?",
      search="events of one kind between two dates",
      program="""
        from collections import defaultdict
        runs = defaultdict(lambda: [0, 0])
        for d in athena.episodic.timeline(kind="deploy", start="2026-10-05", end="2026-11-02",
                                          limit=1000):
            runs[d.metadata["service"]][0] += d.outcome == "success"
            runs[d.metadata["service"]][1] += 1
        {s: round(100 * ok / n, 1) for s, (ok, n) in runs.items()}
        """)
def _deploy_success(agent: Agent) -> Any:
    deploys = agent.listing("episodic_timeline", kind="deploy", start="2026-10-05",
                            end="2026-11-02", limit=LIMIT)
    runs: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for d in deploys:
        runs[d["metadata"]["service"]][0] += d["outcome"] == "success"
        runs[d["metadata"]["service"]][1] += 1
    return {s: round(100 * ok / n, 1) for s, (ok, n) in runs.items()}


@task("pending-tickets-by-customer", "Which customers have pending support tickets, and how "
      "many each?",
      search="events of one kind",
      program="""
        from collections import Counter
        tickets = athena.episodic.timeline(kind="support_ticket", limit=1000)
        dict(Counter(t.metadata["customer"] for t in tickets if t.outcome == "pending"))
        """)
def _pending_tickets(agent: Agent) -> Any:
    tickets = agent.listing("episodic_timeline", kind="support_ticket", limit=LIMIT)
    return dict(Counter(t["metadata"]["customer"] for t in tickets if t["outcome"] == "pending"))


@task("timeout-settings", "What are the timeout settings of payments, checkout and gateway?",
      search="find facts by metadata",
      program="""
        {s: athena.recall("timeout", k=1, metadata={"topic": "config", "service": s,
                                                    "key": "timeout"})[0].text
         for s in ("payments", "checkout", "gateway")}
        """)
def _timeouts(agent: Agent) -> Any:
    return {s: agent.tool("recall", query="timeout", k=1, metadata={
        "topic": "config", "service": s, "key": "timeout"})[0]["text"]
            for s in ("payments", "checkout", "gateway")}


@task("top-deployer-october", "Who deployed most often in October, and how many of their "
      "deploys failed?",
      search="events of one kind between two dates",
      program="""
        from collections import Counter
        deploys = athena.episodic.timeline(kind="deploy", start="2026-10-01", end="2026-11-01",
                                           limit=1000)
        counts = Counter(d.metadata["deployer"] for d in deploys)
        who, n = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        failed = sum(d.metadata["deployer"] == who and d.outcome == "failure" for d in deploys)
        {"deployer": who, "deploys": n, "failed": failed}
        """)
def _top_deployer(agent: Agent) -> Any:
    deploys = agent.listing("episodic_timeline", kind="deploy", **OCTOBER, limit=LIMIT)
    who, n = _top(Counter(d["metadata"]["deployer"] for d in deploys))
    failed = sum(d["metadata"]["deployer"] == who and d["outcome"] == "failure" for d in deploys)
    return {"deployer": who, "deploys": n, "failed": failed}


@task("open-major-incidents-runbooks", "List the open SEV1 and SEV2 incidents, each with the "
      "runbook entries of its service.",
      search="events with a context value; find facts by metadata",
      program="""
        answer = {}
        for sev in ("sev1", "sev2"):
            for e in athena.episodic.timeline(kind="incident", context={"severity": sev},
                                              limit=1000):
                if e.outcome == "open":
                    hits = athena.recall("runbook", k=100, metadata={
                        "topic": "runbook", "service": e.metadata["service"]})
                    answer[e.metadata["incident"]] = sorted(h.text for h in hits)
        answer
        """)
def _open_incidents(agent: Agent) -> Any:
    open_ = [e for sev in ("sev1", "sev2")
             for e in agent.listing("episodic_timeline", kind="incident",
                                    context={"severity": sev}, limit=LIMIT)
             if e["outcome"] == "open"]
    runbooks: dict[str, list[str]] = {}
    answer = {}
    for e in open_:
        service = e["metadata"]["service"]
        if service not in runbooks:
            runbooks[service] = sorted(h["text"] for h in agent.tool(
                "recall", query="runbook", k=100, metadata={"topic": "runbook",
                                                           "service": service}))
        answer[e["metadata"]["incident"]] = runbooks[service]
    return answer


@task("time-to-fix", "How long, on average, did it take to fix a failed deploy, per service "
      "(minutes, over all the history)?",
      search="events of one kind; events of one session",
      program="""
        from collections import defaultdict
        from datetime import datetime
        failed = {d.session: d for d in athena.episodic.timeline(kind="deploy", limit=1000)
                  if d.outcome == "failure"}
        minutes = defaultdict(list)
        for fix in athena.episodic.timeline(kind="remediation", limit=1000):
            deploy = failed[fix.session]
            delta = (datetime.fromisoformat(fix.valid_from)
                     - datetime.fromisoformat(deploy.valid_from))
            minutes[deploy.metadata["service"]].append(delta.total_seconds() / 60)
        {s: round(sum(m) / len(m), 1) for s, m in minutes.items()}
        """)
def _time_to_fix(agent: Agent) -> Any:
    # Fixes are few and deploys many: the agent lists the fixes, then looks up the deploy
    # in each fix's session rather than listing every deploy.
    minutes: dict[str, list[float]] = defaultdict(list)
    for fix in agent.listing("episodic_timeline", kind="remediation", limit=LIMIT):
        deploy = agent.tool("episodic_timeline", session=fix["session"], kind="deploy")[0]
        delta = (datetime.fromisoformat(fix["valid_from"])
                 - datetime.fromisoformat(deploy["valid_from"]))
        minutes[deploy["metadata"]["service"]].append(delta.total_seconds() / 60)
    return {s: round(sum(m) / len(m), 1) for s, m in minutes.items()}


@task("flaky-suites", "Which three CI suites failed most often on main over the last two weeks "
      "(2026-10-19 to 2026-11-01), and how often?",
      search="events with a context value between two dates", ordered=True,
      program="""
        from collections import Counter
        runs = athena.episodic.timeline(kind="ci", context={"branch": "main"},
                                        start="2026-10-19", end="2026-11-02", limit=1000)
        failures = Counter(f'{r.metadata["service"]}/{r.metadata["suite"]}' for r in runs
                           if r.outcome == "failure")
        sorted(failures.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        """)
def _flaky_suites(agent: Agent) -> Any:
    runs = agent.listing("episodic_timeline", kind="ci", context={"branch": "main"},
                         start="2026-10-19", end="2026-11-02", limit=LIMIT)
    failures = Counter(f'{r["metadata"]["service"]}/{r["metadata"]["suite"]}' for r in runs
                       if r["outcome"] == "failure")
    return [list(kv) for kv in sorted(failures.items(), key=lambda kv: (-kv[1], kv[0]))[:3]]


@task("record-incident", "Record a new open SEV3 incident INC-2001 on payments (webhook retries "
      "piling up), then tell me how many payments incidents are open.",
      search="record an event; events with a context value",
      program="""
        athena.episodic.record(
            "SEV3 incident INC-2001 on payments: webhook retries piling up", kind="incident",
            outcome="open", session="inc-INC-2001",
            context={"service": "payments", "severity": "sev3", "incident": "INC-2001"})
        incidents = athena.episodic.timeline(kind="incident", context={"service": "payments"},
                                             limit=1000)
        sum(e.outcome == "open" for e in incidents)
        """)
def _record_incident(agent: Agent) -> Any:
    agent.tool("episodic_record",
               content="SEV3 incident INC-2001 on payments: webhook retries piling up",
               kind="incident", outcome="open", session="inc-INC-2001",
               context={"service": "payments", "severity": "sev3", "incident": "INC-2001"})
    incidents = agent.listing("episodic_timeline", kind="incident",
                              context={"service": "payments"}, limit=LIMIT)
    return sum(e["outcome"] == "open" for e in incidents)


_NEW_RUNBOOKS = (
    "Runbook for search: if the index lags behind the catalogue, run `searchctl reindex`.",
    "Runbook for search: if queries time out, drop the replica count to 1 and page the owner.",
    "Runbook for search: if relevance drops after a deploy, diff the ranking config.",
    "Runbook for search: if the cluster turns red, stop ingestion before anything else.",
)


@task("save-runbooks", "Save these four runbook entries for search, then tell me how many "
      "runbook entries search has: " + " / ".join(_NEW_RUNBOOKS),
      search="store a new fact; find facts by metadata",
      program="runbooks = [\n" + "".join(
          f"    {text!r},\n" for text in _NEW_RUNBOOKS) + """]
for text in runbooks:
    athena.remember(text, metadata={"topic": "runbook", "service": "search"})
hits = athena.recall("runbook search", k=100, metadata={"topic": "runbook", "service": "search"})
len(hits)""")
def _save_runbooks(agent: Agent) -> Any:
    for text in _NEW_RUNBOOKS:
        agent.tool("remember", text=text, metadata={"topic": "runbook", "service": "search"})
    return len(agent.tool("recall", query="runbook search", k=100,
                          metadata={"topic": "runbook", "service": "search"}))


@task("changed-config", "Which config settings have changed, and what were their earlier "
      "values?",
      search="find facts by metadata; earlier versions of a fact", ordered=True,
      program="""
        changed = {}
        for hit in athena.recall("config", k=100, metadata={"topic": "config"},
                                 layers=["semantic"]):
            versions = athena.semantic.history(hit.id)
            if len(versions) > 1:
                changed[hit.text] = [v.text for v in versions[:-1]]
        changed
        """)
def _changed_config(agent: Agent) -> Any:
    # No listing shows versions with a topic filter: the agent recalls the config facts and
    # asks for each one's history (listing every fact instead would cost ten times more).
    changed = {}
    for hit in agent.tool("recall", query="config", k=100, metadata={"topic": "config"},
                          layers=["semantic"]):
        versions = agent.tool("semantic_history", id=hit["id"])
        if len(versions) > 1:
            changed[hit["text"]] = [v["text"] for v in versions[:-1]]
    return changed


@task("customer-profile", "What do we know about Initech: every fact, and their five most recent "
      "support tickets?",
      search="find facts by metadata; most recent events with a context value", ordered=True,
      program="""
        facts = athena.recall("Initech", k=100, metadata={"customer": "initech"},
                              layers=["semantic"])
        tickets = athena.episodic.timeline(kind="support_ticket", context={"customer": "initech"},
                                           order="desc", limit=5)
        {"facts": sorted(h.text for h in facts), "tickets": [t.text for t in tickets]}
        """)
def _customer_profile(agent: Agent) -> Any:
    facts = agent.tool("recall", query="Initech", k=100, metadata={"customer": "initech"},
                       layers=["semantic"])
    tickets = agent.tool("episodic_timeline", kind="support_ticket",
                         context={"customer": "initech"}, order="desc", limit=5)
    return {"facts": sorted(h["text"] for h in facts), "tickets": [t["text"] for t in tickets]}


@task("alerts-before-incidents", "For each SEV1 or SEV2 incident last week, how many alerts "
      "fired for its service in the two hours before it?",
      search="events of one kind between two dates",
      program="""
        from datetime import datetime, timedelta
        counts = {}
        for e in athena.episodic.timeline(kind="incident", start="2026-10-26", end="2026-11-02",
                                          limit=1000):
            if e.metadata["severity"] in ("sev1", "sev2"):
                at = datetime.fromisoformat(e.valid_from)
                alerts = athena.episodic.timeline(
                    kind="alert", context={"service": e.metadata["service"]},
                    start=(at - timedelta(hours=2)).isoformat(), end=e.valid_from, limit=1000)
                counts[e.metadata["incident"]] = len(alerts)
        counts
        """)
def _alerts_before(agent: Agent) -> Any:
    counts = {}
    for e in agent.listing("episodic_timeline", kind="incident", **LAST_WEEK,
                           limit=LIMIT):
        if e["metadata"]["severity"] in ("sev1", "sev2"):
            at = datetime.fromisoformat(e["valid_from"])
            alerts = agent.listing(
                "episodic_timeline", kind="alert", context={"service": e["metadata"]["service"]},
                start=(at - timedelta(hours=2)).isoformat(), end=e["valid_from"], limit=LIMIT)
            counts[e["metadata"]["incident"]] = len(alerts)
    return counts


@task("team-load-october", "Per team, how many incidents and failed deploys were there in "
      "October?",
      search="find facts by metadata; events of one kind between two dates",
      program="""
        from collections import defaultdict
        owners = athena.recall("owned by team", k=100, metadata={"topic": "ownership"})
        team = {h.metadata["service"]: h.metadata["team"] for h in owners}
        october = dict(start="2026-10-01", end="2026-11-01", limit=1000)
        load = defaultdict(lambda: {"incidents": 0, "failed_deploys": 0})
        for e in athena.episodic.timeline(kind="incident", **october):
            load[team[e.metadata["service"]]]["incidents"] += 1
        for d in athena.episodic.timeline(kind="deploy", **october):
            if d.outcome == "failure":
                load[team[d.metadata["service"]]]["failed_deploys"] += 1
        dict(load)
        """)
def _team_load(agent: Agent) -> Any:
    team = {h["metadata"]["service"]: h["metadata"]["team"] for h in agent.tool(
        "recall", query="owned by team", k=100, metadata={"topic": "ownership"})}
    load: dict[str, dict[str, int]] = defaultdict(lambda: {"incidents": 0, "failed_deploys": 0})
    for e in agent.listing("episodic_timeline", kind="incident", **OCTOBER, limit=LIMIT):
        load[team[e["metadata"]["service"]]]["incidents"] += 1
    for d in agent.listing("episodic_timeline", kind="deploy", **OCTOBER, limit=LIMIT):
        if d["outcome"] == "failure":
            load[team[d["metadata"]["service"]]]["failed_deploys"] += 1
    return dict(load)


@task("oncall-for-person", "Which services is Priya Shah on call for, as primary or secondary?",
      search="find facts by metadata",
      program="""
        hits = athena.recall("on-call", k=100, metadata={"topic": "oncall"})
        sorted(h.metadata["service"] for h in hits if "Priya Shah" in h.text)
        """)
def _oncall_for_person(agent: Agent) -> Any:
    hits = agent.tool("recall", query="on-call", k=100, metadata={"topic": "oncall"})
    return sorted(h["metadata"]["service"] for h in hits if "Priya Shah" in h["text"])


@task("pool-exhaustion-notes", "Find the 20 notes most about connection pool exhaustion and "
      "count them by service.",
      search="search facts by meaning",
      program="""
        from collections import Counter
        hits = athena.recall("connection pool exhaustion", k=20, layers=["semantic"],
                             metadata={"topic": "note"})
        dict(Counter(h.metadata["service"] for h in hits))
        """)
def _pool_notes(agent: Agent) -> Any:
    hits = agent.tool("recall", query="connection pool exhaustion", k=20, layers=["semantic"],
                      metadata={"topic": "note"})
    return dict(Counter(h["metadata"]["service"] for h in hits))


@task("last-week-summary", "Summarise last week: deploys by outcome, incidents by severity, "
      "support tickets by outcome.",
      search="events of one kind between two dates",
      program="""
        from collections import Counter
        week = dict(start="2026-10-26", end="2026-11-02", limit=1000)
        deploys = athena.episodic.timeline(kind="deploy", **week)
        incidents = athena.episodic.timeline(kind="incident", **week)
        tickets = athena.episodic.timeline(kind="support_ticket", **week)
        {"deploys": dict(Counter(e.outcome for e in deploys)),
         "incidents": dict(Counter(e.metadata["severity"] for e in incidents)),
         "tickets": dict(Counter(e.outcome for e in tickets))}
        """)
def _week_summary(agent: Agent) -> Any:
    def week(kind: str) -> list[dict[str, Any]]:
        return agent.listing("episodic_timeline", kind=kind, **LAST_WEEK, limit=LIMIT)
    return {"deploys": dict(Counter(e["outcome"] for e in week("deploy"))),
            "incidents": dict(Counter(e["metadata"]["severity"] for e in week("incident"))),
            "tickets": dict(Counter(e["outcome"] for e in week("support_ticket")))}


@task("rename-customer", "Acme Corp is now called Acme Holdings: update every fact about them "
      "and list the new texts.",
      search="find facts by metadata; update a fact",
      program="""
        new = []
        for hit in athena.recall("Acme Corp", k=100, metadata={"customer": "acme"},
                                 layers=["semantic"]):
            text = hit.text.replace("Acme Corp", "Acme Holdings")
            athena.semantic.update(hit.id, text, reason="renamed to Acme Holdings")
            new.append(text)
        sorted(new)
        """)
def _rename_customer(agent: Agent) -> Any:
    new = []
    for hit in agent.tool("recall", query="Acme Corp", k=100, metadata={"customer": "acme"},
                          layers=["semantic"]):
        text = hit["text"].replace("Acme Corp", "Acme Holdings")
        agent.tool("semantic_update", id=hit["id"], text=text, reason="renamed to Acme Holdings")
        new.append(text)
    return sorted(new)


@task("incident-replay", "What happened during incident INC-1042, in order?",
      search="events of one session in time order", ordered=True,
      program="""
        [e.text for e in athena.episodic.timeline(session="inc-INC-1042", limit=1000)]
        """)
def _incident_replay(agent: Agent) -> Any:
    return [e["text"] for e in agent.listing("episodic_timeline", session="inc-INC-1042",
                                             limit=LIMIT)]


@task("certificate-trouble", "Which services have had certificate expiry trouble, and when was "
      "the latest?",
      search="search events by meaning",
      program="""
        hits = [h for h in athena.episodic.search("certificate expiry", k=50)
                if "certificate" in h.text]
        {"services": sorted({h.metadata["service"] for h in hits}),
         "latest": max(h.valid_from for h in hits)}
        """)
def _certificate_trouble(agent: Agent) -> Any:
    # The search is the first call in both modes, so no audit record of an earlier call
    # exists yet; the text filter keeps only events about certificates.
    hits = [h for h in agent.tool("episodic_search", query="certificate expiry", k=50)
            if "certificate" in h["text"]]
    return {"services": sorted({h["metadata"]["service"] for h in hits}),
            "latest": max(h["valid_from"] for h in hits)}


# --- rerun through a saved procedure ----------------------------------------------------------


def procedure_id(one: Task) -> str:
    """The id a task's program is saved under: ``tokens/<task>``."""
    return f"tokens/{one.name}"


def procedure_code(program: str) -> str:
    """A task's program as a procedure: ``import athena`` and its own imports at module
    level (a procedure is a module: ``athena`` is ready without an import only in a
    program), the rest the body of ``run() -> Any``, which returns the value of the
    program's last expression."""
    tree = ast.parse(program)
    imports = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    body = [node for node in tree.body if node not in imports]
    if body and isinstance(body[-1], ast.Expr):
        body[-1] = ast.Return(value=body[-1].value)
    function = ast.FunctionDef(
        name="run", args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[],
                                       kw_defaults=[], defaults=[]),
        body=body, decorator_list=[], returns=ast.Name("Any"))
    if sys.version_info >= (3, 12):
        function.type_params = []  # a field Python 3.11 lacks
    module = ast.Module(body=[ast.ImportFrom("typing", [ast.alias("Any")], 0),
                              ast.Import([ast.alias("athena")]), *imports, function],
                        type_ignores=[])
    return ast.unparse(ast.fix_missing_locations(module)) + "\n"


def rerun_program(one: Task) -> str:
    """What an agent writes to rerun a task through its saved procedure."""
    return f"athena.procedures.run({procedure_id(one)!r})"


def _save_procedure(athena: Any, one: Task) -> None:
    """Save the task's program as a procedure and make that version active.

    Activated directly (``ProcedureCatalog.set_status``) rather than through the gate:
    the gate runs a procedure in an empty scratch scope, where these programs, written
    for the seeded store, find nothing to read."""
    saved = athena.procedures.save(
        procedure_id(one), one.question, procedure_code(one.program), "",
        permissions=_operations(one.program), message="saved from a run_code program")
    athena.procedures.catalog.set_status(procedure_id(one), saved["commit"], "active")


# --- running ---------------------------------------------------------------------------------


def canonical(value: Any, ordered: bool) -> Any:
    """An answer as JSON gives it back, lists sorted unless their order is the answer."""
    value = json.loads(json.dumps(value, default=str))

    def walk(item: Any) -> Any:
        if isinstance(item, dict):
            return {key: walk(v) for key, v in item.items()}
        if isinstance(item, list):
            items = [walk(v) for v in item]
            return items if ordered else sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
        return item

    return walk(value)


def _operations(program: str) -> list[str]:
    """The athena operations a program calls (``athena.episodic.timeline(`` ...)."""
    return sorted(set(re.findall(r"athena\.([a-z_]+(?:\.[a-z_]+)?)\(", program)))


@attrs.define
class _Context:
    seed_home: Path
    workdir: Path
    count: Tokens
    surfaces: dict[str, dict[str, Any]] = attrs.field(factory=dict)


@attrs.frozen
class _ModeRun:
    answer: Any
    tokens: dict[str, Any]
    error: str | None
    seconds: float
    discovery: dict[str, Any] | None = None


def _run_mode(ctx: _Context, one: Task, mode: str) -> _ModeRun:
    from athena_core import Athena
    from athena_core.mcp.tools import ToolSession

    home = ctx.workdir / f"{one.name}-{mode}"
    shutil.copytree(ctx.seed_home, home)
    started = time.perf_counter()
    discovery = None
    try:
        with Athena.open(home) as athena:
            if mode == "rerun":
                _save_procedure(athena, one)
            session = ToolSession(athena, scope=athena.config.memory.default_scope,
                                  classic=mode == "classic")
            surface_mode = "classic" if mode == "classic" else "code"
            if surface_mode not in ctx.surfaces:
                ctx.surfaces[surface_mode] = surface(session, ctx.count)
            agent = Agent(session, ctx.count)
            answer, error = None, None
            try:
                answer = (one.classic(agent) if mode == "classic" else
                          agent.run(rerun_program(one) if mode == "rerun" else one.program))
            except TaskFailed as exc:
                error = str(exc)
            except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
                error = f"{type(exc).__name__}: {exc}"
            tokens = agent.tokens(ctx.surfaces[surface_mode]["total"])
            if mode == "code":
                # What one search_api call would add: read-only, and after the program, so
                # it changes nothing the program saw.
                look = Agent(session, ctx.count)
                try:
                    data = look.call("search_api", {"query": one.search}).data or {}
                except TaskFailed as exc:
                    data = {"error": str(exc)}
                found = [op["name"] for op in data.get("operations", [])]
                discovery = {"query": one.search, "tokens": look.calls[0]["input"]
                             + look.calls[0]["output"], "found": found,
                             "missing": [op for op in _operations(one.program)
                                         if op not in found],
                             **({"error": data["error"]} if "error" in data else {})}
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return _ModeRun(answer, tokens, error, time.perf_counter() - started, discovery)


def _saving(classic: float, code: float) -> float | None:
    return None if classic <= 0 else 100.0 * (1.0 - code / classic)


def measure(workdir: Path, *, encoding: str, seed: int, names: list[str] | None = None
            ) -> dict[str, Any]:
    """Seed a store, run every task in both modes, and return the results (as JSON data)."""
    count = Tokens(encoding)
    chosen = [t for t in TASKS if names is None or t.name in names]
    unknown = sorted(set(names or ()) - {t.name for t in TASKS})
    if unknown:
        raise SystemExit(f"unknown task(s) {', '.join(unknown)}; the tasks are "
                         f"{', '.join(t.name for t in TASKS)}")
    seed_home = workdir / "seed"
    started = time.perf_counter()
    note(f"tokens: seeding a store in {seed_home}")
    store = seed_store(seed_home, seed)
    note(f"  {store['memories']:,} memories: {store['facts']:,} current facts "
         f"(+{store['superseded_fact_versions']} earlier versions), {store['events']:,} events "
         f"({time.perf_counter() - started:.1f} s)")
    ctx = _Context(seed_home, workdir, count)
    rows = []
    for number, one in enumerate(chosen, start=1):
        classic = _run_mode(ctx, one, "classic")
        code = _run_mode(ctx, one, "code")
        rerun = _run_mode(ctx, one, "rerun")
        runs = {"classic": classic, "code": code, "rerun": rerun}
        errors = [f"{mode}: {run.error}" for mode, run in runs.items() if run.error]
        same = not errors and (canonical(classic.answer, one.ordered)
                               == canonical(code.answer, one.ordered)
                               == canonical(rerun.answer, one.ordered))
        row: dict[str, Any] = {
            "task": one.name, "question": one.question, "ordered": one.ordered,
            "status": "error" if errors else "ok" if same else "mismatch",
            "classic": classic.tokens, "code": code.tokens,
            "saving_pct": _saving(classic.tokens["total"], code.tokens["total"]),
            "rerun": rerun.tokens,
            "rerun_saving_pct": _saving(code.tokens["inputs"], rerun.tokens["inputs"]),
            "discovery": code.discovery, "program": one.program,
            "answer": canonical(code.answer, one.ordered) if same else None,
            "seconds": {mode: run.seconds for mode, run in runs.items()}}
        if errors:
            row["errors"] = errors
        elif not same:
            row["answers"] = {mode: canonical(run.answer, one.ordered)
                              for mode, run in runs.items()}
        rows.append(row)
        saving = row["saving_pct"]
        calls = classic.tokens["calls"]
        note(f"  task {number}/{len(chosen)} {one.name}: classic {calls} "
             f"call{'s' if calls != 1 else ''} {classic.tokens['total']:,} tokens, "
             f"code {code.tokens['total']:,} tokens"
             + (f" ({saving:.1f}% fewer)" if saving is not None else "")
             + ("" if row["status"] == "ok" else f"  ** {row['status'].upper()} **"))
        for line in errors:
            note(f"    {line}")
        if row["status"] == "mismatch":
            note(f"    classic answer: {_compact(row['answers']['classic'])[:1000]}")
            note(f"    code answer:    {_compact(row['answers']['code'])[:1000]}")
            note(f"    rerun answer:   {_compact(row['answers']['rerun'])[:1000]}")
    return {"tokenizer": {"encoding": encoding, "library": f"quicktok {count.version}"},
            "store": {**store, "seed": seed}, "surface": ctx.surfaces, "tasks": rows,
            "totals": _totals(rows, ctx.surfaces), "seconds": time.perf_counter() - started}


def _totals(rows: list[dict[str, Any]], surfaces: dict[str, Any]) -> dict[str, Any]:
    def total(mode: str, key: str) -> int:
        return sum(row[mode][key] for row in rows)

    classic, code = total("classic", "total"), total("code", "total")
    discovery = sum((row["discovery"] or {}).get("tokens", 0) for row in rows)
    savings = [row["saving_pct"] for row in rows if row["saving_pct"] is not None]
    failed = [row["task"] for row in rows if row["status"] != "ok"]
    code_surface = surfaces.get("code", {}).get("total")
    largest = max(rows, key=lambda row: row["classic"]["total"]) if len(rows) > 1 else None
    return {
        "tasks": len(rows), "failed": failed,
        "classic": {key: total("classic", key)
                    for key in ("calls", "surface", "inputs", "outputs", "total", "reread")},
        "code": {key: total("code", key)
                 for key in ("calls", "surface", "inputs", "outputs", "total", "reread")},
        "rerun": {key: total("rerun", key)
                  for key in ("calls", "surface", "inputs", "outputs", "total", "reread")},
        "saving_pct": _saving(classic, code),
        "rerun_saving_pct": {
            "inputs": _saving(total("code", "inputs"), total("rerun", "inputs")),
            "calls": _saving(total("code", "inputs") + total("code", "outputs"),
                             total("rerun", "inputs") + total("rerun", "outputs")),
            "total": _saving(code, total("rerun", "total"))},
        "median_saving_pct": statistics.median(savings) if savings else None,
        "min_saving_pct": min(savings) if savings else None,
        "reread_saving_pct": _saving(total("classic", "reread"), total("code", "reread")),
        "without_largest": None if largest is None else {
            "task": largest["task"], "classic": classic - largest["classic"]["total"],
            "code": code - largest["code"]["total"],
            "saving_pct": _saving(classic - largest["classic"]["total"],
                                  code - largest["code"]["total"])},
        "discovery": {"tokens": discovery, "code_total": code + discovery,
                      "saving_pct": _saving(classic, code + discovery),
                      "missing": {row["task"]: row["discovery"]["missing"] for row in rows
                                  if (row["discovery"] or {}).get("missing")}},
        "targets": [
            _target("saving", _saving(classic, code), ">="),
            _target("saving", _saving(classic, code + discovery), ">=",
                    "fewer tokens in all, code + 1 search_api/task vs classic"),
            _target("surface", code_surface, "<="),
            _target("rerun", _saving(total("code", "inputs"), total("rerun", "inputs")), ">="),
        ],
    }


def _target(name: str, value: float | None, sense: str, description: str = ""
            ) -> dict[str, Any]:
    default, limit = TARGETS[name]
    met = None if value is None else value >= limit if sense == ">=" else value <= limit
    return {"target": name, "description": description or default, "limit": limit,
            "sense": sense, "value": value, "met": met}


# --- the table -------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def render_lines(results: dict[str, Any]) -> list[str]:
    """The token section of a report: surfaces, the per-task table, totals and targets."""
    totals, surfaces = results["totals"], results["surface"]
    tok, store = results["tokenizer"], results["store"]
    lines = [
        f"  tokenizer {tok['encoding']} ({tok['library']}); store of {store['memories']:,} "
        f"memories ({store['facts']:,} facts + {store['superseded_fact_versions']} earlier "
        f"versions, {store['events']:,} events over {HISTORY_WEEKS} weeks), seed "
        f"{store['seed']}",
        "  Counted per task (one conversation each): the always-loaded surface once, every",
        "  tool call's name and arguments (JSON), every result's text. Not counted: the",
        "  question, the agent's reasoning and final answer, message framing.",
        "", f"{'Always-loaded surface':<52}{'tokens':>10}", "-" * 62,
    ]
    for mode, label in (("code", "code mode"), ("classic", "classic mode")):
        data = surfaces.get(mode)
        if not data:
            continue
        tools = data["tools"]
        lines.append(f"{label + f': instructions + {len(tools)} tools':<52}{data['total']:>10,}")
        parts = [("instructions", data["instructions"]), *sorted(
            tools.items(), key=lambda kv: (-kv[1], kv[0]))]
        for part, value in parts:
            lines.append(f"{'  ' + part:<52}{value:>10,}")
    width = max([len(row["task"]) for row in results["tasks"]] + [30]) + 2
    header = (f"{'task':<{width}}{'classic calls':>14}{'classic tokens':>16}"
              f"{'code tokens':>13}{'saving':>9}")
    lines += ["", header, "-" * len(header)]
    for row in results["tasks"]:
        flag = "" if row["status"] == "ok" else f"  {row['status'].upper()}"
        lines.append(f"{row['task']:<{width}}{row['classic']['calls']:>14,}"
                     f"{row['classic']['total']:>16,}{row['code']['total']:>13,}"
                     f"{_pct(row['saving_pct']):>9}{flag}")
    c, k = totals["classic"], totals["code"]
    disc = totals["discovery"]
    lines += [
        "-" * len(header),
        f"{'total (' + str(totals['tasks']) + ' tasks)':<{width}}{c['calls']:>14,}"
        f"{c['total']:>16,}{k['total']:>13,}{_pct(totals['saving_pct']):>9}",
        f"{'  of which always-loaded surface':<{width}}{'':>14}{c['surface']:>16,}"
        f"{k['surface']:>13,}",
        f"{'  of which tool inputs':<{width}}{'':>14}{c['inputs']:>16,}{k['inputs']:>13,}",
        f"{'  of which tool outputs':<{width}}{'':>14}{c['outputs']:>16,}{k['outputs']:>13,}",
        f"{'median per task (lowest)':<{width}}{'':>14}{'':>16}{'':>13}"
        f"{_pct(totals['median_saving_pct']):>9} ({_pct(totals['min_saving_pct'])})",
    ]
    if totals["without_largest"]:
        rest = totals["without_largest"]
        lines.append(f"{'without ' + rest['task']:<{width}}{'':>14}{rest['classic']:>16,}"
                     f"{rest['code']:>13,}{_pct(rest['saving_pct']):>9}")
    lines += [
        f"{'code + one search_api call per task':<{width}}{'':>14}{c['total']:>16,}"
        f"{disc['code_total']:>13,}{_pct(disc['saving_pct']):>9}",
        f"{'context re-read each turn, no caching':<{width}}{'':>14}{c['reread']:>16,}"
        f"{k['reread']:>13,}{_pct(totals['reread_saving_pct']):>9}",
    ]
    if disc["missing"]:
        lines.append("  search_api did not list an operation the program uses: " + "; ".join(
            f"{name}: {', '.join(ops)}" for name, ops in disc["missing"].items()))
    lines += _rerun_lines(results, width)
    lines += ["", "Targets", "-" * 62]
    for target in totals["targets"]:
        value = target["value"]
        pct = target["target"] in ("saving", "rerun")
        shown = "-" if value is None else (f"{value:.1f}%" if pct else f"{value:,.0f}")
        limit = (f"{target['sense']} {target['limit']:g}%" if pct
                 else f"{target['sense']} {target['limit']:,}")
        verdict = "-" if target["met"] is None else "MET" if target["met"] else "MISSED"
        lines.append(f"  {target['description']:<60}{shown:>8}  {limit:<9} {verdict}")
    ok = totals["tasks"] - len(totals["failed"])
    lines.append(f"\nanswers identical in all three (classic, code, rerun): {ok}/{totals['tasks']}"
                 + (f"; FAILED: {', '.join(totals['failed'])}" if totals["failed"] else ""))
    return lines


def _rerun_lines(results: dict[str, Any], width: int) -> list[str]:
    """The rerun section: per task, what the agent writes (the tool call's input tokens)
    to run the program again vs to call its saved procedure."""
    header = (f"{'rerun through a saved procedure':<{width}}{'program':>10}{'run call':>10}"
              f"{'saving':>9}")
    lines = ["", header, "-" * len(header)]
    for row in results["tasks"]:
        lines.append(f"{row['task']:<{width}}{row['code']['inputs']:>10,}"
                     f"{row['rerun']['inputs']:>10,}{_pct(row['rerun_saving_pct']):>9}")
    totals = results["totals"]
    code, rerun, saving = totals["code"], totals["rerun"], totals["rerun_saving_pct"]
    lines += [
        "-" * len(header),
        f"{'written (tool call inputs)':<{width}}{code['inputs']:>10,}{rerun['inputs']:>10,}"
        f"{_pct(saving['inputs']):>9}",
        f"{'inputs + outputs (the same answer)':<{width}}"
        f"{code['inputs'] + code['outputs']:>10,}{rerun['inputs'] + rerun['outputs']:>10,}"
        f"{_pct(saving['calls']):>9}",
        f"{'everything, surface included':<{width}}{code['total']:>10,}{rerun['total']:>10,}"
        f"{_pct(saving['total']):>9}"]
    return lines


def render(results: dict[str, Any]) -> str:
    lines = ["Athena token economy: code mode (one run_code program per task) vs classic mode "
             "(one tool per operation)", f"  {results['command']}",
             f"  {results['started_at']}; Python {results['python']}, "
             f"athena-core {results['athena']}"]
    lines += render_lines(results)
    lines.append(f"\ntotal run time {results['seconds']:.0f} s")
    return "\n".join(lines)


# --- entry points ----------------------------------------------------------------------------


def run_child(workdir: Path, *, encoding: str, seed: int) -> dict[str, Any]:
    """Run this file as a child process (clean ``ATHENA_*`` environment); return its JSON.

    The JSON is returned even when a task failed (the child then exits 1): its ``totals``
    name the failed tasks.
    """
    from core import CLEAN_ENV

    workdir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--json", "-", "--workdir",
         str(workdir), "--encoding", encoding, "--seed", str(seed)],
        stdout=subprocess.PIPE, text=True, env=CLEAN_ENV, check=False)
    try:
        return json.loads(proc.stdout)  # type: ignore[no-any-return]
    except json.JSONDecodeError:
        raise RuntimeError(f"token benchmark failed (exit {proc.returncode}); "
                           "see the error above") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/tokens.py", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoding", choices=ENCODINGS, default=ENCODINGS[0],
                        help="the tokenizer's encoding (default o200k_base)")
    parser.add_argument("--json", nargs="?", const="-", metavar="FILE",
                        help="write results as JSON to FILE (no FILE: to stdout, no table)")
    parser.add_argument("--tasks", metavar="NAME,NAME",
                        help="run only these tasks (default: all)")
    parser.add_argument("--workdir", type=Path, metavar="DIR",
                        help="where to make the data dirs (default: the system temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the seeded data dir")
    parser.add_argument("--seed", type=int, default=20261101, help="seed of the store")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # The defaults are what is measured: ATHENA_* variables must not change them.
    for key in [key for key in os.environ if key.startswith("ATHENA_")]:
        note(f"ignoring {key} from the environment")
        del os.environ[key]
    from importlib.metadata import version
    from platform import python_version

    names = [n.strip() for n in args.tasks.split(",") if n.strip()] if args.tasks else None
    workdir = Path(tempfile.mkdtemp(prefix="athena-tokens-", dir=args.workdir))
    command = "python benchmarks/tokens.py" + "".join(
        f" {shlex.quote(a)}" for a in (sys.argv[1:] if argv is None else argv))
    started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    try:
        measured = measure(workdir, encoding=args.encoding, seed=args.seed, names=names)
    finally:
        if args.keep:
            note(f"seeded data dir kept in {workdir / 'seed'}")
            for path in workdir.iterdir():
                if path.name != "seed":
                    shutil.rmtree(path, ignore_errors=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results = {"command": command, "started_at": started_at, "python": python_version(),
               "athena": version("athena-core"), **measured}
    output(results, render, args.json)
    if results["totals"]["failed"]:
        note(f"FAILED: {', '.join(results['totals']['failed'])}: the two modes did not give "
             "the same answer, or a task failed (see above)")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
