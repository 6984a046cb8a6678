"""What runs inside the sandbox: the worker loop and the ``athena`` module (stdlib only).

This directory is mounted read-only into every sandbox; nothing here may import
``athena_core`` or any third-party package.
"""
