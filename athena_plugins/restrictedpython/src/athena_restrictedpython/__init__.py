"""Athena's RestrictedPython executor plugin (defence in depth, not a security boundary)."""
