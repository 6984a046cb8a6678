"""The ``keyring`` key provider against real keyring backends: a file-based keyring
(keyrings.alt), keyring's own ``fail`` backend (what ``keyring`` selects where no
backend is available) and its ``null`` backend (which keeps nothing)."""

from __future__ import annotations

import base64
import configparser
import multiprocessing
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import keyring
import pytest
from athena_core import Athena
from athena_core.errors import KeyUnavailableError, OptionError
from athena_core.privacy.keys import KEY_BYTES, KeyProviderContext
from keyring_test_helpers import FILE_BACKEND, keyring_config

from athena_keyring import KeyringKeyProvider

EMAIL = "jane.doe@acme-corp.io"
TOKEN = "ghp_R8x2kLm9Qw3Zt7Vb1Nc4Hy6Ju0Pd5Sf2Ga8E"
TEXT = f"Mail {EMAIL}; the deploy token is {TOKEN}"


def provider(data_dir: Path, **key_options: str) -> KeyringKeyProvider:
    return KeyringKeyProvider(KeyProviderContext(keyring_config(data_dir, **key_options)))


def stored_key(data_dir: Path, service: str = "athena") -> bytes | None:
    """The master key in the keyring entry of ``data_dir``, read with keyring's API."""
    text = keyring.get_password(service, str(data_dir))
    return None if text is None else base64.b64decode(text, validate=True)


def forms(value: str) -> set[bytes]:
    """``value`` and the encodings a leak could take."""
    return {value.encode(), value.lower().encode(), quote(value).encode(),
            value.encode().hex().encode(), base64.b64encode(value.encode())}


def key_forms(key: bytes) -> set[str]:
    return {base64.b64encode(key).decode(), key.hex(), key.hex().upper(), repr(key)}


# --- through the front door --------------------------------------------------------------

def test_the_store_keeps_its_key_in_the_keyring_and_reveals_after_reopening(
        open_athena: Callable[..., Athena], data_dir: Path, keyring_file: Path) -> None:
    athena = open_athena()
    memory_id = athena.remember(TEXT, metadata={"contact": EMAIL})
    stored = athena.get(memory_id).text
    assert EMAIL not in stored and TOKEN not in stored
    master = stored_key(data_dir)
    assert master is not None and len(master) == KEY_BYTES
    athena.close()

    reopened = open_athena()
    assert reopened.get(memory_id).text == stored
    assert reopened.privacy.reveal(stored) == TEXT  # byte for byte
    assert stored_key(data_dir) == master  # read, not made again
    assert not (data_dir / "keys").exists()  # no key file beside the data


def test_the_keyring_entry_holds_the_key_and_no_value(
        open_athena: Callable[..., Athena], data_dir: Path, keyring_file: Path) -> None:
    athena = open_athena()
    athena.remember(TEXT)
    # The file-based keyring stores each entry base64-encoded under [service] username.
    parser = configparser.RawConfigParser()
    parser.read(keyring_file, encoding="utf-8")
    entries = [base64.decodebytes(parser.get(section, option).encode())
               for section in parser.sections() for option in parser.options(section)]
    master = stored_key(data_dir)
    assert master is not None
    assert entries == [base64.b64encode(master)]  # one entry: the key, nothing else
    for content in (keyring_file.read_bytes(), *entries):
        assert not [form for value in (EMAIL, TOKEN) for form in forms(value)
                    if form in content]


def test_describe_names_the_backend_and_entry_and_never_the_key(
        open_athena: Callable[..., Athena], data_dir: Path, keyring_file: Path) -> None:
    athena = open_athena()
    athena.remember(TEXT)
    described = athena.privacy.key_status()["provider"]
    assert described == (f'the keyring {FILE_BACKEND}, entry service "athena", '
                         f'username "{data_dir}"')
    master = stored_key(data_dir)
    assert master is not None
    assert not [form for form in key_forms(master) if form in described]


def test_options_choose_the_entry(open_athena: Callable[..., Athena], data_dir: Path,
                                  keyring_file: Path) -> None:
    athena = open_athena(service="acme-athena", username="production")
    stored = athena.get(athena.remember(TEXT)).text
    text = keyring.get_password("acme-athena", "production")
    assert text is not None and len(base64.b64decode(text)) == KEY_BYTES
    assert stored_key(data_dir) is None
    assert athena.privacy.reveal(stored) == TEXT


@pytest.mark.parametrize(("options", "message"), [
    ({"servce": "athena"}, "Unknown keyring key provider option(s) 'servce' in "
                           "[privacy.key_options]; valid: service, username."),
    ({"username": ""}, "[privacy.key_options] username must be a non-empty string"),
])
def test_invalid_options_are_refused_when_the_store_opens(
        data_dir: Path, keyring_file: Path, options: dict[str, str], message: str) -> None:
    with pytest.raises(OptionError) as caught:
        Athena.open(config=keyring_config(data_dir, **options))
    assert message in str(caught.value)
    assert "'keyring'" in str(caught.value)  # the plugin is named


def test_a_missing_entry_of_a_store_with_keys_is_refused(
        open_athena: Callable[..., Athena], data_dir: Path, keyring_file: Path) -> None:
    athena = open_athena()
    stored = athena.get(athena.remember(TEXT)).text
    athena.close()
    keyring.delete_password("athena", str(data_dir))

    reopened = open_athena()
    assert "[EMAIL_" in reopened.recall("deploy token")[0].text  # placeholders still read
    with pytest.raises(KeyUnavailableError, match="does not hold"):
        reopened.privacy.reveal(stored)
    assert stored_key(data_dir) is None  # no new key was made over the lost one


@pytest.mark.parametrize("entry", [
    "not a key",
    base64.b64encode(b"\x01" * 16).decode(),  # base64, but 16 bytes
    base64.b64encode(b"\x01" * KEY_BYTES).decode()[:-2] + "!!",
])
def test_a_malformed_entry_is_refused(open_athena: Callable[..., Athena], data_dir: Path,
                                      keyring_file: Path, entry: str) -> None:
    athena = open_athena()
    stored = athena.get(athena.remember(TEXT)).text
    athena.close()
    keyring.set_password("athena", str(data_dir), entry)

    with pytest.raises(KeyUnavailableError, match="does not hold a key") as caught:
        open_athena().privacy.reveal(stored)
    assert FILE_BACKEND in str(caught.value)
    assert keyring.get_password("athena", str(data_dir)) == entry  # left as it was


# --- backends that cannot keep a key ----------------------------------------------------

def test_no_available_backend_is_refused_with_what_to_do(
        data_dir: Path, select_backend: Callable[[str], Any]) -> None:
    select_backend("keyring.backends.fail.Keyring")
    keys = provider(data_dir)
    with pytest.raises(KeyUnavailableError) as caught:
        keys.load()
    message = str(caught.value)
    assert "keyring.backends.fail.Keyring" in message and "NoKeyringError" in message
    assert "PYTHON_KEYRING_BACKEND" in message
    with pytest.raises(KeyUnavailableError, match="NoKeyringError"):
        keys.create()
    assert keys.describe().startswith("the keyring keyring.backends.fail.Keyring, entry")


def test_storing_a_sensitive_value_without_a_backend_stores_nothing(
        open_athena: Callable[..., Athena], select_backend: Callable[[str], Any]) -> None:
    select_backend("keyring.backends.fail.Keyring")
    athena = open_athena()
    with pytest.raises(KeyUnavailableError, match="NoKeyringError"):
        athena.remember(TEXT)
    assert athena.recall("deploy token") == []


def test_a_backend_that_keeps_nothing_is_refused(
        data_dir: Path, select_backend: Callable[[str], Any]) -> None:
    select_backend("keyring.backends.null.Keyring")
    with pytest.raises(KeyUnavailableError, match="did not keep the key"):
        provider(data_dir).create()


# --- making the key ----------------------------------------------------------------------

def test_create_keeps_a_key_that_is_already_there(data_dir: Path,
                                                  keyring_file: Path) -> None:
    existing = base64.b64encode(b"\x07" * KEY_BYTES).decode()
    keyring.set_password("athena", str(data_dir), existing)
    assert provider(data_dir).create() == b"\x07" * KEY_BYTES
    assert keyring.get_password("athena", str(data_dir)) == existing


def _create_in_child(data_dir: Path, start: Any, results: Any) -> None:
    keys = provider(data_dir)
    start.wait()
    try:
        results.put(keys.create().hex())
    except KeyUnavailableError as exc:
        results.put(f"error: {exc.message}")


def test_processes_creating_the_key_at_once_make_one(data_dir: Path,
                                                     keyring_file: Path) -> None:
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(4), context.Queue()
    children = [context.Process(target=_create_in_child, args=(data_dir, start, results))
                for _ in range(4)]
    for child in children:
        child.start()
    made = [results.get(timeout=60) for _ in children]
    for child in children:
        child.join(timeout=60)
    master = stored_key(data_dir)
    assert master is not None
    assert made == [master.hex()] * 4


def test_rotating_the_master_key_replaces_the_entry_and_keeps_every_value(
        open_athena: Callable[..., Athena], data_dir: Path, keyring_file: Path) -> None:
    athena = open_athena()
    memory_id = athena.remember(TEXT)
    stored = athena.get(memory_id).text
    old = stored_key(data_dir)
    assert athena.privacy.rotate_master_key() is None
    new = stored_key(data_dir)
    assert new is not None and new != old
    assert keyring.get_password("athena", f"{data_dir} (next)") is None
    assert athena.privacy.reveal(stored) == TEXT
    athena.close()
    assert open_athena().privacy.reveal(stored) == TEXT
    parser = configparser.RawConfigParser()
    parser.read(keyring_file, encoding="utf-8")
    entries = [base64.decodebytes(parser.get(section, option).encode())
               for section in parser.sections() for option in parser.options(section)]
    assert entries == [base64.b64encode(new)]  # the old key and the staged entry are gone
