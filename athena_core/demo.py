"""``athena demo``: a short end-to-end run of what an agent does with Athena.

It uses a throw-away data dir unless ``--home`` is given, so it never touches
your real memories.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["run_demo"]

_FACTS = [
    ("Deploys of the web app go through staging first, then production.", {"topic": "deploy"}),
    ("The staging database is refreshed from production every Sunday night.", {"topic": "data"}),
    ("Alice owns the payments service; Bob owns search.", {"topic": "people"}),
    ("Use `make test` to run the unit tests; CI runs the same command.", {"topic": "testing"}),
]


def run_demo(home: Path | None = None, *, as_json: bool = False) -> int:
    from athena_core.errors import AthenaError
    from athena_core.runtime import Athena

    steps: list[dict[str, Any]] = []
    ok = True

    def step(title: str, **data: Any) -> None:
        steps.append({"step": title, **data})
        if not as_json:
            print(f"\n== {title}")
            for key, value in data.items():
                print(f"   {key}: {value}")

    with tempfile.TemporaryDirectory(prefix="athena-demo-") as scratch:
        data_dir = home or Path(scratch)
        with Athena.open(data_dir) as athena:
            scope = "demo:web"
            ids = [athena.remember(text, metadata=meta, scope=scope) for text, meta in _FACTS]
            step("remember", stored=len(ids), data_dir=str(data_dir))

            hits = athena.recall("how do we deploy to production?", k=2, scope=scope)
            step("recall 'how do we deploy to production?'",
                 best=hits[0].text if hits else None, score=round(hits[0].score, 4) if hits else 0)

            session = "demo-session"
            athena.episodic.record("Ran the unit tests: 3 failures in search", session=session,
                                   kind="test_run", outcome="failure", scope=scope)
            athena.episodic.record("Fixed the tokenizer bug; tests pass", session=session,
                                   kind="debugging", outcome="success", scope=scope)
            events = athena.episodic.timeline(session=session, scope=scope)
            step("episodic timeline", events=[f"{e.kind}/{e.outcome}: {e.content}"
                                              for e in events])

            before = athena.get(ids[2], scope=scope).created_at
            new_id = athena.semantic.update(ids[2], "Carol now owns payments; Bob owns search.",
                                            reason="team change", scope=scope)
            now = athena.recall("who owns payments?", k=1, scope=scope)[0].text
            then = athena.recall("who owns payments?", k=1, as_of=before, scope=scope)[0].text
            step("update (supersede) and as_of", now=now, as_of_before=then)

            athena.forget(new_id, scope=scope)
            left = [h.text for h in athena.recall("who owns payments?", k=3, scope=scope)]
            step("forget", remaining_hits=left)

            program = ("import athena\n"
                       "hits = athena.recall('how do we deploy?', k=3)\n"
                       "athena.remember('The demo program ran in the sandbox')\n"
                       "[h.text for h in hits][:1]")
            try:
                result = athena.execute(program, scope=scope)
            except AthenaError as exc:
                step("execute code in the sandbox", status="unavailable", reason=exc.message,
                     fix=exc.hint)
                ok = False
            else:
                step("execute code in the sandbox", executor=result.executor,
                     status=result.status, returned=result.value,
                     bridge_calls=[c.operation for c in result.bridge_calls],
                     duration_ms=round(result.duration_s * 1000, 1))
                ok = result.ok
    if as_json:
        json.dump({"ok": ok, "steps": steps}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif ok:
        print("\nDone. Agents connect over MCP with `athena serve` (for example "
              "`claude mcp add athena -- athena serve`); see docs/mcp.md.")
    else:
        print("\nStore and recall work; code execution needs a sandbox (see the fix above, "
              "then `athena doctor`).")
    return 0 if ok else 1
