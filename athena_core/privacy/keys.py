"""The key hierarchy that protects sensitive values at rest.

One **master key** (32 bytes) comes from a key provider (``[privacy] key_provider``:
``file``, the default, ``env``, or a plugin's). It never encrypts a value itself: it
wraps the keys below it, which are stored wrapped in the ``privacy_keys`` table.

- **Data keys**, ``data`` version 1, 2, ...: AES-256-GCM keys that encrypt the values
  of the vault (:mod:`athena_core.privacy.vault`). ``athena keys rotate`` adds a version
  and re-encrypts every value under it; a version no value is left on can be retired.
- **The placeholder key**, ``index`` version 1: the HMAC key that placeholders are
  derived from (one per scope, derived from it). It is never rotated, since a new one
  would change every placeholder stored in memories.

Each wrapped key is AES-256-GCM under the master key with associated data naming its
purpose and version, so a wrapped key copied to another row does not unwrap. The
table also records which master key wrapped each key (``master_id``, an HMAC of a fixed
label under the master key), so a wrong master key is reported as such, not as damage.

``athena keys rotate --master`` replaces the master key itself (:meth:`Keys.rotate_master`):
the provider first keeps the new key *beside* the old one (:class:`StagingKeyProvider`),
one transaction re-wraps every key of the table under it, and only then does the
provider drop the old one, all under the provider's lock. A process killed before that
transaction commits left the table under the old key; one killed after it left the new
key staged: loads that find the table under the staged key use it, and the next
rotation finishes the swap first. Nothing is lost at any
point, and neither key is ever needed together with the other.
Nothing here is hand-rolled: ``cryptography`` does the AEAD, :mod:`hmac` the hashes.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import stat
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from athena_core._locks import file_lock
from athena_core._time import utcnow
from athena_core.errors import KeyUnavailableError, ProtectedValueError
from athena_core.storage.models import PrivacyKeyRow

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from sqlalchemy.orm import Session

    from athena_core.config import Config
    from athena_core.storage import Storage

__all__ = ["KEY_BYTES", "EnvKeyProvider", "FileKeyProvider", "KeyProvider",
           "KeyProviderContext", "KeyVersion", "Keys", "StagingKeyProvider", "decode_key",
           "open_sealed", "seal"]

#: The size of every key, in bytes (AES-256, HMAC-SHA256).
KEY_BYTES = 32
_NONCE_BYTES = 12
_MASTER_ID_LABEL = b"athena master key id v1"
#: ``Session.info`` key of the keys made in that write transaction, until it commits.
_PENDING = "athena_privacy_new_keys"


def seal(key: AESGCM, plaintext: bytes, associated: bytes) -> bytes:
    """``plaintext`` encrypted under ``key`` with a fresh random nonce: nonce + ciphertext
    (with its tag). ``associated`` is authenticated, not stored."""
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + key.encrypt(nonce, plaintext, associated)


def open_sealed(key: AESGCM, sealed: bytes, associated: bytes, *, what: str) -> bytes:
    """The plaintext of :func:`seal`'s output, or :class:`ProtectedValueError` naming
    ``what`` if it fails authentication (changed, moved, or another key)."""
    from cryptography.exceptions import InvalidTag

    try:
        return key.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], associated)
    except (InvalidTag, ValueError):
        raise ProtectedValueError(
            f"{what} failed authentication: its ciphertext was changed or moved from "
            "another row, or it is under another key. It was not decrypted.",
            hint="Restore the database from a backup; `athena audit verify` checks the "
                 "audit log for other changes.") from None


def _aead(key: bytes) -> AESGCM:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


# --- key providers ---------------------------------------------------------------------

@attrs.frozen
class KeyProviderContext:
    """What a key provider factory receives."""

    #: The instance's configuration (``config.data_dir``, ``config.privacy``).
    config: Config
    #: The process environment the configuration was read with.
    env: Mapping[str, str] = attrs.field(factory=lambda: dict(os.environ))

    @property
    def options(self) -> Mapping[str, Any]:
        """A key provider plugin's options: ``[privacy.key_options]``."""
        return self.config.privacy.key_options


@runtime_checkable
class KeyProvider(Protocol):
    """Hands out the master key (``athena_register_key_providers``)."""

    def load(self) -> bytes | None:
        """The master key (32 bytes), or ``None`` if there is none yet. Raise
        :class:`KeyUnavailableError` if there is one that cannot be read."""
        ...

    def create(self) -> bytes:
        """Make a new master key, keep it, and return it (called once, when the store has
        no keys yet). Raise :class:`KeyUnavailableError` if this provider cannot."""
        ...

    def describe(self) -> str:
        """Where the key is, for messages and ``athena keys status`` (never the key)."""
        ...


@runtime_checkable
class StagingKeyProvider(KeyProvider, Protocol):
    """A key provider that can replace its master key (``athena keys rotate --master``):
    it keeps a new key beside the current one until the store has moved to it."""

    def staged(self) -> bytes | None:
        """The new master key kept beside the current one, or ``None``."""
        ...

    def stage(self, key: bytes) -> None:
        """Keep ``key`` beside the current master key, durably, replacing a staged key
        left by a rotation that never committed. Raise :class:`KeyUnavailableError` if
        this provider cannot keep keys (it then takes a staged key from its user)."""
        ...

    def promote(self) -> str | None:
        """Make the staged key the master key, the old one gone (the store no longer
        needs it). Return what the user must still do, if the provider cannot do it
        itself (an environment variable to change), else ``None``."""
        ...

    def exclusive(self) -> contextlib.AbstractContextManager[object]:
        """Held across a whole rotation (stage, re-wrap, promote), so that two rotations,
        in any processes, never overwrite each other's staged key."""
        ...


def decode_key(text: str, where: str) -> bytes:
    """The master key held in ``text`` (32 bytes in base64, surrounding white space
    ignored), or :class:`KeyUnavailableError` saying that ``where`` holds no key."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (ValueError, TypeError):
        key = b""
    if len(key) != KEY_BYTES:
        raise KeyUnavailableError(
            f"{where} does not hold a key: it must be {KEY_BYTES} bytes in base64.",
            hint="Restore the key that this store was created with.")
    return key


def _encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii") + "\n"


class FileKeyProvider:
    """The master key in a file readable by its owner only (``[privacy] key_file``,
    by default ``keys/master.key`` in the data dir), created 0600 in a 0700 directory."""

    def __init__(self, context: KeyProviderContext) -> None:
        configured = context.config.privacy.key_file
        base = Path(context.config.data_dir)
        self.path = (base / Path(configured).expanduser()) if configured \
            else base / "keys" / "master.key"

    def describe(self) -> str:
        return f"the key file {self.path}"

    def load(self) -> bytes | None:
        return self._read(self.path, "key file")

    def create(self) -> bytes:
        key = secrets.token_bytes(KEY_BYTES)
        try:
            with self._writing(self.path, "create the key file"):
                self._write(key, lambda temporary: os.link(temporary, self.path))
        except FileExistsError:  # another process made one first
            existing = self.load()
            assert existing is not None
            return existing
        return key

    @property
    def staged_path(self) -> Path:
        return self.path.with_name(self.path.name + ".next")

    def staged(self) -> bytes | None:
        return self._read(self.staged_path, "staged key file")

    def stage(self, key: bytes) -> None:
        with self._writing(self.staged_path, "write the next master key to"):
            self._write(key, lambda temporary: os.replace(temporary, self.staged_path))

    def promote(self) -> None:
        with contextlib.suppress(FileNotFoundError), self._writing(
                self.path, "move the next master key into",
                after="The rotation itself is done: the store opens with the next key, "
                      f"kept in {self.staged_path}, and the next `athena keys rotate "
                      "--master` finishes the move first."):
            os.replace(self.staged_path, self.path)  # FileNotFoundError: another promoted it
            self._sync_directory()

    @contextlib.contextmanager
    def _writing(self, path: Path, doing: str,
                 after: str = "The key in place was not changed.") -> Iterator[None]:
        """Make the key directory (0700), and turn a failure to write in it (a full disk,
        a read-only directory) into a :class:`KeyUnavailableError` naming ``path``.
        ``FileExistsError`` and ``FileNotFoundError`` pass: callers expect them."""
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            yield
        except (FileExistsError, FileNotFoundError):
            raise
        except OSError as exc:
            raise KeyUnavailableError(
                f"Could not {doing} {path}: {exc.strerror or exc.__class__.__name__}. "
                f"{after}", hint="Free space on its disk or make its directory writable by "
                                 "this user, then try again.") from None

    def exclusive(self) -> contextlib.AbstractContextManager[object]:
        lock = self.path.with_name(f".{self.path.name}.rotation.lock")
        with self._writing(lock, "create the rotation's lock file"):
            return file_lock(lock)

    @staticmethod
    def _read(path: Path, what: str) -> bytes | None:
        try:
            text = path.read_text("ascii")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise KeyUnavailableError(
                f"The {what} {path} cannot be read ({exc.__class__.__name__}).",
                hint="Check its owner and mode (0600); `athena doctor` checks both.") from None
        return decode_key(text, f"The {what} {path}")

    def _write(self, key: bytes, place: Callable[[Path], None]) -> None:
        """Write ``key`` to a new 0600 file beside the key file, flushed, and ``place``
        it (link or rename it into its name); the directory is flushed after."""
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}."
                                        f"{threading.get_ident()}.tmp")
        with contextlib.suppress(FileNotFoundError):  # left by a killed process of this pid
            temporary.unlink()
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as file:
                file.write(_encode_key(key))
                file.flush()
                os.fsync(file.fileno())
            place(temporary)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
        self._sync_directory()

    def _sync_directory(self) -> None:
        with contextlib.suppress(OSError):
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)

    def problems(self) -> list[str]:
        """What is wrong with the key file, or a staged one (``athena doctor``):
        unreadable, not a key, or readable or writable by others."""
        found = []
        for path, read in ((self.path, self.load), (self.staged_path, self.staged)):
            if not path.exists():
                continue
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                found.append(f"{path} has mode {mode:04o}; other users may read it. "
                             f"Run: chmod 600 {path}")
            try:
                read()
            except KeyUnavailableError as exc:
                found.append(exc.message)
        return found


class EnvKeyProvider:
    """The master key in an environment variable (``[privacy] key_env``, by default
    ``ATHENA_MASTER_KEY``): 32 bytes in base64. It never makes one: set it yourself
    (``python -c "import base64,os;print(base64.b64encode(os.urandom(32)).decode())"``)."""

    def __init__(self, context: KeyProviderContext) -> None:
        self.variable = context.config.privacy.key_env
        self._value = context.env.get(self.variable)
        #: The next master key, for ``athena keys rotate --master``: set by the user.
        self.next_variable = f"{self.variable}_NEXT"
        self._next = context.env.get(self.next_variable)

    def describe(self) -> str:
        return f"the environment variable {self.variable}"

    def load(self) -> bytes | None:
        if not self._value:
            return None
        return decode_key(self._value, f"The environment variable {self.variable}")

    def create(self) -> bytes:
        raise KeyUnavailableError(
            f"The environment variable {self.variable} is not set, and the env key "
            "provider does not make keys.",
            hint=f"Set {self.variable} to 32 random bytes in base64, e.g. the output of "
                 "python -c \"import base64,os;print(base64.b64encode(os.urandom(32))"
                 ".decode())\", and keep a copy: without it nothing encrypted can be read.")

    def staged(self) -> bytes | None:
        if not self._next:
            return None
        return decode_key(self._next, f"The environment variable {self.next_variable}")

    def stage(self, key: bytes) -> None:
        raise KeyUnavailableError(
            f"The env key provider does not make keys: set {self.next_variable} to the new "
            "master key to rotate to.",
            hint=f"Set {self.next_variable} to 32 random bytes in base64 (python -c \"import "
                 "base64,os;print(base64.b64encode(os.urandom(32)).decode())\"), keep a copy, "
                 "and run the rotation again.")

    def exclusive(self) -> contextlib.AbstractContextManager[object]:
        return contextlib.nullcontext()  # it writes nothing: rotations take the same key

    def promote(self) -> str:
        return (f"Set {self.variable} to the value of {self.next_variable}, then unset "
                f"{self.next_variable}: this store's keys are now wrapped under it, and "
                f"the old value of {self.variable} no longer opens them.")


# --- the hierarchy ---------------------------------------------------------------------

@attrs.frozen
class KeyVersion:
    """One key of the hierarchy, as ``athena keys status`` reports it."""

    purpose: str
    version: int
    retired: bool
    #: How many vault values are encrypted under it (data keys only).
    values: int | None = None


def _master_id(master: bytes) -> str:
    return hmac.new(master, _MASTER_ID_LABEL, hashlib.sha256).hexdigest()[:32]


def _wrap_label(purpose: str, version: int) -> bytes:
    return f"athena/privacy_keys/{purpose}/{version}".encode()


class Keys:
    """The key hierarchy of one store: the master key from ``provider`` and the keys it
    wraps in the ``privacy_keys`` table, made on first use and cached."""

    def __init__(self, storage: Storage, provider: KeyProvider, *,
                 on_create: Callable[[Session], None] | None = None) -> None:
        self.storage = storage
        self.provider = provider
        #: Called in the transaction that makes the store's first keys (its audit record).
        self.on_create = on_create
        self._lock = threading.Lock()
        self._master: bytes | None = None
        self._data: dict[int, AESGCM] = {}
        self._index: bytes | None = None
        self._current: int | None = None

    def prepare(self) -> None:
        """Load the store's keys if it has any (when the instance opens). Never makes
        keys - the first sensitive value does - and never fails: a key that cannot be had
        is reported when a value needs it, since memories stay readable in placeholder
        form without it."""
        with contextlib.suppress(KeyUnavailableError), self._lock:
            if self.exist():
                self._refresh()

    # -- what the vault uses --

    def placeholder_key(self, scope: str, session: Session | None = None) -> bytes:
        """The HMAC key that ``scope``'s placeholders are derived from. ``session``: the
        write transaction the caller is in, if any (the store's first keys are then made
        in it)."""
        index = self._keys(session)[0]
        return hmac.new(index, b"athena/placeholders/" + scope.encode("utf-8"),
                        hashlib.sha256).digest()

    def current(self, session: Session | None = None) -> tuple[int, AESGCM]:
        """The data key new values are encrypted under: (version, key)."""
        _, version, key = self._keys(session)
        return version, key

    def data_key(self, version: int) -> AESGCM:
        """Data key ``version``; :class:`KeyUnavailableError` if it does not exist."""
        key = self._data.get(version)
        if key is None:
            with self._lock:
                self._refresh()
            key = self._data.get(version)
            if key is None:
                raise KeyUnavailableError(
                    f"Data key version {version} is not in this store's key table.",
                    hint="The value was encrypted by a store with other keys; restore the "
                         "privacy_keys table from the same backup as the values.")
        return key

    # -- rotation --

    def add_data_version(self, note: Callable[[Session, int], None] | None = None) -> int:
        """Make a new data key version, the one new values are encrypted under; return it.
        ``note(session, version)`` writes more in the same transaction (a rotation's
        target)."""
        with self._lock:
            master = self._loaded_master()
            with self.storage.write() as session:
                newest = session.scalar(
                    select(PrivacyKeyRow.version).where(PrivacyKeyRow.purpose == "data")
                    .order_by(PrivacyKeyRow.version.desc()).limit(1)) or 0
                session.add(self._wrapped_row(master, "data", newest + 1))
                if note is not None:
                    note(session, newest + 1)
            self._refresh()
            return newest + 1

    def forget_version(self, session: Session, version: int) -> None:
        """Retire data key ``version`` in ``session``: its wrapped key is erased, so
        nothing can be decrypted with it again (the caller checked no value is on it)."""
        session.execute(update(PrivacyKeyRow).where(
            PrivacyKeyRow.purpose == "data", PrivacyKeyRow.version == version)
            .values(wrapped=b"", retired_at=utcnow()))
        with self._lock:
            self._data.pop(version, None)

    def rotate_master(self, note: Callable[[Session], object]) -> str | None:
        """Wrap every key of the table under a new master key and have the provider drop
        the old one (see the module's documentation for why a kill at any point loses
        nothing). ``note(session)`` writes the audit record in the re-wrapping
        transaction. Returns what the provider says the user must still do, if anything.
        """
        provider = self.provider
        if not isinstance(provider, StagingKeyProvider):
            raise KeyUnavailableError(
                f"The master key in {provider.describe()} cannot be replaced by Athena: its "
                "key provider does not keep a second key.",
                hint="Replace the key where the provider keeps it only together with a "
                     "store made under the new key (export, then import).")
        with provider.exclusive(), self._lock:
            # Under the master key now (another process may have rotated), and a swap a
            # killed rotation left unfinished finished first: only a rotation, holding
            # the provider's lock, ever promotes a staged key.
            self._refresh(finish_swap=True)
            old = self._loaded_master()
            new = provider.staged()
            if new is None or hmac.compare_digest(new, old):
                new = secrets.token_bytes(KEY_BYTES)
                provider.stage(new)
            with self.storage.write() as session:
                for row in session.scalars(select(PrivacyKeyRow)):
                    if row.retired_at is None:
                        label = _wrap_label(row.purpose, row.version)
                        key = open_sealed(_aead(old), row.wrapped, label,
                                          what=f"Key {row.purpose} version {row.version}")
                        row.wrapped = seal(_aead(new), key, label)
                    row.master_id = _master_id(new)
                note(session)
            self._master = new
            return provider.promote()

    def versions(self) -> list[KeyVersion]:
        """Every key of the table (no key material)."""
        with self.storage.read() as session:
            rows = session.execute(select(PrivacyKeyRow.purpose, PrivacyKeyRow.version,
                                          PrivacyKeyRow.retired_at)
                                   .order_by(PrivacyKeyRow.purpose, PrivacyKeyRow.version))
            return [KeyVersion(purpose, version, retired_at is not None)
                    for purpose, version, retired_at in rows]

    def exist(self) -> bool:
        """Whether this store has keys yet (a store without sensitive values has none)."""
        with self.storage.read() as session:
            return session.scalar(select(PrivacyKeyRow.version).limit(1)) is not None

    # -- loading --

    def _keys(self, session: Session | None) -> tuple[bytes, int, AESGCM]:
        """(placeholder key, current data key version, its key), made if the store has
        none: in ``session`` if the caller is inside a write transaction (a second one
        would wait for the first), else in a transaction of their own."""
        pending = None if session is None else session.info.get(_PENDING)
        if pending is not None:
            return pending  # type: ignore[no-any-return]
        if self._index is None or self._current is None:
            with self._lock:
                if self._index is None or self._current is None:
                    made = self._ensure(session)
                    if made is not None:
                        return made
        assert self._index is not None and self._current is not None
        return self._index, self._current, self.data_key(self._current)

    def _loaded_master(self) -> bytes:
        if self._master is None:
            master = self.provider.load()
            if master is None:
                if self.exist():
                    raise KeyUnavailableError(
                        f"This store's sensitive values are encrypted under a master key "
                        f"that {self.provider.describe()} does not hold.",
                        hint="Restore the key this store was created with (the key file, "
                             "the variable or the keyring entry); see docs/privacy.md, "
                             "'Losing the key'.")
                master = self.provider.create()
            self._master = master
        return self._master

    def _ensure(self, session: Session | None) -> tuple[bytes, int, AESGCM] | None:
        """Load the keys, making the first ones if the table has none. Made in the
        caller's ``session``, they are returned and kept in ``session.info`` (cached only
        once committed, when the next load reads them); else ``None``."""
        master = self._loaded_master()
        self._refresh()
        if self._index is not None and self._current is not None:
            return None
        if session is not None:
            index, data = secrets.token_bytes(KEY_BYTES), secrets.token_bytes(KEY_BYTES)
            session.add(self._wrapped_row(master, "index", 1, index))
            session.add(self._wrapped_row(master, "data", 1, data))
            if self.on_create is not None:
                self.on_create(session)
            session.info[_PENDING] = (index, 1, _aead(data))
            return session.info[_PENDING]  # type: ignore[no-any-return]
        try:
            with self.storage.write() as own:
                present = {purpose for purpose, in own.execute(select(PrivacyKeyRow.purpose))}
                missing = [purpose for purpose in ("index", "data") if purpose not in present]
                for purpose in missing:
                    own.add(self._wrapped_row(master, purpose, 1))
                if missing and self.on_create is not None:
                    self.on_create(own)
        except IntegrityError:
            pass  # another process made them first: use those
        self._refresh()
        return None

    def _refresh(self, *, finish_swap: bool = False) -> None:
        master = self._loaded_master()
        with self.storage.read() as session:
            rows = list(session.scalars(select(PrivacyKeyRow)))
        live = [row for row in rows if row.retired_at is None]
        if any(not hmac.compare_digest(row.master_id, _master_id(master)) for row in live):
            master = self._master = self._master_of(live, finish_swap=finish_swap)
        for row in rows:
            if row.retired_at is not None:
                self._data.pop(row.version, None)
                continue
            key = open_sealed(_aead(master), row.wrapped, _wrap_label(row.purpose, row.version),
                              what=f"Key {row.purpose} version {row.version}")
            if row.purpose == "index":
                self._index = key
            else:
                self._data[row.version] = _aead(key)
        data = sorted(row.version for row in rows
                      if row.purpose == "data" and row.retired_at is None)
        self._current = data[-1] if data else None

    def _master_of(self, rows: list[PrivacyKeyRow], *, finish_swap: bool) -> bytes:
        """The master key ``rows`` are wrapped under, when it is not the one loaded: the
        provider's key (another process rotated it), or its staged key (a rotation that
        committed and was killed before the provider dropped the old key). The staged
        key is then promoted only if ``finish_swap`` (a rotation, holding the provider's
        lock); any other load just uses it."""
        wanted = {row.master_id for row in rows}
        provider = self.provider
        current = provider.load()
        if current is not None and wanted == {_master_id(current)}:
            return current
        staged = provider.staged() if isinstance(provider, StagingKeyProvider) else None
        if staged is not None and wanted == {_master_id(staged)}:
            if finish_swap:
                assert isinstance(provider, StagingKeyProvider)
                provider.promote()
            return staged
        raise KeyUnavailableError(
            f"The master key from {provider.describe()} is not the key this "
            "store's values are encrypted under.",
            hint="Restore the right key; see docs/privacy.md, 'Losing the key'.")

    @staticmethod
    def _wrapped_row(master: bytes, purpose: str, version: int, key: bytes | None = None
                     ) -> PrivacyKeyRow:
        key = key or secrets.token_bytes(KEY_BYTES)
        return PrivacyKeyRow(purpose=purpose, version=version,
                             wrapped=seal(_aead(master), key, _wrap_label(purpose, version)),
                             master_id=_master_id(master), created_at=utcnow(),
                             retired_at=None)

