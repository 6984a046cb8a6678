"""What runs inside the sandbox: the worker loop and the ``athena`` module (stdlib only).

This directory is mounted read-only into every sandbox; nothing here may import
``athena_core`` or any third-party package.
"""

__all__ = ["FILES"]

#: Every file executors put in the sandbox from this directory. A file that is not a
#: Python module ships only if pyproject.toml lists it as package data; ``athena doctor``
#: fails when one is missing (without ``athena.mjs`` no JavaScript program runs).
FILES = ("worker.py", "worker_setup.py", "athena_module.py", "frames.py", "tracebacks.py",
         "athena.mjs")
