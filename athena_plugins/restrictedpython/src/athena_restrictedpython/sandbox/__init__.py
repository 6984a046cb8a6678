"""What runs in the worker process: the restricted globals, the audit hook and the worker.

Nothing here imports ``athena_core`` or this package's host-side modules; the
worker loads these files by path (stdlib and RestrictedPython only).
"""
