"""Active procedures as Agent Skills over MCP (the ``io.modelcontextprotocol/skills``
extension), independent of the MCP SDK.

Every procedure with an active version is one skill whose files are exactly what
``athena procedures export`` writes for that version (:func:`render_skill`): ``SKILL.md``,
``scripts/main.py`` and ``scripts/test_main.py``. They are resources under
``skill://<namespace>/<skill name>/<path>``: the skill's name (``notes-recent`` for
``notes/recent``) is the last segment of its path, as the extension requires, and the
namespace in front keeps two ids that give one name (``a-b/c`` and ``a/b-c``) apart. A
procedure whose id makes no valid skill name (over 64 characters) is not offered.

:class:`SkillLibrary` reads the catalog at each request, so a version that becomes active,
or stops being active, is offered or withdrawn at once; a skill's rendered files are kept
by procedure and commit (a commit's files never change). Listings are pages in id order
whose cursor is the last id of the page, so pages never split a skill and stay right when
procedures are added in between.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
from typing import TYPE_CHECKING, Any

import attrs

from athena_core.errors import InvalidArgumentError, ProcedureNotFoundError, SkillExportError
from athena_core.procedures.skills import SKILL_FILE, render_skill, skill_name_for

if TYPE_CHECKING:
    from athena_core.calls import CallContext
    from athena_core.runtime import Athena

__all__ = ["SCHEME", "SKILLS_EXTENSION", "ServedSkill", "SkillFile", "SkillLibrary",
           "skill_uri"]

SKILLS_EXTENSION = "io.modelcontextprotocol/skills"
SCHEME = "skill://"
#: The operation whose permission decides whether a session is offered skills: reading a
#: skill shows a procedure's definition, as ``athena.procedures.show`` does.
_READ_OPERATION = "procedures.show"
_MIME = {".md": "text/markdown", ".py": "text/x-python"}
#: Rendered skills kept (by procedure id and commit) before the cache starts again.
_KEPT = 4_096
_CURSOR_PREFIX = "after:"


def skill_uri(procedure_id: str, path: str = SKILL_FILE) -> str:
    """The ``skill://`` URI of file ``path`` of procedure ``procedure_id``'s skill."""
    namespace = procedure_id.partition("/")[0]
    return f"{SCHEME}{namespace}/{skill_name_for(procedure_id)}/{path}"


@attrs.frozen
class SkillFile:
    """One file of a served skill."""

    uri: str
    #: Its path in the skill's folder (``SKILL.md``, ``scripts/main.py``).
    path: str
    text: str
    mime_type: str

    @property
    def data(self) -> bytes:
        return self.text.encode("utf-8")

    def manifest_entry(self) -> dict[str, Any]:
        """The file as the extension's manifest lists it: URI, SHA-256 and size in bytes."""
        data = self.data
        return {"uri": self.uri, "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
                "size": len(data)}


@attrs.frozen
class ServedSkill:
    """The skill of one active procedure version."""

    procedure_id: str
    commit: str
    front_matter: dict[str, Any]
    files: tuple[SkillFile, ...]

    @property
    def uri(self) -> str:
        return self.files[0].uri

    def entry(self) -> dict[str, Any]:
        """The extension's ``Skill`` entry: URI, front matter as written, file manifest."""
        return {"uri": self.uri, "frontmatter": self.front_matter,
                "resources": [file.manifest_entry() for file in self.files]}


class SkillLibrary:
    """The skills of one Athena instance's active procedures (thread-safe)."""

    def __init__(self, athena: Athena) -> None:
        self._athena = athena
        self._rendered: dict[tuple[str, str], ServedSkill | None] = {}
        self._lock = threading.Lock()

    @staticmethod
    def offered_to(context: CallContext, athena: Athena) -> bool:
        """Whether a session bound to ``context`` is offered skills: only if it may read
        procedures (call ``procedures.show``)."""
        registry = athena.api
        return (_READ_OPERATION in registry
                and context.allows(_READ_OPERATION, registry.get(_READ_OPERATION).permissions))

    # --- listing ------------------------------------------------------------------------

    def page(self, context: CallContext, cursor: str | None, limit: int
             ) -> tuple[list[ServedSkill], str | None]:
        """Up to ``limit`` of the skills offered to ``context`` after ``cursor`` (``None``:
        from the start), in id order, and the cursor of the next page (``None`` after the
        last one). Raises :class:`InvalidArgumentError` for a cursor this library did not
        give."""
        after = _after(cursor)
        if not self.offered_to(context, self._athena):
            return [], None
        catalog = self._athena.procedures.catalog
        skills: list[ServedSkill] = []
        while len(skills) < limit:
            entries = catalog.list(status="active", after=after, limit=limit - len(skills))
            if not entries:
                return skills, None
            for entry in entries:
                assert entry.active_commit is not None
                skill = self._skill(entry.id, entry.active_commit)
                if skill is not None:
                    skills.append(skill)
            after = entries[-1].id
        more = catalog.list(status="active", after=after, limit=1)
        return skills, _cursor(after) if more and after is not None else None

    # --- one skill ----------------------------------------------------------------------

    def get(self, context: CallContext, uri: str) -> ServedSkill:
        """The skill whose ``SKILL.md`` is at ``uri``. Raises
        :class:`ProcedureNotFoundError` naming ``uri`` if no skill is served there (to
        ``context``)."""
        skill = self._at(context, uri)
        if skill is None or skill.uri != uri:
            raise _not_served(uri, "skill")
        return skill

    def file(self, context: CallContext, uri: str) -> SkillFile:
        """The skill file at ``uri``. Raises :class:`ProcedureNotFoundError` naming
        ``uri`` if no skill offered to ``context`` serves it."""
        skill = self._at(context, uri)
        for file in skill.files if skill is not None else ():
            if file.uri == uri:
                return file
        raise _not_served(uri, "skill file")

    def _at(self, context: CallContext, uri: str) -> ServedSkill | None:
        """The skill of the procedure ``uri`` points into, if it is active and offered."""
        if not isinstance(uri, str) or not uri.startswith(SCHEME) \
                or not self.offered_to(context, self._athena):
            return None
        namespace, _, rest = uri[len(SCHEME):].partition("/")
        name, _, _path = rest.partition("/")
        prefix = f"{namespace}-"
        if not name.startswith(prefix):
            return None
        procedure_id = f"{namespace}/{name[len(prefix):]}"
        try:
            entry = self._athena.procedures.catalog.get(procedure_id)
        except (ProcedureNotFoundError, InvalidArgumentError):
            return None
        if entry.active_commit is None:
            return None
        return self._skill(entry.id, entry.active_commit)

    def _skill(self, procedure_id: str, commit: str) -> ServedSkill | None:
        """The skill of version ``commit`` of ``procedure_id`` (``None``: its id makes no
        valid skill name), rendered once."""
        key = (procedure_id, commit)
        with self._lock:
            if key in self._rendered:
                return self._rendered[key]
        version = self._athena.procedures.catalog.version(procedure_id, commit)
        try:
            folder = render_skill(version)
        except SkillExportError:
            skill = None
        else:
            skill = ServedSkill(
                procedure_id=procedure_id, commit=commit, front_matter=folder.front_matter,
                files=tuple(SkillFile(uri=skill_uri(procedure_id, path), path=path, text=text,
                                      mime_type=_MIME.get(path[path.rfind("."):],
                                                          "text/plain"))
                            for path, text in folder.files.items()))
        with self._lock:
            if len(self._rendered) >= _KEPT:
                self._rendered.clear()
            self._rendered[key] = skill
        return skill


def _cursor(after: str) -> str:
    return base64.urlsafe_b64encode((_CURSOR_PREFIX + after).encode("utf-8")).decode("ascii")


def _after(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("utf-8")
    except (UnicodeError, binascii.Error, ValueError):
        text = ""
    if not text.startswith(_CURSOR_PREFIX):
        raise InvalidArgumentError(f"{cursor[:80]!r} is not a cursor this server gave.",
                                   hint="Pass the nextCursor of the previous page, or none "
                                        "to start again.", argument="cursor")
    return text[len(_CURSOR_PREFIX):]


def _not_served(uri: str, what: str) -> ProcedureNotFoundError:
    return ProcedureNotFoundError(
        f"No {what} is served at {uri[:300]}; only active procedures are skills.",
        hint="skills/list gives the skills' URIs; a procedure becomes a skill once the gate "
             "makes a version of it active.")
