"""An example Athena procedure package (``template``).

This folder is data: ``package.json`` and one folder per procedure. Athena finds it
through the ``athena.procedures`` entry point and reads the files; it never imports this
module, so put no code here.
"""
