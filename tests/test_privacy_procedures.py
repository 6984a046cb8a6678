"""Placeholders in a procedure's inputs: resolved on the host only for the inputs its
manifest declares ``real_values``, by a declaration only a caller allowed to reveal
may make; every other input keeps its placeholder."""

from __future__ import annotations

import pytest

from athena_core.calls import CallContext, bind
from athena_core.errors import (
    InvalidArgumentError,
    PermissionDeniedError,
    PlaceholderError,
    ProcedureManifestError,
    ProcedureNotFoundError,
)
from athena_core.privacy import placeholders
from athena_core.procedures.model import Procedure
from tests.sandbox import require_sandbox
from tests.test_privacy_vault import EMAIL

pytestmark = require_sandbox()

DOMAIN = '''\
def run(to: str, note: str = "") -> dict:
    """The domain of an address, and whether the note holds a placeholder."""
    return {"domain": to.partition("@")[2], "note": note}
'''
DOMAIN_TESTS = '''\
from main import run


def test_the_domain_is_after_the_at_sign() -> None:
    assert run("a@example.org")["domain"] == "example.org"
'''

EXAMPLES = [{"inputs": {"to": "b@example.net"}, "expected": {"domain": "example.net",
                                                             "note": ""}}]


def admitted(athena, id: str, **fields) -> None:
    athena.procedures.save(id, "The domain of an address.", DOMAIN, DOMAIN_TESTS,
                           examples=EXAMPLES, **fields)
    report = athena.procedures.validate(id)
    assert report["status"] == "active", report["validation"]


def detokenisations(athena) -> list:
    return [record.details for record in athena.audit.records(kind="detokenisation")]


def test_a_declared_input_gets_the_real_value_and_the_others_keep_placeholders(athena):
    admitted(athena, "mail/domain", real_values=["to"])
    token = placeholders.placeholders_in(athena.get(athena.remember(f"to {EMAIL}")).text)[0]
    result = athena.procedures.run("mail/domain", to=token, note=token)
    assert result == {"domain": "acme-corp.io", "note": token}
    [record] = detokenisations(athena)
    assert record["operation"] == "procedure mail/domain" and record["values"] == 1


def test_an_undeclared_input_keeps_its_placeholder(athena):
    admitted(athena, "mail/plain")
    token = placeholders.placeholders_in(athena.get(athena.remember(f"to {EMAIL}")).text)[0]
    assert athena.procedures.run("mail/plain", to=token)["domain"] == ""
    assert detokenisations(athena) == []


def test_a_forged_placeholder_in_a_declared_input_is_refused(athena):
    admitted(athena, "mail/forged", real_values=["to"])
    with pytest.raises(PlaceholderError):
        athena.procedures.run("mail/forged", to="[EMAIL_aaaaaaaa]")


def test_only_a_caller_allowed_to_reveal_declares_real_values(athena):
    result = athena.execute(
        "athena.procedures.save('mail/sneaky', 'The domain of an address.', "
        f"{DOMAIN!r}, {DOMAIN_TESTS!r}, real_values=['to'])")
    assert not result.ok and result.error.type == "PermissionDeniedError"
    assert "reveal" in result.error.message
    with pytest.raises(ProcedureNotFoundError):
        athena.procedures.show("mail/sneaky")
    with pytest.raises(PermissionDeniedError, match="reveal"), \
            bind(CallContext(scope=None, caller="mcp", permissions=frozenset({"write"}))):
        athena.procedures.save("mail/sneaky", "d", DOMAIN, DOMAIN_TESTS, real_values=["to"])


def test_real_values_may_name_only_inputs():
    with pytest.raises(InvalidArgumentError, match="not an input"):
        Procedure.from_code(DOMAIN, id="mail/typo", description="d", real_values=["too"])
    manifest = Procedure.from_code(DOMAIN, id="mail/ok", description="d",
                                   real_values=["to"]).to_manifest()
    assert Procedure.from_manifest(manifest).real_values == ("to",)
    with pytest.raises(ProcedureManifestError, match="real_values"):
        Procedure.from_manifest(manifest.replace('"real_values": [\n    "to"',
                                                 '"real_values": [\n    "cc"'))


def test_a_procedure_holding_a_sensitive_value_is_refused_and_nothing_is_saved(athena):
    from athena_core.errors import SensitiveValueError

    leaky = DOMAIN.replace('"""The domain', f'"""Mail {EMAIL}: the domain')
    with pytest.raises(SensitiveValueError, match=r"main\.py .* \(email, line 2\)") as caught:
        athena.procedures.save("mail/leaky", "The domain of an address.", leaky,
                               DOMAIN_TESTS, examples=EXAMPLES)
    assert EMAIL not in str(caught.value)
    with pytest.raises(SensitiveValueError, match=r"manifest\.json"):
        athena.procedures.save("mail/leaky", f"Mail {EMAIL}.", DOMAIN, DOMAIN_TESTS)
    with pytest.raises(ProcedureNotFoundError):
        athena.procedures.show("mail/leaky")
    result = athena.execute(
        f"athena.procedures.save('mail/leaky', 'd', {leaky!r}, {DOMAIN_TESTS!r})")
    assert not result.ok and result.error.type == "SensitiveValueError"
    token = placeholders.placeholders_in(athena.get(athena.remember(f"to {EMAIL}")).text)[0]
    with_token = DOMAIN.replace('"""The domain', f'"""Mail {token}: the domain')
    athena.procedures.save("mail/token", "The domain of an address.", with_token,
                           DOMAIN_TESTS)  # a placeholder is no value


def test_without_concealment_a_procedure_may_hold_any_text(athena_factory):
    athena = athena_factory(privacy={"conceal": False})
    leaky = DOMAIN.replace('"""The domain', f'"""Mail {EMAIL}: the domain')
    athena.procedures.save("mail/open", "The domain of an address.", leaky, DOMAIN_TESTS)
    assert EMAIL in athena.procedures.catalog.repository.read("mail/open").code


@pytest.mark.parametrize("line", [
    "def main(*, access_token: str='[PASSWORD]', card_id: str='card_7243') -> Any:",
    "def main(*, password: str='[PASSWORD]', file_name1: str='report.txt') -> Any:",
    "    assert main(password='[PASSWORD]', username='mthompson') == {'login': True}",
    "def main(*, token: str='[PASSWORD_k3x7q2mz]', travel_date_2: str='2024-11-15'):",
    "login(access_token='[API_TOKEN]', card_id='card_7243')",
    "password: [PASSWORD]",
    "def main(*, access_token: str='[API_TOKEN]', booking_id: str='Bk83JdQ02LmZx91PqT4v'):",
    "main(token='[API_TOKEN_k3x7q2mz]', order='Ord9XkP2mQ7vL3nT8zR1')",
    '{"api_key": "[API_TOKEN]", "trace": "Tr4cE9XkP2mQ7vL3nT8zR1"}',
    "def run(*, file_name1: str='History101.txt', username: str | None=None, "
    "password: str='[PASSWORD]', ignitionMode: str='START') -> Any:",
])
def test_a_placeholder_or_redaction_in_a_secrets_place_is_no_value_nor_names_one(athena, line):
    """What stands in a secret's place - a placeholder, or the redaction the audit log
    keeps - is not a value, and the values after it are not the secret it names: a
    procedure drafted from redacted runs holds such lines."""
    assert athena.privacy.scan(line) == []


@pytest.mark.parametrize(("text", "value"), [
    ("password=S3cret!x9 [INFO] done", "S3cret!x9"),
    ("hunter2Blue! is the password [NOTE] rotate", "hunter2Blue!"),
    ("api token [DONE] AbCdEf123456GhIjKl7890mN", "AbCdEf123456GhIjKl7890mN"),
])
def test_a_bracketed_word_that_is_no_fields_value_leaves_the_secret_found(athena, text,
                                                                           value):
    assert [text[s["start"]:s["end"]] for s in athena.privacy.scan(text)] == [value]
