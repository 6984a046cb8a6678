"""The files under ``tests/data`` are inputs to tests, not tests: pytest collects none of
them (a skill folder there may bring its own ``test_main.py``)."""

collect_ignore_glob = ["*"]
