"""Classic RestrictedPython escapes are refused, and the host is left unchanged.

Several entries reproduce the published RestrictedPython advisories: generator
frames (CVE-2023-37271), format strings (CVE-2023-41039), ``AttributeError.obj``
(CVE-2024-47532), ``try/except*`` (CVE-2025-22153) and positional-only
parameters shadowing the guards (fixed in RestrictedPython 8.3).
"""

from __future__ import annotations

import builtins
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
from athena_restrictedpython.sandbox import guards

SANDBOX_DIR = Path(guards.__file__).parent

ESCAPES = [
    # dunder attributes, the way to object.__subclasses__() and from there to anything
    ("().__class__.__bases__", "RestrictedSyntaxError"),
    ("''.__class__.__mro__[1].__subclasses__()", "RestrictedSyntaxError"),
    ("getattr((), '__class__')", "AttributeError"),
    ("getattr(getattr, '__self__')", "AttributeError"),
    ("import athena\nathena.recall.__globals__", "RestrictedSyntaxError"),
    ("f = lambda: 1\nf.__code__", "RestrictedSyntaxError"),
    ("type(())", "NameError"),
    # imports and builtins that reach the host
    ("import os", "ImportError"),
    ("import subprocess", "ImportError"),
    ("from os import system", "ImportError"),
    ("import ctypes", "ImportError"),
    ("import string", "ImportError"),
    ("import importlib", "ImportError"),
    ("from . import x", "ImportError"),
    ("__import__('os')", "RestrictedSyntaxError"),
    ("open('/etc/passwd').read()", "NameError"),
    ("exec('import os')", "RestrictedSyntaxError"),
    ("eval('1 + 1')", "RestrictedSyntaxError"),
    ("compile('1', 'f', 'eval')", "NameError"),
    ("vars()", "NameError"),
    ("globals()", "NameError"),
    ("breakpoint()", "RestrictedSyntaxError"),
    ("__builtins__", "RestrictedSyntaxError"),
    # what allowed modules would otherwise hand out
    ("import statistics\nstatistics.sys", "AttributeError"),
    ("from statistics import sys", "ImportError"),
    ("from json import decoder", "ImportError"),
    ("import datetime\ndatetime.sys", "AttributeError"),
    ("import functools\nfunctools.update_wrapper", "AttributeError"),
    ("from functools import wraps", "ImportError"),
    ("import collections\ncollections.UserString('{0.__class__}').format(1)", "AttributeError"),
    # published advisories
    ("g = (x for x in [1])\ng.gi_frame.f_back.f_back", "RestrictedSyntaxError"),
    ("def g():\n    yield 1\ng().gi_code", "RestrictedSyntaxError"),
    ("'{0.__class__.__mro__}'.format(1)", "NotImplementedError"),
    ("'{a.__class__}'.format_map({'a': 1})", "NotImplementedError"),
    ("str.format('{0.__class__}', 1)", "NotImplementedError"),
    ("import math\ntry:\n    math.nope\nexcept AttributeError as e:\n    e.obj", "AttributeError"),
    ("try:\n    pass\nexcept* ValueError:\n    pass", "RestrictedSyntaxError"),
    ("def f(_getattr_, /):\n    return _getattr_\nf(getattr)", "RestrictedSyntaxError"),
    ("try:\n    1 / 0\nexcept Exception as e:\n    e.__traceback__.tb_frame",
     "RestrictedSyntaxError"),
    ("async def f():\n    pass", "RestrictedSyntaxError"),
    # changing what is not the program's
    ("import math\nmath.pi = 3", "TypeError"),
    ("import athena\nathena.recall = None", "TypeError"),
    ("import athena\nsetattr(athena.episodic, 'record', None)", "TypeError"),
    ("import athena\ndelattr(athena, 'recall')", "TypeError"),
]


@pytest.mark.parametrize(("code", "error"), ESCAPES, ids=[c for c, _ in ESCAPES])
def test_escape_is_refused(athena, code: str, error: str) -> None:
    result = athena.execute(code)
    assert result.status == "error", (result.value, result.stdout)
    assert result.error.type == error, result.error
    assert result.value is None


@pytest.mark.parametrize("template", [
    "open({marker!r}, 'w').write('x')",
    "import os\nos.system('touch {marker}')",
    "import subprocess\nsubprocess.run(['touch', {marker!r}])",
    "import pathlib\npathlib.Path({marker!r}).touch()",
    "import io\nio.open({marker!r}, 'w')",
    "import json\njson.dump({{}}, open({marker!r}, 'w'))",
])
def test_host_files_are_unchanged(athena, tmp_path: Path, template: str) -> None:
    marker = tmp_path / "escaped"
    result = athena.execute(template.format(marker=str(marker)))
    assert result.status == "error"
    assert not marker.exists()


def test_module_views_hold_no_modules_or_unsafe_builtins() -> None:
    unsafe = {id(getattr(builtins, n)) for n in ("open", "exec", "eval", "compile",
                                                 "__import__", "getattr", "globals", "vars")}
    for name in guards.ALLOWED_MODULES:
        view = guards.module_view(name)
        for attr in dir(view):
            value = getattr(view, attr)
            assert not attr.startswith("_")
            assert not isinstance(value, types.ModuleType), f"{name}.{attr}"
            assert id(value) not in unsafe, f"{name}.{attr}"


def test_writes_are_limited_to_the_programs_own_objects(athena) -> None:
    program = """
class Box:
    pass
b = Box()
b.size = 3
Box.kind = "box"
d = {}
d["k"] = 1
l = [0]
l[0] = 2
setattr(b, "colour", "red")
[b.size, b.kind, b.colour, d, l]
"""
    result = athena.execute(program)
    assert result.status == "ok", result.stderr
    assert result.value == [3, "box", "red", {"k": 1}, [2]]
    frozen = athena.execute("import collections\nP = collections.namedtuple('P', 'a')\n"
                            "p = P(1)\np.a = 2")
    assert frozen.error.type == "TypeError"


def test_audit_hook_blocks_what_an_escape_would_reach_for(tmp_path: Path) -> None:
    """The worker's last line: code past RestrictedPython still cannot touch the host."""
    marker = tmp_path / "written"
    program = f"""
import os, socket, sys
sys.path.insert(0, {str(SANDBOX_DIR)!r})
import audit
audit.arm([sys.prefix, sys.base_prefix])
attempts = {{
    "system": lambda: os.system("touch {marker}"),
    "write": lambda: open({str(marker)!r}, "w"),
    "read outside python": lambda: open("/etc/passwd"),
    "socket": lambda: socket.socket(),
    "kill": lambda: os.kill(os.getpid(), 0),
    "ctypes": lambda: __import__("ctypes"),
    "fork": lambda: os.fork(),
    "listdir outside python": lambda: os.listdir("/"),
}}
for name, attempt in attempts.items():
    try:
        attempt()
        print(name, "allowed")
    except PermissionError:
        print(name, "blocked")
open(os.__file__).close()
print("read inside python allowed")
"""
    done = subprocess.run([sys.executable, "-I", "-c", program], capture_output=True,
                          text=True, timeout=60, check=False)
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr
    assert [line for line in lines if line.endswith("allowed")] == [
        "read inside python allowed"]
    assert len(lines) == 9 and not marker.exists()


def test_compile_program_splits_off_the_last_expression() -> None:
    body, tail = guards.compile_program("x = 1\nx + 1", "<program>")
    assert body is not None and tail is not None
    body, tail = guards.compile_program("x = 1", "<program>")
    assert tail is None
    with pytest.raises(guards.RestrictedSyntaxError) as caught:
        guards.compile_program("a = 1\nb = a._x\nc = ().__class__", "<program>")
    assert caught.value.lineno == 2
    assert os.sep not in caught.value.msg  # refusals name lines, not host paths


def test_audit_hook_never_opens_denied_paths(tmp_path: Path) -> None:
    (tmp_path / "public.txt").write_text("ok")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "athena.db").write_text("secret")
    program = f"""
import sys
sys.path.insert(0, {str(SANDBOX_DIR)!r})
import audit
audit.arm([sys.prefix, {str(tmp_path)!r}, "/"], deny=[{str(tmp_path / "data")!r}])
print(open({str(tmp_path / "public.txt")!r}).read())
try:
    open({str(tmp_path / "data" / "athena.db")!r})
except PermissionError:
    print("denied")
try:
    open("/etc/hostname")
except PermissionError:
    print("root is never a readable root")
"""
    done = subprocess.run([sys.executable, "-I", "-c", program], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.stdout.split("\n")[:3] == ["ok", "denied", "root is never a readable root"], (
        done.stderr)
