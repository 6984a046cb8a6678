"""Static checks of a Python program before it runs: advice and reporting only.

The OS sandbox is the boundary; these checks only tell the agent early, with
line numbers, about code that cannot work or will be refused (a syntax error,
an import of a module whose purpose the policy forbids, dynamic code
execution). A syntax error stops the run; everything else is reported as a
violation and the program still runs in the sandbox.
"""

from __future__ import annotations

import ast

import attrs

from athena_core._ast import parse_python
from athena_core.execution.model import ErrorInfo
from athena_core.execution.policy import Policy

__all__ = ["Finding", "check_python"]

#: Modules that reach outside the sandbox's purpose, and why they will not help.
_PROCESS_MODULES = {"subprocess": "starts processes", "multiprocessing": "starts processes",
                    "ctypes": "calls native code", "cffi": "calls native code"}
_NETWORK_MODULES = {"socket": "opens network connections", "ssl": "opens network connections",
                    "http": "opens network connections", "urllib": "opens network connections",
                    "requests": "opens network connections", "ftplib": "opens network "
                    "connections", "smtplib": "opens network connections"}
_UNSAFE_MODULES = {"pickle": "runs code while loading data", "marshal": "loads code objects"}
_DYNAMIC_CALLS = {"eval", "exec", "compile", "__import__"}


@attrs.frozen
class Finding:
    line: int
    message: str

    def __str__(self) -> str:
        return f"static check, line {self.line}: {self.message}"


def check_python(code: str, policy: Policy) -> tuple[ErrorInfo | None, list[Finding]]:
    """``(syntax error or None, findings)`` for ``code`` under ``policy``."""
    try:
        tree = parse_python(code, "<program>")
    except SyntaxError as exc:
        return ErrorInfo("SyntaxError", exc.msg or "invalid syntax", exc.lineno), []
    except ValueError as exc:  # e.g. NUL bytes in the source
        return ErrorInfo("SyntaxError", str(exc), None), []
    forbidden = {**_PROCESS_MODULES, **_UNSAFE_MODULES}
    if not policy.network_domains:
        forbidden.update(_NETWORK_MODULES)
    findings: list[Finding] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        line = getattr(node, "lineno", 0)  # every node that is checked here has one
        for name in names:
            top = name.split(".", 1)[0]
            if top in forbidden:
                findings.append(Finding(line, f"imports {name} ({forbidden[top]}; "
                                              f"policy {policy.name!r} does not allow it)"))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in _DYNAMIC_CALLS:
            findings.append(Finding(node.lineno, f"calls {node.func.id}() (dynamic code is "
                                                 "not checked)"))
        if isinstance(node, ast.Attribute) and node.attr.startswith("__") \
                and node.attr.endswith("__") and node.attr not in ("__name__", "__doc__",
                                                                    "__class__", "__dict__"):
            findings.append(Finding(node.lineno, f"uses the dunder attribute {node.attr}"))
    return None, sorted(findings, key=lambda f: f.line)
