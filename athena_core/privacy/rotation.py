"""Key rotation: every vault value re-encrypted under a new data key, resumably.

``athena keys rotate`` (:func:`rotate`) adds a data key version, notes it as the target
of the rotation in ``athena_state``, and re-encrypts the values still on other versions
a batch per transaction. A batch is all or nothing and a value records its version, so
a rotation killed at any point loses nothing and, run again, continues with the values
left: none is re-encrypted twice. ``athena keys retire`` (:func:`retire`) then drops an
old version's key once no value is on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
from sqlalchemy import delete, func, select

from athena_core.errors import InvalidArgumentError
from athena_core.storage.models import PrivacyKeyRow, SensitiveValueRow, StateRow

if TYPE_CHECKING:
    from athena_core.audit import AuditLog
    from athena_core.privacy.keys import KeyVersion
    from athena_core.privacy.vault import Vault

__all__ = ["ROTATION_KEY", "RotationReport", "key_status", "retire", "rotate"]

#: ``athena_state`` key of a rotation under way: the data key version it moves values to.
ROTATION_KEY = "privacy_rotation_target"
_BATCH = 500


@attrs.frozen
class RotationReport:
    """What one :func:`rotate` did."""

    #: The data key version every value is now under.
    version: int
    #: Values re-encrypted by this call (a resumed rotation counts only its own).
    rewrapped: int
    #: Whether this call continued a rotation that had been interrupted.
    resumed: bool

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def rotate(vault: Vault, audit: AuditLog, *, progress: Callable[[int, int], None] | None = None,
           batch: int = _BATCH) -> RotationReport:
    """Re-encrypt every value of the vault under a new data key version (or, after an
    interrupted rotation, under the version it was moving to); one ``key_operation``
    audit record."""
    keys, storage = vault.keys, vault.storage
    keys.current()  # the store's keys exist (made now if it has none)
    with storage.read() as session:
        target_text = session.scalar(select(StateRow.value).where(StateRow.key == ROTATION_KEY))
    resumed = target_text is not None
    if target_text is None:
        target = keys.add_data_version(
            lambda session, version: session.add(StateRow(key=ROTATION_KEY,
                                                          value=str(version))))
    else:
        target = int(target_text)
    total = _count_off(vault, target)
    done = 0
    while True:
        with storage.write() as session:
            rows = list(session.scalars(
                select(SensitiveValueRow).where(SensitiveValueRow.key_version != target)
                .order_by(SensitiveValueRow.pk).limit(batch)))
            for row in rows:
                vault.rewrap(session, row, target)
        done += len(rows)
        if progress is not None:
            progress(min(done, total), total)
        if len(rows) < batch:
            break
    with storage.write() as session:
        session.execute(delete(StateRow).where(StateRow.key == ROTATION_KEY))
        audit.append("key_operation", scope="*", status="ok",
                     details={"operation": "rotate", "version": target, "rewrapped": done,
                              "resumed": resumed}, session=session)
    return RotationReport(target, done, resumed)


def retire(vault: Vault, audit: AuditLog, version: int) -> None:
    """Drop data key ``version``: refused while it is the current one or a value is on
    it. Its wrapped key is deleted, so nothing can be decrypted with it again."""
    keys, storage = vault.keys, vault.storage
    current, _ = keys.current()
    if version == current:
        raise InvalidArgumentError(
            f"Data key version {version} is the current one; values are encrypted under it.",
            hint="Rotate first (athena keys rotate), then retire the old version.",
            argument="version")
    with storage.write() as session:
        exists = session.scalar(select(PrivacyKeyRow.version).where(
            PrivacyKeyRow.purpose == "data", PrivacyKeyRow.version == version))
        if exists is None:
            raise InvalidArgumentError(f"There is no data key version {version}.",
                                       hint="athena keys status lists them.",
                                       argument="version")
        left = session.scalar(select(func.count()).select_from(SensitiveValueRow)
                              .where(SensitiveValueRow.key_version == version)) or 0
        if left:
            raise InvalidArgumentError(
                f"{left:,} values are still encrypted under data key version {version}.",
                hint="Run athena keys rotate (again, if one was interrupted or another "
                     "process wrote meanwhile), then retire it.", argument="version")
        keys.forget_version(session, version)
        audit.append("key_operation", scope="*", status="ok",
                     details={"operation": "retire", "version": version}, session=session)


def key_status(vault: Vault) -> dict[str, Any]:
    """The key provider, each key version with how many values are under it, and the
    rotation under way, if any (no key material)."""
    keys, storage = vault.keys, vault.storage
    with storage.read() as session:
        counts = dict(session.execute(
            select(SensitiveValueRow.key_version, func.count())
            .group_by(SensitiveValueRow.key_version)).all())
        target = session.scalar(select(StateRow.value).where(StateRow.key == ROTATION_KEY))
    versions: list[KeyVersion] = keys.versions()
    return {
        "provider": keys.provider.describe(),
        "keys": [attrs.asdict(attrs.evolve(v, values=counts.get(v.version, 0)
                                           if v.purpose == "data" else None))
                 for v in versions],
        "values": sum(counts.values()),
        "rotation_target": None if target is None else int(target),
    }


def _count_off(vault: Vault, target: int) -> int:
    with vault.storage.read() as session:
        return session.scalar(select(func.count()).select_from(SensitiveValueRow).where(
            SensitiveValueRow.key_version != target)) or 0
