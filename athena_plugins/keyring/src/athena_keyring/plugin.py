"""Registers the OS keyring key provider under the name ``keyring``.

Select it with ``[privacy] key_provider = "keyring"``. Importing this module does not
import ``keyring``.
"""

from __future__ import annotations

from athena_core.hookspecs import Register, hookimpl


@hookimpl
def athena_register_key_providers(register: Register) -> None:
    from athena_keyring.provider import KeyringKeyProvider

    register("keyring", KeyringKeyProvider)
