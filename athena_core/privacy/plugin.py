"""Built-in plugin: the detectors of sensitive values (see ``docs/privacy.md``)."""

from __future__ import annotations

from athena_core.hookspecs import Register, hookimpl


@hookimpl
def athena_register_pii_detectors(register: Register) -> None:
    from athena_core.privacy.personal import (
        card_detector,
        email_detector,
        iban_detector,
        ip_detector,
        phone_detector,
        ssn_detector,
    )
    from athena_core.privacy.secrets import secrets_detector

    register("email", email_detector)
    register("phone", phone_detector)
    register("payment_card", card_detector)
    register("iban", iban_detector)
    register("us_ssn", ssn_detector)
    register("ip_address", ip_detector)
    register("secrets", secrets_detector)


@hookimpl
def athena_register_key_providers(register: Register) -> None:
    from athena_core.privacy.keys import EnvKeyProvider, FileKeyProvider

    register("file", FileKeyProvider)
    register("env", EnvKeyProvider)
