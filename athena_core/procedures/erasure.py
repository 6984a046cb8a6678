"""Erasing procedures by subject: ``forget(subject=...)`` reaching the procedures' git store.

Git keeps every version, so a procedure any version of which holds the subject (its
value or its placeholder, case ignored) is erased from the whole history: the
repository's commits are rewritten without it, commit messages that held the subject are
erased, and every object only the old history reached is deleted
(:meth:`~athena_core.procedures.repository.ProcedureRepository.erase`). Procedures are
shared by every scope, so this reaches them whichever scope the forget runs in.

The catalog's rows follow in one transaction that also notes the erasure under
:data:`ERASING_KEY`; the branch moves and old objects go after it. A process killed in
between leaves the note, and the next :meth:`ProcedureCatalog.reconcile` (in any process)
completes the erasure before it reads the history again.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from athena_core.procedures.repository import ERASED_MESSAGE, Rewrite
from athena_core.storage.models import ProcedureRow, ProcedureVersionRow, StateRow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from athena_core.procedures.catalog import ProcedureCatalog

__all__ = ["ERASING_KEY", "erase_holding", "finish_interrupted"]

#: The ``athena_state`` key of an erasure recorded in the catalog but not yet completed
#: in the repository: ``{"old_head": ..., "new_head": ...}``.
ERASING_KEY = "procedures_erasing"


def erase_holding(catalog: ProcedureCatalog, forms: Sequence[str]) -> tuple[str, ...]:
    """Erase every procedure any version of which holds one of ``forms`` (and erase the
    commit messages that hold one); return the erased procedures' ids."""
    finish_interrupted(catalog)
    ids, messages = catalog.repository.holding(forms)
    if not ids and not messages:
        return ()
    catalog.repository.erase(ids, messages,
                             record=lambda rewrite: _record(catalog, ids, rewrite))
    _clear(catalog)
    return tuple(sorted(ids))


def finish_interrupted(catalog: ProcedureCatalog) -> bool:
    """Complete an erasure a killed process left recorded but unfinished; whether there
    was one."""
    with catalog.storage.read() as session:
        row = session.get(StateRow, ERASING_KEY)
        noted = None if row is None else json.loads(row.value)
    if noted is None:
        return False
    catalog.repository.finish_erasure(noted["old_head"], noted["new_head"])
    _clear(catalog)
    return True


def _record(catalog: ProcedureCatalog, ids: Collection[str], rewrite: Rewrite) -> None:
    """The catalog's side of ``rewrite``, in one transaction: the erased procedures' rows
    go, the other rows follow their commits' new ids, and the erasure is noted."""
    from sqlalchemy import delete, update

    from athena_core.procedures.catalog import HEAD_KEY
    from athena_core.procedures.packages import STATE_KEY

    erased = sorted(ids)
    with catalog.storage.write() as session:
        if erased:
            session.execute(delete(ProcedureVersionRow)
                            .where(ProcedureVersionRow.procedure_id.in_(erased)))
            session.execute(delete(ProcedureRow).where(ProcedureRow.id.in_(erased)))
        for old, new in rewrite.commits.items():
            renamed: dict[str, Any] = {"commit_id": new}
            if old in rewrite.scrubbed:
                renamed["message"] = ERASED_MESSAGE
            session.execute(update(ProcedureVersionRow)
                            .where(ProcedureVersionRow.commit_id == old).values(**renamed))
            session.execute(update(ProcedureRow).where(ProcedureRow.active_commit == old)
                            .values(active_commit=new))
            session.execute(update(ProcedureRow).where(ProcedureRow.latest_commit == old)
                            .values(latest_commit=new))
        _set(session, HEAD_KEY, rewrite.new_head)
        packages = session.get(StateRow, STATE_KEY)
        if packages is not None:
            state = json.loads(packages.value)
            for recorded in state.get("packages", {}).values():
                recorded["procedures"] = {
                    id: rewrite.commits.get(commit, commit)
                    for id, commit in recorded.get("procedures", {}).items()
                    if id not in ids}
            packages.value = json.dumps(state, sort_keys=True)
        _set(session, ERASING_KEY, json.dumps({"old_head": rewrite.old_head,
                                               "new_head": rewrite.new_head}))


def _set(session: Session, key: str, value: str) -> None:
    row = session.get(StateRow, key)
    if row is None:
        session.add(StateRow(key=key, value=value))
    else:
        row.value = value


def _clear(catalog: ProcedureCatalog) -> None:
    from sqlalchemy import delete

    with catalog.storage.write() as session:
        session.execute(delete(StateRow).where(StateRow.key == ERASING_KEY))
