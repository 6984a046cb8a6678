"""Placeholders at the model boundary and sensitive values encrypted at rest: the vault,
the key hierarchy, ``privacy.reveal`` and operations declared to receive real values."""

from __future__ import annotations

import base64
import json
import os
import stat
import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, update

from athena_core import Athena, hookimpl
from athena_core.api import operation
from athena_core.errors import (
    KeyUnavailableError,
    PermissionDeniedError,
    PlaceholderError,
    ProtectedValueError,
    UnknownEntityError,
)
from athena_core.privacy import placeholders
from athena_core.storage.models import SensitiveValueRow
from tests.conftest import DATABASE_URL, make_config
from tests.sandbox import require_sandbox
from tests.test_plugins import plugin_module

EMAIL = "jane.doe@acme-corp.io"
PHONE = "+44 20 7183 0958"
TOKEN = "ghp_R8x2kLm9Qw3Zt7Vb1Nc4Hy6Ju0Pd5Sf2Ga8E"
CANARIES = {"privacy": {"patterns": {"canary": "CANARY-[A-Z0-9]{16}"}}}


def files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file() and "keys" not in p.parts]


def assert_nowhere(data_dir: Path, *values: str) -> None:
    """No file of the data dir (the key file aside) holds a value, nor its lower-case,
    base64, hex or URL-encoded form."""
    from urllib.parse import quote

    forms = {form.encode() for value in values for form in (
        value, value.lower(), quote(value), value.encode().hex())}
    forms |= {base64.b64encode(value.encode()) for value in values}
    for file in files_under(data_dir):
        content = file.read_bytes()
        leaked = [form for form in forms if form in content]
        assert not leaked, f"{file} holds {leaked[:3]}"


def test_memories_hold_placeholders_and_the_values_only_as_ciphertext(athena_factory, data_dir):
    athena = athena_factory()
    text = f"Mail {EMAIL} or call {PHONE}; deploy token {TOKEN}"
    memory = athena.get(athena.remember(text, metadata={"contact": EMAIL}))
    assert EMAIL not in memory.text and PHONE not in memory.text and TOKEN not in memory.text
    tokens = placeholders.placeholders_in(memory.text)
    assert [t.split("_")[0] for t in tokens] == ["[EMAIL", "[PHONE", "[GITHUB"]
    assert memory.metadata == {"contact": tokens[0]}  # the same value, the same placeholder
    assert athena.privacy.reveal(memory.text) == text  # byte for byte
    athena.checkpoint()
    if not DATABASE_URL:
        assert_nowhere(data_dir, EMAIL, PHONE, TOKEN)
    mode = stat.S_IMODE((data_dir / "keys" / "master.key").stat().st_mode)
    assert mode == 0o600


def test_searching_by_a_value_finds_the_memories_that_hold_it(athena):
    athena.remember(f"The invoice goes to {EMAIL}")
    athena.remember("The invoice goes to the accounts team")
    hits = athena.recall(EMAIL, k=1)
    assert athena.privacy.reveal(hits[0].text) == f"The invoice goes to {EMAIL}"


def test_placeholders_are_per_scope_and_do_not_resolve_in_another(athena):
    one = athena.get(athena.remember(EMAIL, scope="one"), scope="one").text
    two = athena.get(athena.remember(EMAIL, scope="two"), scope="two").text
    assert one != two
    assert athena.privacy.reveal(one, scope="one") == EMAIL
    with pytest.raises(PlaceholderError, match="never handed out"):
        athena.privacy.reveal(one, scope="two")


@pytest.mark.parametrize("forged", [
    "[EMAIL_aaaaaaaa]",                       # well formed, never handed out
    "[EMAIL_[PHONE_bbbbbbbb]]",               # nested
    "[EMAIL_abcdefg",                         # cut off
])
def test_forged_nested_and_cut_placeholders_are_refused(athena, forged):
    athena.remember(EMAIL)
    with pytest.raises(PlaceholderError):
        athena.privacy.reveal(f"to {forged}")


@given(st.text(string.ascii_uppercase + string.digits, min_size=16, max_size=16),
       st.text(min_size=0, max_size=40).filter(lambda t: "[" not in t and "\x00" not in t))
def test_reveal_undoes_conceal_byte_for_byte(athena_factory_once, value, around):
    athena = athena_factory_once
    text = f"{around} CANARY-{value} {around}".strip() or "x"
    stored = athena.get(athena.remember(text)).text
    assert f"CANARY-{value}" not in stored
    assert athena.privacy.reveal(stored) == text
    again = athena.get(athena.remember(f"again CANARY-{value}")).text
    assert placeholders.placeholders_in(again)[0] in stored  # consistent within the scope


@pytest.fixture(scope="module")
def athena_factory_once(tmp_path_factory):
    from tests.conftest import _empty_database

    _empty_database()
    with Athena.open(config=make_config(tmp_path_factory.mktemp("once"), **CANARIES)) as athena:
        yield athena


def test_a_changed_or_moved_ciphertext_is_refused(athena):
    first = athena.get(athena.remember(f"one {EMAIL}")).text
    second = athena.get(athena.remember(f"two {TOKEN}")).text
    storage = athena.storage
    with storage.write() as session:
        rows = list(session.scalars(select(SensitiveValueRow).order_by(SensitiveValueRow.pk)))
        flipped = bytearray(rows[0].ciphertext)
        flipped[-1] ^= 1
        session.execute(update(SensitiveValueRow).where(SensitiveValueRow.pk == rows[0].pk)
                        .values(ciphertext=bytes(flipped)))
        session.execute(update(SensitiveValueRow).where(SensitiveValueRow.pk == rows[1].pk)
                        .values(ciphertext=rows[0].ciphertext))  # moved from another row
    for text in (first, second):
        with pytest.raises(ProtectedValueError, match="failed authentication"):
            athena.privacy.reveal(text)


def test_conceal_off_stores_text_as_given(athena_factory, data_dir):
    athena = athena_factory(privacy={"conceal": False})
    assert athena.get(athena.remember(f"mail {EMAIL}")).text == f"mail {EMAIL}"
    assert not (data_dir / "keys").exists()


def test_without_the_key_nothing_is_decrypted_and_the_error_says_why(athena_factory,
                                                                     data_dir):
    athena = athena_factory()
    stored = athena.get(athena.remember(f"mail {EMAIL}")).text
    athena.close()
    key_file = data_dir / "keys" / "master.key"
    key = key_file.read_bytes()
    key_file.unlink()
    with pytest.raises(KeyUnavailableError, match="does not hold"):
        athena_factory().privacy.reveal(stored)
    key_file.write_text(base64.b64encode(os.urandom(32)).decode())
    with pytest.raises(KeyUnavailableError, match="not the key"):
        athena_factory().privacy.reveal(stored)
    key_file.write_bytes(key)
    assert athena_factory().privacy.reveal(stored) == f"mail {EMAIL}"


@pytest.mark.parametrize("key", [base64.b64encode(os.urandom(32)).decode(), None])
def test_the_env_key_provider_reads_its_variable_and_never_makes_one(data_dir, key,
                                                                     monkeypatch):
    from athena_core.config import Config
    from tests.conftest import _empty_database

    _empty_database()
    if key is None:
        monkeypatch.delenv("ATHENA_MASTER_KEY", raising=False)
    else:
        monkeypatch.setenv("ATHENA_MASTER_KEY", key)
    config = Config.from_mapping(
        {"privacy": {"key_provider": "env"}, "retrieval": {"embedder": "hashing"},
         **({"storage": {"url": DATABASE_URL}} if DATABASE_URL else {})},
        data_dir=data_dir, env={})
    with Athena.open(config=config) as athena:
        if key is None:
            with pytest.raises(KeyUnavailableError, match="ATHENA_MASTER_KEY is not set"):
                athena.remember(f"mail {EMAIL}")
            assert athena.recall("mail") == []  # nothing half-written
        else:
            stored = athena.get(athena.remember(f"mail {EMAIL}")).text
            assert athena.privacy.reveal(stored) == f"mail {EMAIL}"
    assert not (data_dir / "keys").exists()


# --- operations that receive real values ------------------------------------------------

SENT: list[tuple[str, str]] = []


@operation(permissions="write", real_values=True)
def send(athena, to: str, body: str) -> str:
    """Send ``body`` to the address ``to``."""
    SENT.append((to, body))
    return f"sent to {to}"


@hookimpl
def athena_register_api(register):
    register("mail.send", send)


MAIL = plugin_module("mail", athena_register_api=athena_register_api)


@pytest.fixture
def mail_athena(data_dir):
    from tests.conftest import _empty_database

    _empty_database()
    SENT.clear()
    with Athena.open(config=make_config(data_dir), plugins=[MAIL]) as athena:
        yield athena


def detokenisations(athena) -> list:
    return [record for record in athena.audit.records() if record.kind == "detokenisation"]


def test_a_real_values_operation_gets_the_value_and_the_caller_the_placeholder(mail_athena):
    athena = mail_athena
    token = placeholders.placeholders_in(athena.get(athena.remember(f"bill: {EMAIL}")).text)[0]
    assert athena.mail.send(token, f"hello {token}") == f"sent to {EMAIL}"  # host: trusted
    assert [(EMAIL, f"hello {EMAIL}")] == SENT
    records = detokenisations(athena)
    assert len(records) == 1 and records[0].details["operation"] == "mail.send"
    assert records[0].details["values"] == 1 and EMAIL not in str(records[0].to_dict())


def test_a_forged_placeholder_calls_nothing(mail_athena):
    with pytest.raises(PlaceholderError):
        mail_athena.mail.send("[EMAIL_zzzzzzzz]", "hi")
    assert SENT == [] and detokenisations(mail_athena) == []


@require_sandbox()
def test_programs_see_placeholders_and_real_values_reach_only_declared_operations(
        mail_athena):
    athena = mail_athena
    athena.remember(f"bill: {EMAIL}")
    result = athena.execute(
        "import athena\n"
        "text = athena.recall('bill')[0]['text']\n"
        "token = text.split(': ')[1]\n"
        "reply = athena.mail.send(token, 'paid')\n"
        f"print(reply, '{TOKEN}')\n"
        "[token, reply]")
    assert result.ok, result.error
    token, reply = result.value
    assert placeholders.PLACEHOLDER.fullmatch(token) and reply == f"sent to {token}"
    assert EMAIL not in result.stdout and TOKEN not in result.stdout
    assert SENT == [(EMAIL, "paid")]
    assert len(detokenisations(athena)) == 1
    program = next(r for r in athena.audit.records() if r.kind == "execution").payload
    assert TOKEN not in program and placeholders.placeholders_in(program)


@require_sandbox()
def test_reveal_needs_a_policy_that_grants_it(mail_athena):
    athena = mail_athena
    stored = athena.get(athena.remember(f"bill: {EMAIL}")).text
    code = f"import athena\nathena.privacy.reveal({stored!r})"
    denied = athena.execute(code)
    assert denied.error is not None and denied.error.type == "PermissionDeniedError"
    trusted = {"name": "trusted", "extends": "strict",
               "permissions": ["read", "write", "reveal"]}
    granted = athena.execute(code, policy=trusted)
    assert granted.ok, granted.error
    # what the program got was real; what it returns toward the model is concealed again
    assert granted.value == stored


def test_reveal_is_refused_to_a_bound_caller_without_the_permission(athena):
    from athena_core.calls import CallContext, bind

    stored = athena.get(athena.remember(f"bill: {EMAIL}")).text
    with bind(CallContext(scope=None, caller="mcp", permissions=frozenset({"read"}))), \
            pytest.raises(PermissionDeniedError, match="reveal"):
        athena.privacy.reveal(stored)


def test_when_the_audit_record_cannot_be_written_nothing_is_revealed(athena, monkeypatch):
    from athena_core.errors import StorageFullError

    stored = athena.get(athena.remember(f"bill: {EMAIL}")).text

    def full(*args, **kwargs):
        raise StorageFullError("The disk is full.")

    from athena_core.audit import AuditLog

    monkeypatch.setattr(AuditLog, "append", full)
    with pytest.raises(StorageFullError):
        athena.privacy.reveal(stored)


def test_an_export_the_audit_log_cannot_record_writes_nothing(athena, monkeypatch):
    import io

    from athena_core.audit import AuditLog
    from athena_core.errors import StorageFullError
    from athena_core.transfer import export_jsonl

    athena.remember(f"bill: {EMAIL}")

    def full(*args, **kwargs):
        raise StorageFullError("The disk is full.")

    monkeypatch.setattr(AuditLog, "append", full)
    out = io.StringIO()
    with pytest.raises(StorageFullError):
        export_jsonl(athena, out)
    assert out.getvalue() == ""


def test_an_events_labels_are_concealed_and_still_filter_by_the_value(athena, data_dir):
    import io

    from athena_core.transfer import export_jsonl, import_jsonl

    athena.episodic.record("Ticket opened", session=f"mail {EMAIL}", actor=EMAIL,
                           kind=f"call {PHONE}", outcome=f"reply to {EMAIL}")
    [event] = athena.episodic.timeline(actor=EMAIL)
    for label in (event.session, event.actor, event.kind, event.outcome):
        assert EMAIL not in label and PHONE not in label and placeholders.placeholders_in(label)
    assert athena.episodic.timeline(session=f"mail {EMAIL}", kind=f"call {PHONE}") == [event]
    assert [hit.id for hit in athena.episodic.search("ticket", actor=EMAIL)] == [event.id]
    athena.checkpoint()
    if not DATABASE_URL:
        assert_nowhere(data_dir, EMAIL, PHONE)
    plain = io.StringIO()
    export_jsonl(athena, plain, redact=True)
    assert athena.forget(session=f"mail {EMAIL}") == 1
    source = plain.getvalue().replace(event.actor, EMAIL).replace(event.session,
                                                                  f"mail {EMAIL}")
    assert EMAIL in source  # an export of a store that concealed nothing
    assert import_jsonl(athena, io.BytesIO(source.encode())).imported == 1
    [back] = athena.episodic.timeline(actor=EMAIL)
    assert back.actor == event.actor and back.session == event.session


# --- erasure by subject -----------------------------------------------------------------

@require_sandbox()
def test_forget_by_subject_erases_every_trace_of_the_value(athena_factory, data_dir):
    athena = athena_factory()
    fact = athena.remember(f"Jane's address is {EMAIL}")
    athena.semantic.update(fact, f"Jane's address is still {EMAIL}")
    athena.episodic.record("Jane wrote in", context={"from": EMAIL})
    athena.episodic.record("Replied to Jane", outcome=f"sent to {EMAIL}")
    kept = athena.remember(f"Call {PHONE} for support")
    program = athena.execute(f"import athena\nathena.remember('cc {EMAIL}')\n'{EMAIL}'")
    assert program.ok, program.error
    token = placeholders.placeholders_in(athena.get(fact).text)[0]

    events = athena.episodic.timeline()
    assert all(EMAIL not in json.dumps(event.to_dict()) for event in events)
    gone = athena.forget(subject=EMAIL)
    assert gone == 5  # both versions of the fact, two events, the program's memory
    assert athena.get(kept).text.startswith("Call [PHONE_")
    for query in (EMAIL, token):
        # Nothing erased comes back; the memory kept may, as a weak match (the hashing
        # embedder can put a word of its random placeholder in the query's bucket).
        hits = athena.recall(query)
        assert {hit.id for hit in hits} <= {kept}
        assert all(EMAIL not in hit.text and token not in hit.text for hit in hits)
    with pytest.raises(PlaceholderError):
        athena.privacy.reveal(token)
    record = [r for r in athena.audit.records() if r.kind == "forget"][-1]
    assert record.details["values"] == 1 and record.details["selector"] == "subject"
    assert all(token not in (r.payload or "") for r in athena.audit.records())
    athena.checkpoint()
    if not DATABASE_URL:
        assert_nowhere(data_dir, EMAIL, token)


def test_forget_by_subject_on_a_store_without_keys_makes_none(athena):
    """A store that never kept a sensitive value has no keys; erasing by subject finds
    the plain text and leaves the store without keys."""
    athena.remember("the Falkenstein rollout slipped a week")
    athena.remember("unrelated note")
    assert athena.forget(subject="Falkenstein") == 1
    assert not athena.privacy.keys.exist()
    assert [hit.text for hit in athena.recall("note")] == ["unrelated note"]


def test_forget_by_subject_erases_graph_entities_and_facts_holding_it(athena, data_dir):
    graph = athena.graph
    graph.entity(EMAIL, "person")
    graph.entity("Acme", "company")
    graph.entity("Jane Doe", "person", aliases=[f"mail {EMAIL}"])
    graph.relate(EMAIL, "works_at", "Acme")
    graph.observe("Acme", "contact", f"write to {EMAIL}")
    kept = graph.observe("Acme", "city", "Lyon")
    [token] = set(placeholders.placeholders_in(json.dumps(graph.current("Acme"))))
    gone = athena.forget(subject=EMAIL)
    assert gone == 0  # no memory held it
    assert [fact["id"] for fact in graph.current("Acme")] == [kept["id"]]
    with pytest.raises(UnknownEntityError):
        graph.current("Jane Doe")
    record = [r for r in athena.audit.records(kind="forget")][-1]
    assert record.details["graph"] == 4  # two entities, two facts
    athena.checkpoint()
    if not DATABASE_URL:
        assert_nowhere(data_dir, EMAIL, token)


def test_a_subject_too_short_to_be_specific_is_refused(athena):
    from athena_core.errors import InvalidArgumentError

    athena.remember("abc")
    with pytest.raises(InvalidArgumentError, match="at least 5 characters"):
        athena.forget(subject="abc")
    assert len(athena.recall("abc")) == 1


def test_a_value_whose_short_placeholder_is_taken_gets_a_longer_one(athena):
    vault = athena.privacy.vault
    digest = vault.digest(EMAIL, scope="default")
    short, longer = (placeholders.placeholder("email", suffix)
                     for suffix in list(placeholders.suffixes(bytes.fromhex(digest)))[:2])
    from athena_core.privacy.vault import Kept

    with athena.storage.write() as session:  # another value holds the short placeholder
        vault.keep(session, "default", [Kept("0" * 64, short, "email", "x@other.example")])
    stored = athena.get(athena.remember(f"to {EMAIL}")).text
    assert stored == f"to {longer}"
    assert athena.privacy.reveal(stored) == f"to {EMAIL}"
    assert athena.privacy.reveal(short) == "x@other.example"


def test_a_store_gets_keys_with_its_first_sensitive_value_even_inside_a_transaction(
        athena, data_dir):
    """A layer that stores text of its own making (no MemoryStore.conceal) is concealed in
    its transaction; the store's first keys are made in that same transaction."""
    import numpy as np

    from athena_core.storage.models import PrivacyKeyRow

    athena.remember("nothing sensitive here")
    assert not athena.privacy.keys.exist()
    store = athena.store
    with store.transaction() as tx:
        row = tx.insert(layer="semantic", text=f"raw {EMAIL}", scope="default",
                        vector=np.zeros(store.index.embedder.dimension, dtype=np.float32))
    assert EMAIL not in row.text and athena.privacy.keys.exist()
    assert athena.privacy.reveal(row.text) == f"raw {EMAIL}"
    with athena.storage.read() as session:
        assert session.query(PrivacyKeyRow).count() == 2
    [created] = [r for r in athena.audit.records() if r.kind == "key_operation"]
    assert created.details["operation"] == "create"


@pytest.mark.parametrize("joiner", [" ", "\n\x1e\n"])
def test_results_toward_a_model_are_concealed_string_by_string(athena, joiner):
    """Strings of a result are scanned together; a string holding the separator they are
    joined with is scanned alone, with the same outcome."""
    result = [{"text": f"mail {EMAIL}{joiner}now", "n": 3, "tags": ["ok", f"call {PHONE}"]},
              (TOKEN, None, 2.5)]
    concealed = athena.privacy.conceal_output(result, scope="default")
    assert concealed[0]["n"] == 3 and concealed[0]["tags"][0] == "ok"
    assert concealed[0]["text"].endswith(f"{joiner}now") and concealed[1][1:] == [None, 2.5]
    flat = json.dumps(concealed)
    assert EMAIL not in flat and PHONE not in flat and TOKEN not in flat
    assert athena.privacy.reveal(concealed[0]["text"]) == f"mail {EMAIL}{joiner}now"
    assert athena.privacy.reveal(concealed[1][0]) == TOKEN
