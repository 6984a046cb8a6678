"""Athena's keyring key provider: the master key that protects sensitive values, kept in
the operating system's keyring instead of a file."""

from athena_keyring.provider import KeyringKeyProvider, KeyringOptions

__all__ = ["KeyringKeyProvider", "KeyringOptions"]
