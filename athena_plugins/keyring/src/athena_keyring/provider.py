"""The master key in the operating system's keyring, through the ``keyring`` package.

One keyring entry holds the master key, 32 bytes in base64: its service is
``[privacy.key_options] service`` (``"athena"``) and its username
``[privacy.key_options] username``, by default the data dir's resolved path, so that
each data dir has its own key. The keyring backend is the one ``keyring`` selects for
the process (the platform's keyring, or the one named by ``PYTHON_KEYRING_BACKEND`` or
``keyringrc.cfg``).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hmac
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
from athena_core._locks import file_lock
from athena_core.errors import KeyUnavailableError
from athena_core.options import PluginOptions
from athena_core.privacy.keys import KEY_BYTES, KeyProviderContext, decode_key

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

__all__ = ["KeyringKeyProvider", "KeyringOptions"]

_T = TypeVar("_T")

#: The file whose lock is held while a key is made, in the data dir: two processes
#: opening a new store at once make one key, never two.
LOCK_FILE = "keyring.lock"

_HINT = ("Check that the keyring is unlocked and that its backend works (`keyring "
         "diagnose`, `keyring --list-backends`); choose a backend with "
         "PYTHON_KEYRING_BACKEND, or another [privacy] key_provider.")


def _text(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    _checker().text(attribute.name, value)


@functools.cache
def _checker() -> PluginOptions:
    return PluginOptions("keyring key provider", "[privacy.key_options]",
                         KeyringOptions.names())


@attrs.frozen
class KeyringOptions:
    """Where the ``keyring`` key provider keeps the master key; every field is an option."""

    #: The keyring entry's service name.
    service: str = attrs.field(default="athena", validator=_text)
    #: The keyring entry's username; ``None``: the data dir's resolved path.
    username: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(_text))

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(field.name for field in attrs.fields(cls))

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> KeyringOptions:
        """Options from ``[privacy.key_options]``; unknown names are an error."""
        _checker().check_names(options)
        return cls(**dict(options))


def _backend_name(backend: object) -> str:
    kind = type(backend)
    return f"{kind.__module__}.{kind.__qualname__}"


class KeyringKeyProvider:
    """Keeps the master key in one entry of the OS keyring (key provider ``keyring``)."""

    def __init__(self, context: KeyProviderContext) -> None:
        options = KeyringOptions.from_mapping(context.options)
        self.service = options.service
        self.username = options.username or str(context.config.data_dir)
        self.lock_path = Path(context.config.data_dir) / LOCK_FILE

    @property
    def entry(self) -> str:
        """The entry, as users see it: ``service "athena", username "/home/me/.athena"``."""
        return self._entry(self.username)

    def describe(self) -> str:
        try:
            backend = f"the keyring {_backend_name(self._backend())}"
        except KeyUnavailableError:
            backend = "the keyring (whose backend cannot be loaded)"
        return f"{backend}, entry {self.entry}"

    def load(self) -> bytes | None:
        return self._read(self.username)

    def create(self) -> bytes:
        with self._locked():
            existing = self.load()
            if existing is not None:  # another process made it while this one waited
                return existing
            key = secrets.token_bytes(KEY_BYTES)
            self._write(self.username, key)
            return key

    # -- replacing the master key (``athena keys rotate --master``) -------------------

    @property
    def staged_username(self) -> str:
        """The entry of a new master key kept beside the current one during a rotation."""
        return f"{self.username} (next)"

    def staged(self) -> bytes | None:
        return self._read(self.staged_username)

    def stage(self, key: bytes) -> None:
        with self._locked():
            self._write(self.staged_username, key)

    def promote(self) -> None:
        with self._locked():
            key = self.staged()
            if key is None:  # another process promoted it
                return
            self._write(self.username, key)
            backend = self._backend()
            self._calling(backend, "delete", lambda: backend.delete_password(
                self.service, self.staged_username))

    # -- entries -----------------------------------------------------------------------

    def _read(self, username: str) -> bytes | None:
        backend = self._backend()
        text = self._calling(backend, "read",
                             lambda: backend.get_password(self.service, username))
        if text is None:
            return None
        return decode_key(text, f"The keyring entry {self._entry(username)} of "
                                f"{_backend_name(backend)}")

    def _write(self, username: str, key: bytes) -> None:
        """Write ``key`` to entry ``username`` and read it back."""
        backend = self._backend()
        encoded = base64.b64encode(key).decode("ascii")
        self._calling(backend, "write",
                      lambda: backend.set_password(self.service, username, encoded))
        kept = self._read(username)
        if kept is None or not hmac.compare_digest(kept, key):
            raise KeyUnavailableError(
                f"The keyring {_backend_name(backend)} did not keep the key written to "
                f"its entry {self._entry(username)}: reading it back gave "
                f"{'nothing' if kept is None else 'another key'}.",
                hint="Choose a keyring backend that stores entries (`keyring "
                     "--list-backends`, PYTHON_KEYRING_BACKEND), or another "
                     "[privacy] key_provider.")

    def _entry(self, username: str) -> str:
        return f'service "{self.service}", username "{username}"'

    # -- the keyring -------------------------------------------------------------------

    def _backend(self) -> KeyringBackend:
        import keyring

        return self._calling(None, "load the backend for", keyring.get_keyring)

    def _calling(self, backend: object, doing: str, action: Callable[[], _T]) -> _T:
        """``action()``; any failure of the keyring is a :class:`KeyUnavailableError`
        naming the backend and the entry (never a key)."""
        from keyring.errors import KeyringError

        try:
            return action()
        except KeyringError as exc:  # keyring's own errors say what is wrong
            reason = f"{exc.__class__.__name__}: {exc}"
        except Exception as exc:  # a backend's (D-Bus, files, ...): named, not quoted
            reason = exc.__class__.__name__
        where = "the keyring" if backend is None else f"the keyring {_backend_name(backend)}"
        raise KeyUnavailableError(
            f"Athena cannot {doing} the master key's entry {self.entry} in {where} "
            f"({reason}).", hint=_HINT) from None

    def _locked(self) -> contextlib.AbstractContextManager[object]:
        """Hold the data dir's key lock (processes on other data dirs are not held)."""
        return file_lock(self.lock_path)

    def exclusive(self) -> contextlib.AbstractContextManager[object]:
        return file_lock(self.lock_path.with_name(f"{LOCK_FILE}.rotation"))
