"""``Athena.execute`` never runs code unsandboxed, and other languages are contained too."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from athena_core.errors import AthenaError, SandboxUnavailableError, UnknownNameError
from tests.sandbox import require_sandbox
from tests.security._helpers import assert_host_works, digest, execute, javascript

pytestmark = require_sandbox()


def _would_create(path: Path) -> str:
    """A program that leaves ``path`` behind (and a memory) wherever it runs."""
    return (f"import athena\nopen({str(path)!r}, 'w').write('ran')\n"
            "athena.remember('the program ran')\n")


def test_unknown_executor_name_is_an_error_not_a_fallback(athena_factory, world,
                                                          token) -> None:
    marker = world / f"{token}-ran"
    athena = athena_factory(execution={"executor": "nope"})
    with pytest.raises(UnknownNameError, match="bwrap"):
        athena.execute(_would_create(marker))
    assert not marker.exists()
    assert athena.recall("the program ran", layers=["semantic"]) == []


def test_blocked_executors_raise_and_nothing_runs(athena_factory, world, token) -> None:
    marker = world / f"{token}-ran"
    athena = athena_factory(plugins={"block": ["bwrap", "srt", "restrictedpython"]})
    with pytest.raises(SandboxUnavailableError, match="never runs it unsandboxed"):
        athena.execute(_would_create(marker))
    for language, code in (("bash", f"touch {marker}"),
                           ("javascript", f"require('fs').writeFileSync({str(marker)!r}, 'x')")):
        with pytest.raises(SandboxUnavailableError):
            athena.execute(code, language=language)
    assert not marker.exists()
    assert athena.recall("the program ran", layers=["semantic"]) == []
    assert athena.audit.records(kind="execution") == []


def test_a_policy_bwrap_cannot_enforce_is_denied_without_running(athena_factory,
                                                                  token) -> None:
    athena = athena_factory(execution={"executor": "bwrap"})
    result = execute(athena, f"import athena\nathena.remember({token!r})",
                     policy={"network_domains": ["example.org"]})
    assert result.status == "denied" and result.stdout == "" and result.bridge_calls == ()
    assert athena.recall(token, layers=["semantic"]) == []


def test_unknown_language_runs_nothing(athena, world, token) -> None:
    marker = world / f"{token}-ran"
    with pytest.raises(AthenaError, match="language"):
        athena.execute(f"touch {marker}", language="sh")
    assert not marker.exists()
    assert_host_works(athena)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_javascript_cannot_read_or_write_host_files(athena, canary, world, token) -> None:
    before = digest(canary)
    program = javascript("""
        import fs from "node:fs";
        const attempt = (fn) => { try { return fn(); } catch (e) { return "!" + e.code; } };
        console.log(JSON.stringify({
          canary: attempt(() => fs.readFileSync(ARGS.canary, "utf8")),
          via_proc: attempt(() => fs.readFileSync("/proc/self/root" + ARGS.canary, "utf8")),
          shadow: attempt(() => fs.readFileSync("/etc/shadow", "utf8")),
          write: attempt(() => fs.writeFileSync(ARGS.escape, "x")),
          env: Object.keys(process.env).sort(),
        }));
    """, canary=str(canary), escape=str(world / f"{token}-js"))
    result = execute(athena, program, language="javascript")
    assert result.status == "ok", (result.error, result.stderr)
    value = json.loads(result.stdout)
    assert all(str(value[k]).startswith("!") for k in ("canary", "via_proc", "shadow", "write"))
    assert token not in result.stdout and "ATHENA_OPERATIONS" not in value["env"]
    assert digest(canary) == before and not (world / f"{token}-js").exists()


def test_bash_cannot_read_or_write_host_files(athena, canary, world, token, monkeypatch
                                              ) -> None:
    monkeypatch.setenv("ATHENA_TEST_SECRET", f"env-{token}")
    before = digest(canary)
    program = f"""
cat {canary} 2>/dev/null || echo no-canary
cat /proc/self/root{canary} 2>/dev/null || echo no-canary-via-proc
cat /etc/shadow 2>/dev/null || echo no-shadow
echo x > {world}/{token}-bash 2>/dev/null || echo no-write
env
"""
    result = execute(athena, program, language="bash")
    assert result.status == "ok", (result.error, result.stderr)
    lines = result.stdout.splitlines()
    assert lines[:4] == ["no-canary", "no-canary-via-proc", "no-shadow", "no-write"], lines
    assert token not in result.stdout
    assert digest(canary) == before and not (world / f"{token}-bash").exists()
