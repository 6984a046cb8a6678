"""Athena's standard procedure package (``std``).

This folder is data: ``package.json`` and one folder per procedure (``manifest.json``,
``main.py``, ``test_main.py``). Athena finds it through the ``athena.procedures`` entry
point, reads the files and admits each procedure through its gate; it never imports this
module.
"""
