"""Third-party-style plugins with one fault each, for tests/test_faulty_plugins.py.

Each module is a plugin as a third party would write it (``athena_*`` hook
implementations, type hints, options checked with ``PluginOptions``); the tests
register them directly or install them as an entry point.
"""
