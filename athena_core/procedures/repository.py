"""The procedures' git repository: every version of every procedure, as commits (dulwich).

One **bare** repository (``<data_dir>/procedures.git`` unless ``[procedures] repository``
says otherwise) holds every procedure as a folder ``<namespace>/<name>/`` with three files:
``manifest.json`` (the :class:`~athena_core.procedures.model.Procedure`), ``main.py`` (the
code) and ``test_main.py`` (its tests). History is one linear branch (``main``); each save
or rollback is one commit with its author and message, and no commit is ever rewritten.

Bare, written through dulwich's object store and refs, because nothing here needs a work
tree: a work tree and its index would be a second copy of every file that a killed writer
could leave out of step with the commits (``index.lock`` included). ``git log``, ``git
show`` and ``git clone`` read the repository as it is.

Crash safety. Every write holds an exclusive ``flock`` on ``athena.flock`` in the
repository, so writers in any number of processes take turns; a lock file that git or
dulwich leaves behind (``*.lock``: an object or ref being written when its writer was
killed) can only be stale while that lock is held, and is removed then: at open (when no
writer holds the lock) and whenever a write meets one. The objects of a commit and the
ref are written and fsynced (files and directories) before :meth:`save` returns, so an
acknowledged version survives the process being killed and the machine losing power.
A writer killed before moving the ref leaves only unreferenced objects, which git ignores.

Import is lazy: dulwich loads when a repository is opened, not when Athena is imported.
"""

from __future__ import annotations

import builtins
import contextlib
import difflib
import errno
import fcntl
import os
import re
import shutil
import stat
import tempfile
import time
import zlib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import attrs

from athena_core._ast import parse_python
from athena_core.errors import (
    InvalidArgumentError,
    ProcedureManifestError,
    ProcedureNotFoundError,
    ProcedureStoreError,
)
from athena_core.procedures.model import (
    HistoryEntry,
    Procedure,
    Revision,
    check_procedure_id,
    schema_from_signature,
)

if TYPE_CHECKING:
    from dulwich.objects import Commit, ObjectID, ShaFile
    from dulwich.refs import Ref
    from dulwich.repo import Repo

__all__ = ["CODE_FILE", "ERASED_MESSAGE", "LOCK_FILE", "MANIFEST_FILE", "TESTS_FILE",
           "Change", "ProcedureRepository", "RepositoryLog", "Rewrite", "Screen",
           "check_code"]

#: Sees a version's files (procedure id, file name -> text) before they are written;
#: raises an :class:`~athena_core.errors.AthenaError` to refuse them.
Screen = Callable[[str, Mapping[str, str]], None]

MANIFEST_FILE = "manifest.json"
CODE_FILE = "main.py"
TESTS_FILE = "test_main.py"
#: The message of a commit whose own message held an erased subject.
ERASED_MESSAGE = "(message erased)"
#: The file whose ``flock`` every writer holds (inside the repository).
LOCK_FILE = "athena.flock"
_FILES = (MANIFEST_FILE, CODE_FILE, TESTS_FILE)
_HEAD = cast("Ref", b"HEAD")
_BLOB_MODE = 0o100644
_TREE_MODE = stat.S_IFDIR
_IDENTITY = re.compile(r"(?P<name>[^<>\n]+?) <(?P<email>[^<>\n]*)>")
_HEX = re.compile(r"[0-9a-f]{4,40}")
_MAX_AUTHOR_CHARS = 255
#: How many parsed commits and trees a repository keeps (then it starts again).
_PARSED_OBJECTS = 16_384


@attrs.frozen
class Change:
    """One commit and the procedures it changed (what the catalog replays)."""

    entry: HistoryEntry
    procedures: tuple[str, ...]


@attrs.frozen
class RepositoryLog:
    """Commits after a given one, oldest first; ``complete`` when the walk went back to the
    first commit (the given one was not in the history, or none was given)."""

    changes: tuple[Change, ...]
    complete: bool


@attrs.frozen
class Rewrite:
    """History rewritten without some procedures (:meth:`ProcedureRepository.erase`)."""

    old_head: str
    new_head: str
    #: Each rewritten commit -> the commit it became: its copy without the erased
    #: procedures, or the commit before it if it changed only those. Commits before the
    #: first one that held an erased procedure keep their ids and are not listed.
    commits: Mapping[str, str]
    #: The commits whose message held the subject (their copies' messages are erased).
    scrubbed: frozenset[str]


class ProcedureRepository:
    """The procedures' bare git repository. Open with :meth:`open`; close when done.

    Reads never lock and see each commit whole; writes (:meth:`save`, :meth:`rollback`)
    take turns across processes (see the module docstring).
    """

    def __init__(self, path: Path, repo: Repo, *, lock_timeout: float,
                 screen: Screen | None = None) -> None:
        self.path = path
        self._repo = repo
        self.lock_timeout = lock_timeout
        #: Called with each version's files before they are written; raises to refuse one.
        self.screen = screen
        #: Commits and trees already parsed, by id (a git object never changes).
        self._parsed: dict[bytes, ShaFile] = {}

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, lock_timeout: float = 30.0,
             screen: Screen | None = None) -> ProcedureRepository:
        """Open the repository at ``path``, creating it if it does not exist (or is an empty
        directory), and remove the lock files a killed writer left.

        ``lock_timeout`` is how long (seconds) a write waits for another process's write.
        ``screen`` sees each version's files (name -> text) before anything is written
        and raises to refuse it (the privacy check of :mod:`athena_core.procedures`).
        Raises :class:`ProcedureStoreError` if ``path`` is something other than a bare git
        repository, or cannot be read or created.
        """
        from dulwich.errors import NotGitRepository
        from dulwich.repo import Repo

        where = Path(path).expanduser().absolute()
        with _os_errors(where):
            if not where.exists() or (where.is_dir() and not any(where.iterdir())):
                _create(where)
            try:
                repo = Repo(str(where))
            except NotGitRepository:
                raise ProcedureStoreError(
                    f"{where} is not a git repository; Athena left it untouched.",
                    hint="Point [procedures] repository at a new path (or an empty "
                         "directory), or move that directory away.") from None
        if not repo.bare:
            repo.close()
            raise ProcedureStoreError(
                f"{where} is a git work tree; procedures are kept in a bare repository.",
                hint="Point [procedures] repository at a new path, or at a bare clone "
                     "(git clone --bare).")
        store = cls(where, repo, lock_timeout=lock_timeout, screen=screen)
        try:
            store._recover_stale_locks()
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        self._repo.close()

    def __enter__(self) -> ProcedureRepository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading ---------------------------------------------------------------------------

    def head(self) -> str | None:
        """The newest commit, or ``None`` while the repository is empty."""
        try:
            head: str = self._repo.refs[_HEAD].decode("ascii")
        except KeyError:
            return None
        return head

    def has_commit(self, commit: str) -> bool:
        """Whether ``commit`` (a full id) is a commit of this repository."""
        from dulwich.objects import Commit

        sha = commit.encode("ascii", "replace")
        return self._has(sha) and isinstance(self._get(sha), Commit)

    def list(self) -> builtins.list[str]:
        """The ids of the procedures in the newest commit, sorted."""
        head = self.head()
        if head is None:
            return []
        ids: builtins.list[str] = []
        for namespace, mode, sha in self._tree(self._commit(head).tree).iteritems():
            if stat.S_ISDIR(mode):
                ids.extend(f"{namespace.decode()}/{name.decode()}"
                           for name, kind, _ in self._tree(sha).iteritems()
                           if stat.S_ISDIR(kind))
        return sorted(ids)

    def history(self, id: str) -> builtins.list[HistoryEntry]:
        """The commits that changed procedure ``id``, newest first.

        Raises :class:`ProcedureNotFoundError` if there are none.
        """
        entries = [self._entry(commit) for commit in self._versions(id)]
        if not entries:
            raise self._not_found(id)
        return entries

    def read(self, id: str, commit: str | None = None) -> Revision:
        """Procedure ``id`` as of ``commit`` (default: the newest), with the commit that made
        that version. ``commit`` may be a full commit id or a prefix of one of its versions.

        Raises :class:`ProcedureNotFoundError` if it did not exist there.
        """
        version = self._resolve(id, commit)
        files = self._files(id, version)
        try:
            procedure = Procedure.from_manifest(files.get(MANIFEST_FILE, b""))
        except ProcedureManifestError as exc:
            raise ProcedureStoreError(
                f"The manifest of procedure {id!r} at commit {version[:12]} is unreadable: "
                f"{exc.message}", hint="Roll it back to an earlier version.") from None
        if procedure.id != id:
            raise ProcedureStoreError(
                f"The folder {id}/ at commit {version[:12]} holds the manifest of "
                f"{procedure.id!r}.", hint="Roll it back to an earlier version.")
        entry = self._entry(version)
        return Revision(commit=entry.commit, author=entry.author, message=entry.message,
                        created_at=entry.created_at, procedure=procedure,
                        code=_text(files, CODE_FILE, id), tests=_text(files, TESTS_FILE, id))

    def diff(self, id: str, a: str, b: str | None = None) -> str:
        """A unified diff of procedure ``id``'s files from version ``a`` to ``b`` (default:
        the newest); ``""`` when they are the same."""
        old, new = self._files(id, self._resolve(id, a)), self._files(id, self._resolve(id, b))
        out: builtins.list[str] = []
        for name in sorted(set(old) | set(new)):
            if old.get(name) == new.get(name):
                continue
            lines = difflib.unified_diff(
                _lines(old.get(name)), _lines(new.get(name)),
                fromfile=f"a/{id}/{name}" if name in old else "/dev/null",
                tofile=f"b/{id}/{name}" if name in new else "/dev/null")
            out.extend(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                       for line in lines)
        return "".join(out)

    def log(self, since: str | None = None) -> RepositoryLog:
        """The commits after ``since`` (all of them if ``since`` is ``None`` or not in the
        history), oldest first, each with the procedures it changed."""
        changes: builtins.list[Change] = []
        commit_id = self.head()
        while commit_id is not None and commit_id != since:
            commit = self._commit(commit_id)
            parent = self._commit(commit.parents[0].decode()).tree if commit.parents else None
            changes.append(Change(entry=self._entry(commit_id),
                                  procedures=self._changed(parent, commit.tree)))
            commit_id = commit.parents[0].decode() if commit.parents else None
        changes.reverse()
        return RepositoryLog(changes=tuple(changes), complete=commit_id is None)

    def verify(self) -> builtins.list[str]:
        """Problems found (an empty list: healthy). Like ``git fsck`` on what the branch
        reaches: each commit, tree and blob is present, well formed and hashes to its id,
        and each procedure of the newest commit has its three files and a valid manifest."""
        problems: builtins.list[str] = []
        head = self.head()
        if head is None:
            return problems
        seen: set[bytes] = set()
        pending: builtins.list[tuple[bytes, bytes]] = [(head.encode(), b"commit")]
        while pending:
            sha, kind = pending.pop()
            if sha in seen:
                continue
            seen.add(sha)
            try:
                obj = self._repo.object_store[_oid(sha)]
                obj.check()
            except Exception as exc:  # any failure to read is a finding, not a crash
                problems.append(f"{kind.decode()} {sha.decode()}: {type(exc).__name__}: {exc}")
                continue
            if obj.id != sha or obj.type_name != kind:
                problems.append(f"{kind.decode()} {sha.decode()}: stored as {obj.type_name!r} "
                                f"{obj.id.decode()}")
                continue
            pending.extend(_children(obj))
        for id in self.list():
            try:
                self.read(id)
            except (ProcedureStoreError, ProcedureNotFoundError) as exc:
                problems.append(str(exc))
        return problems

    # --- writing ---------------------------------------------------------------------------

    def save(self, procedure: Procedure, code: str, tests: str, *, author: str,
             message: str) -> str:
        """Store a version of ``procedure`` as one commit; return its id once it is durable.

        Saving what is already the procedure's newest version makes no commit and returns
        that version's commit. Raises :class:`InvalidArgumentError` (nothing written) if the
        code or tests do not parse, the code's entry function does not match the
        manifest's schemas, or the author or message is unusable.
        """
        objects, folder = _folder_objects(procedure, code, tests, self.screen)
        identity, text = _identity(author), _message(message)
        return self._commit_folder(procedure.id, objects, folder, identity, text)

    def save_many(self, versions: Sequence[tuple[Procedure, str, str]], *, author: str,
                  message: str) -> dict[str, str]:
        """Store ``(procedure, code, tests)`` versions of several procedures as **one**
        commit (written as one pack, synced before it returns); return each procedure's
        id -> the commit of its newest version (the new commit where it changed).

        For installing many procedures at once (a package): one commit and a few files
        instead of one commit and several synced files each. Each version is checked as
        :meth:`save` checks it; a bad one or the same id twice raises
        :class:`InvalidArgumentError` and nothing is written (all or nothing). Versions
        that are already their procedure's newest change nothing; if none changes (or
        there are none), no commit is made.
        """
        folders: dict[str, bytes] = {}
        objects: builtins.list[ShaFile] = []
        for procedure, code, tests in versions:
            made, folder = _folder_objects(procedure, code, tests, self.screen)
            if procedure.id in folders:
                raise InvalidArgumentError(
                    f"Procedure {procedure.id!r} is given twice; nothing was saved.",
                    argument="versions")
            folders[procedure.id] = folder
            objects.extend(made)
        if not folders:
            return {}
        identity, text = _identity(author), _message(message)
        with self._write_lock():
            head = self.head()
            root = self._commit(head).tree if head else None
            unchanged = {id for id, folder in folders.items()
                         if root is not None and self._lookup(root, id) == folder}
            commit = self._new_commit(head, folders, objects, identity, text)
            if commit is None:  # nothing changed: no empty commit
                assert head is not None
                return {id: self._version_at(id, head) for id in folders}
            with _os_errors(self.path):
                store = self._repo.object_store
                syncing, store.fsync_object_files = store.fsync_object_files, True
                try:
                    unique = {obj.id: obj for obj in objects}  # a blob two folders share
                    store.add_objects([(obj, None) for obj in unique.values()])
                finally:
                    store.fsync_object_files = syncing
                _fsync(Path(store.pack_dir))
            self._move_head(head, commit)
            saved = commit.decode("ascii")
            return {id: self._version_at(id, head) if head is not None and id in unchanged
                    else saved for id in folders}

    # --- erasing -----------------------------------------------------------------------------

    def holding(self, forms: Sequence[str]) -> tuple[frozenset[str], frozenset[str]]:
        """The procedures any version of which has a file holding one of ``forms`` (case
        ignored), and the commits whose message holds one."""
        needles = [form.lower().encode("utf-8") for form in forms if form]
        ids: set[str] = set()
        messages: set[str] = set()
        for change in self.log().changes:
            commit = change.entry.commit
            if any(needle in self._commit(commit).message.lower() for needle in needles):
                messages.add(commit)
            for id in change.procedures:
                if id not in ids and any(needle in data.lower() for needle in needles
                                         for data in self._files(id, commit).values()):
                    ids.add(id)
        return frozenset(ids), frozenset(messages)

    def erase(self, ids: Collection[str], scrub: Collection[str], *,
              record: Callable[[Rewrite], None]) -> Rewrite | None:
        """Rewrite the history without procedures ``ids`` (every version) and with the
        messages of commits ``scrub`` erased, then delete every object only the old
        history reached, so no file of the repository holds them any more.

        Under the writers' lock: the new commits are written and synced, ``record`` is
        called with the :class:`Rewrite` (the caller makes it durable: the catalog
        remaps its rows and notes the erasure in one transaction), then the branch moves
        and the old objects go (:meth:`finish_erasure`, which also completes an erasure a
        killed process left after ``record``). ``None`` if there is nothing to erase.
        """
        dropped = {id.encode() for id in ids}
        with self._write_lock():
            head = self.head()
            if head is None or not (dropped or scrub):
                return None
            chain = [change.entry.commit for change in self.log().changes]
            written: builtins.list[ShaFile] = []
            commits: dict[str, str] = {}
            parent: str | None = None
            parent_tree: bytes | None = None
            for old_id in chain:
                old = self._commit(old_id)
                old_parent = old.parents[0].decode() if old.parents else None
                tree = self._without(old.tree, dropped, written)
                if old_parent == parent and tree == old.tree and old_id not in scrub:
                    parent, parent_tree = old_id, tree  # untouched so far: keeps its id
                    continue
                if parent is not None and tree == parent_tree and old_id not in scrub:
                    commits[old_id] = parent  # it changed only erased procedures
                    continue
                parent = self._copy(old, tree, parent, old_id in scrub, written)
                parent_tree = tree
                commits[old_id] = parent
            if not commits:
                return None
            assert parent is not None  # the first commit is kept or copied, never dropped
            with _os_errors(self.path):
                store = self._repo.object_store
                syncing, store.fsync_object_files = store.fsync_object_files, True
                try:
                    unique = {obj.id: obj for obj in written}
                    store.add_objects([(obj, None) for obj in unique.values()])
                finally:
                    store.fsync_object_files = syncing
                _fsync(Path(store.pack_dir))
            rewrite = Rewrite(old_head=head, new_head=parent, commits=commits,
                              scrubbed=frozenset(scrub))
            record(rewrite)
            self._finish(head, parent)
            return rewrite

    def finish_erasure(self, old_head: str, new_head: str) -> None:
        """Complete an erasure whose rewrite was recorded: move the branch from
        ``old_head`` to ``new_head`` if it is still at ``old_head``, and delete the objects
        the branch no longer reaches."""
        with self._write_lock():
            self._finish(old_head, new_head)

    def _finish(self, old_head: str, new_head: str) -> None:
        from dulwich.gc import find_unreachable_objects

        if self.head() == old_head:
            self._move_head(old_head, new_head.encode("ascii"))
        self._parsed.clear()
        with _os_errors(self.path):
            store = self._repo.object_store
            unreachable = find_unreachable_objects(store, self._repo.refs,
                                                   include_reflogs=False)
            syncing, store.fsync_object_files = store.fsync_object_files, True
            try:
                store.repack(exclude=unreachable)
            finally:
                store.fsync_object_files = syncing
            _fsync(Path(store.pack_dir))
            _fsync(Path(store.path))

    def _without(self, root: bytes, dropped: set[bytes],
                 written: builtins.list[ShaFile]) -> bytes:
        """Root tree ``root`` without the ``namespace/name`` folders ``dropped`` (``root``
        itself if it has none of them); new trees are appended to ``written``."""
        from dulwich.objects import Tree

        by_namespace: dict[bytes, set[bytes]] = {}
        for id in dropped:
            namespace, name = id.split(b"/")
            by_namespace.setdefault(namespace, set()).add(name)
        new_root, changed = Tree(), False
        for namespace, mode, sha in self._tree(root).iteritems():
            names = by_namespace.get(namespace)
            if names and stat.S_ISDIR(mode):
                space = Tree()
                for name, inner_mode, inner in self._tree(sha).iteritems():
                    if name not in names:
                        space.add(name, inner_mode, inner)
                if space.id != sha:
                    changed = True
                    if not space.items():
                        continue  # an empty namespace goes too
                    written.append(space)
                    sha = space.id
            new_root.add(namespace, mode, sha)
        if not changed:
            return root
        written.append(new_root)
        tree_id: bytes = new_root.id
        return tree_id

    def _copy(self, old: Commit, tree: bytes, parent: str | None, scrub: bool,
              written: builtins.list[ShaFile]) -> str:
        """A copy of commit ``old`` with ``tree`` on ``parent`` (its message erased if
        ``scrub``), appended to ``written``; its id."""
        from dulwich.objects import Commit

        commit = Commit()
        commit.tree = _oid(tree)
        commit.parents = [_oid(parent.encode())] if parent else []
        commit.author, commit.committer = old.author, old.committer
        commit.author_time, commit.commit_time = old.author_time, old.commit_time
        commit.author_timezone = old.author_timezone
        commit.commit_timezone = old.commit_timezone
        commit.encoding = b"UTF-8"
        commit.message = ERASED_MESSAGE.encode() + b"\n" if scrub else old.message
        written.append(commit)
        return str(commit.id.decode("ascii"))

    def rollback(self, id: str, to_commit: str, *, author: str, message: str) -> str:
        """Make procedure ``id`` what it was at ``to_commit``, as a new commit whose files are
        byte for byte those of that version; return its id. History is kept: the versions in
        between stay readable. Rolling back to what is already the newest version makes no
        commit and returns that version's commit."""
        identity, text = _identity(author), _message(message)
        target = self._folder(id, self._resolve(id, to_commit))
        assert target is not None  # _resolve found the procedure there
        return self._commit_folder(id, [], target, identity, text)

    def _commit_folder(self, id: str, new_objects: builtins.list[ShaFile], folder: bytes,
                       identity: bytes, message: bytes) -> str:
        """Point ``id``'s folder at tree ``folder`` in a new commit on the branch."""
        check_procedure_id(id)
        with self._write_lock():
            head = self.head()
            written: builtins.list[ShaFile] = list(new_objects)
            commit = self._new_commit(head, {id: folder}, written, identity, message)
            if commit is None:
                assert head is not None
                return self._version_at(id, head)  # nothing changed: no empty commit
            for obj in written:
                self._add(obj)
            self._sync_objects(written)
            self._move_head(head, commit)
            return commit.decode("ascii")

    def _new_commit(self, head: str | None, folders: dict[str, bytes],
                    written: builtins.list[ShaFile], identity: bytes,
                    message: bytes) -> bytes | None:
        """A commit on ``head`` pointing each ``id``'s folder at its tree in ``folders``
        (held under the writers' lock); it and its new trees are appended to ``written``,
        nothing is stored. ``None`` if no folder changes."""
        from dulwich.objects import Commit

        root = self._commit(head).tree if head else None
        new_root = self._put(root, folders, written)
        if new_root is None:
            return None
        commit = Commit()
        commit.tree = new_root
        commit.parents = [_oid(head.encode())] if head else []
        commit.author = commit.committer = identity
        commit.author_time = commit.commit_time = int(time.time())
        commit.author_timezone = commit.commit_timezone = 0
        commit.encoding = b"UTF-8"
        commit.message = message
        written.append(commit)
        commit_id: bytes = commit.id
        return commit_id

    # --- internals: git objects ------------------------------------------------------------

    def _commit(self, commit_id: str) -> Commit:
        from dulwich.objects import Commit

        obj = self._get(commit_id.encode("ascii"))
        if not isinstance(obj, Commit):
            raise InvalidArgumentError(f"{commit_id[:40]!r} is not a commit.",
                                       argument="commit")
        return obj

    def _tree(self, sha: bytes) -> Any:
        return self._get(sha)

    def _has(self, sha: bytes) -> bool:
        return _oid(sha) in self._repo.object_store

    def _get(self, sha: bytes) -> ShaFile:
        from dulwich.errors import ChecksumMismatch, ObjectFormatException

        parsed = self._parsed.get(sha)
        if parsed is not None:
            return parsed
        try:
            obj = self._repo.object_store[_oid(sha)]
            if obj.type_name in (b"commit", b"tree"):  # immutable, and read over and over
                if len(self._parsed) >= _PARSED_OBJECTS:
                    self._parsed.clear()
                self._parsed[sha] = obj
            return obj
        except KeyError:
            problem = "lacks"
        except (ObjectFormatException, ChecksumMismatch, zlib.error, ValueError):
            problem = "cannot read"
        except OSError as exc:
            raise _store_error(self.path, exc) from None
        raise ProcedureStoreError(
            f"{self.path} {problem} the object {sha.decode()[:40]}: the repository is "
            "damaged.", hint="Restore it from a backup or a clone; `git fsck` lists the "
                             "damaged objects.")

    def _lookup(self, tree: bytes, id: str) -> bytes | None:
        """The tree id of ``id``'s folder in root tree ``tree``, or ``None``."""
        sha = tree
        for part in id.encode().split(b"/"):
            try:
                mode, child = self._tree(sha)[part]
            except KeyError:
                return None
            if not stat.S_ISDIR(mode):
                return None
            sha = child
        return sha

    def _folder(self, id: str, commit_id: str) -> bytes | None:
        return self._lookup(self._commit(commit_id).tree, id)

    def _put(self, root: bytes | None, folders: dict[str, bytes],
             written: builtins.list[ShaFile]) -> bytes | None:
        """A copy of root tree ``root`` with each ``namespace/name`` folder of ``folders`` set
        to its tree, or ``None`` if that changes nothing; new trees are appended to
        ``written``."""
        from dulwich.objects import Tree

        by_namespace: dict[bytes, dict[bytes, bytes]] = {}
        for id, folder in folders.items():
            namespace, name = id.encode().split(b"/")
            by_namespace.setdefault(namespace, {})[name] = folder
        new_root = Tree()
        old = {} if root is None else {name: (mode, sha)
                                       for name, mode, sha in self._tree(root).iteritems()}
        for name, (mode, sha) in old.items():
            new_root.add(name, mode, sha)
        changed = False
        for namespace, names in sorted(by_namespace.items()):
            space = Tree()
            current = old.get(namespace)
            if current is not None and stat.S_ISDIR(current[0]):
                for name, mode, sha in self._tree(current[1]).iteritems():
                    space.add(name, mode, sha)
            before = {name: sha for name, _, sha in space.iteritems()}
            for name, folder in names.items():
                if before.get(name) != folder:
                    space.add(name, _TREE_MODE, _oid(folder))
                    changed = True
            written.append(space)
            new_root.add(namespace, _TREE_MODE, space.id)
        if not changed:
            del written[-len(by_namespace):]
            return None
        written.append(new_root)
        tree_id: bytes = new_root.id
        return tree_id

    def _changed(self, old: bytes | None, new: bytes) -> tuple[str, ...]:
        """The procedure folders that differ between two root trees."""
        def entries(tree: bytes | None) -> dict[bytes, bytes]:
            if tree is None:
                return {}
            return {name: sha for name, mode, sha in self._tree(tree).iteritems()
                    if stat.S_ISDIR(mode)}

        changed: builtins.list[str] = []
        before, after = entries(old), entries(new)
        for namespace, sha in after.items():
            if before.get(namespace) != sha:
                inner_before, inner_after = entries(before.get(namespace)), entries(sha)
                changed.extend(f"{namespace.decode()}/{name.decode()}"
                               for name, child in inner_after.items()
                               if inner_before.get(name) != child)
        return tuple(sorted(changed))

    def _versions(self, id: str) -> builtins.list[str]:
        """The commits that changed ``id``'s folder, newest first."""
        check_procedure_id(id)
        versions = []
        commit_id = self.head()
        while commit_id is not None:
            commit = self._commit(commit_id)
            folder = self._lookup(commit.tree, id)
            parent = commit.parents[0].decode() if commit.parents else None
            if folder is not None and (parent is None or self._folder(id, parent) != folder):
                versions.append(commit_id)
            commit_id = parent
        return versions

    def _resolve(self, id: str, commit: str | None) -> str:
        """The commit that made the version of ``id`` seen at ``commit`` (a full commit id, or
        a prefix of one of ``id``'s versions); the newest version if ``commit`` is ``None``."""
        check_procedure_id(id)
        if commit is None:
            head = self.head()
            if head is None or self._folder(id, head) is None:
                raise self._not_found(id)
            return self._version_at(id, head)
        if not isinstance(commit, str) or not _HEX.fullmatch(commit):
            raise InvalidArgumentError(
                f"{str(commit)[:60]!r} is not a commit id (4 to 40 lower-case hex digits).",
                argument="commit")
        if len(commit) == 40:
            if not self.has_commit(commit) or self._folder(id, commit) is None:
                raise self._not_found(id, commit)
            return self._version_at(id, commit)
        matches = [version for version in self._versions(id) if version.startswith(commit)]
        if len(matches) > 1:
            raise InvalidArgumentError(
                f"{commit!r} is the start of {len(matches)} versions of {id!r}.",
                hint="Give more digits of the commit id.", argument="commit")
        if not matches:
            raise self._not_found(id, commit)
        return matches[0]

    def _version_at(self, id: str, commit_id: str) -> str:
        """The newest commit at or before ``commit_id`` that changed ``id``'s folder."""
        folder = self._folder(id, commit_id)
        while True:
            parents = self._commit(commit_id).parents
            if not parents or self._folder(id, parents[0].decode()) != folder:
                return commit_id
            commit_id = parents[0].decode()

    def _files(self, id: str, commit_id: str) -> dict[str, bytes]:
        folder = self._folder(id, commit_id)
        if folder is None:
            raise self._not_found(id, commit_id)
        out = {}
        for name, mode, sha in self._tree(folder).iteritems():
            if not stat.S_ISDIR(mode):
                out[name.decode("utf-8", "replace")] = self._get(sha).as_raw_string()
        return out

    def _entry(self, commit_id: str) -> HistoryEntry:
        commit = self._commit(commit_id)
        identity = commit.author.decode("utf-8", "replace")
        found = _IDENTITY.fullmatch(identity)
        author = identity if found is None or found["email"] else found["name"]
        return HistoryEntry(commit=commit_id, author=author,
                            message=commit.message.decode("utf-8", "replace").rstrip("\n"),
                            created_at=datetime.fromtimestamp(commit.author_time, UTC))

    def _not_found(self, id: str, commit: str | None = None) -> ProcedureNotFoundError:
        if commit is None:
            return ProcedureNotFoundError(
                f"No procedure {id!r} is stored.",
                hint="`list()` shows the stored procedures; ids are 'namespace/name'.")
        return ProcedureNotFoundError(
            f"Procedure {id!r} has no version at commit {commit[:40]!r}.",
            hint="`history(id)` lists its versions.")

    # --- internals: durability and locking -------------------------------------------------

    def _add(self, obj: ShaFile) -> None:
        """Write one loose object; a lock file left on it by a killed writer is removed."""
        from dulwich.file import FileLocked

        with _os_errors(self.path):
            try:
                self._repo.object_store.add_object(obj)
            except FileLocked as exc:
                _remove(exc.lockfilename)  # stale: we hold the writers' lock
                self._repo.object_store.add_object(obj)

    def _object_path(self, sha: bytes) -> Path:
        hexsha = sha.decode("ascii")
        return Path(self._repo.object_store.path) / hexsha[:2] / hexsha[2:]

    def _sync_objects(self, objects: builtins.list[ShaFile]) -> None:
        """fsync each object's file and the directories that name them."""
        with _os_errors(self.path):
            directories = set()
            for obj in objects:
                path = self._object_path(obj.id)
                _fsync(path)
                directories.add(path.parent)
            for directory in directories:
                _fsync(directory)
            _fsync(Path(self._repo.object_store.path))

    def _move_head(self, old: str | None, new: bytes) -> None:
        """Move the branch from ``old`` to ``new``, durably."""
        from dulwich.file import FileLocked

        for attempt in (1, 2):
            try:
                moved = self._repo.refs.set_if_equals(
                    _HEAD, _oid(old.encode()) if old else None, _oid(new))
                break
            except FileLocked as exc:
                if attempt == 2:
                    raise ProcedureStoreError(
                        f"{self.path}: the branch is locked by another program.",
                        hint="Stop other programs writing to the repository.") from None
                _remove(exc.lockfilename)  # stale: we hold the writers' lock
            except OSError as exc:
                raise _store_error(self.path, exc) from None
        if not moved:
            raise ProcedureStoreError(
                f"{self.path}: the branch moved while Athena was writing; another program "
                "writes to this repository without Athena's lock.",
                hint="Let only Athena write to it; the version was not saved.")
        with _os_errors(self.path):
            ref = self._repo.refs.follow(_HEAD)[0][-1].decode()
            ref_file = self.path / ref
            _fsync(ref_file)
            _fsync(ref_file.parent)

    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        """Hold the writers' lock, waiting up to ``lock_timeout`` seconds for it."""
        with _os_errors(self.path):
            fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + self.lock_timeout
            delay = 0.001
            while not _try_lock(fd):
                if time.monotonic() >= deadline:
                    raise ProcedureStoreError(
                        f"{self.path}: another process has been writing procedures for "
                        f"longer than {self.lock_timeout:g} s; nothing was saved.",
                        hint="Try again; if it persists, look for a hung Athena process.")
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _recover_stale_locks(self) -> None:
        """Remove every ``*.lock`` file in the repository if no writer is running."""
        with _os_errors(self.path):
            fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                if not _try_lock(fd):
                    return  # a live writer: its lock files are not stale
                for root, _dirs, names in os.walk(self.path):
                    for name in names:
                        if name.endswith(".lock"):
                            _remove(os.path.join(root, name))
            finally:
                os.close(fd)


# --- helpers ------------------------------------------------------------------------------

def _create(where: Path) -> None:
    """Create a bare repository at ``where`` atomically: built beside it, then renamed."""
    from dulwich.repo import Repo

    where.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{where.name}.", dir=where.parent))
    try:
        Repo.init_bare(str(scratch), default_branch=b"main").close()
        (scratch / LOCK_FILE).touch(0o600)
        for root, dirs, names in os.walk(scratch, topdown=False):
            for name in [*names, *dirs]:
                _fsync(Path(root) / name)
        _fsync(scratch)
        try:
            os.rename(scratch, where)  # replaces an empty directory, never a full one
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            # another process created it first: use theirs
        _fsync(where.parent)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _oid(sha: bytes) -> ObjectID:
    """``sha`` as dulwich's type for an object id (the same bytes)."""
    return cast("ObjectID", sha)


def _children(obj: ShaFile) -> Iterator[tuple[bytes, bytes]]:
    from dulwich.objects import Commit, Tree

    if isinstance(obj, Commit):
        yield obj.tree, b"tree"
        for parent in obj.parents:
            yield parent, b"commit"
    elif isinstance(obj, Tree):
        for _name, mode, sha in obj.iteritems():
            yield sha, b"tree" if stat.S_ISDIR(mode) else b"blob"


def _folder_objects(procedure: Procedure, code: str, tests: str, screen: Screen | None
                    ) -> tuple[builtins.list[ShaFile], bytes]:
    """The blobs and tree of ``procedure``'s folder (checked and screened, not stored),
    and the tree's id."""
    if not isinstance(procedure, Procedure):
        raise InvalidArgumentError(
            f"procedure must be a Procedure, not {type(procedure).__name__}.",
            argument="procedure")
    files = {MANIFEST_FILE: procedure.to_manifest(), CODE_FILE: _source(code, "code"),
             TESTS_FILE: _source(tests, "tests")}
    check_code(procedure, code, tests)
    if screen is not None:
        screen(procedure.id, files)
    from dulwich.objects import Blob, Tree

    folder = Tree()
    objects: builtins.list[ShaFile] = []
    for name in _FILES:
        blob = Blob.from_string(files[name].encode("utf-8"))
        objects.append(blob)
        folder.add(name.encode(), _BLOB_MODE, blob.id)
    objects.append(folder)
    folder_id: bytes = folder.id
    return objects, folder_id


def check_code(procedure: Procedure, code: str, tests: str) -> None:
    """The code and tests parse, and the code's entry function has the manifest's schemas."""
    _parse(procedure.id, tests, TESTS_FILE)
    _parse(procedure.id, code, CODE_FILE)
    signature = schema_from_signature(code, function=procedure.entry)
    if (signature.input_schema, signature.output_schema) != (procedure.input_schema,
                                                            procedure.output_schema):
        raise InvalidArgumentError(
            f"The schemas in the manifest of {procedure.id!r} are not those of "
            f"{procedure.entry}() in its code.",
            hint="Make the procedure with Procedure.from_code(code, ...), or update its "
                 "input_schema and output_schema from schema_from_signature(code).",
            argument="procedure")


def _parse(id: str, source: str, name: str) -> None:
    try:
        parse_python(source, filename=name)
    except (SyntaxError, ValueError) as exc:
        lineno = getattr(exc, "lineno", None)
        line = f" line {lineno}" if lineno else ""
        raise InvalidArgumentError(
            f"{name} of procedure {id!r} does not parse ({name}{line}: "
            f"{getattr(exc, 'msg', exc)}); nothing was saved.", hint="Fix the syntax error.",
            argument="tests" if name == TESTS_FILE else "code") from None


def _source(value: object, argument: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{argument} must be a string of Python source, not "
                                   f"{type(value).__name__}.", argument=argument)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgumentError(f"{argument} holds a lone surrogate; it cannot be stored "
                                   "as UTF-8.", argument=argument) from None
    return value


def _identity(author: object) -> bytes:
    """``Name <email>`` for git; a bare name gets an empty email."""
    if not isinstance(author, str) or not author.strip() or len(author) > _MAX_AUTHOR_CHARS \
            or "\n" in author or "\x00" in author:
        raise InvalidArgumentError(
            f"author must be a one-line name (or 'Name <email>') of 1-{_MAX_AUTHOR_CHARS} "
            "characters.", argument="author")
    author = author.strip()
    if _IDENTITY.fullmatch(author):
        return author.encode("utf-8")
    if "<" in author or ">" in author:
        raise InvalidArgumentError(
            "author must be a name or 'Name <email>'; '<' and '>' appear only around the "
            "email.", argument="author")
    return f"{author} <>".encode()


def _message(message: object) -> bytes:
    if not isinstance(message, str) or not message.strip() or "\x00" in message:
        raise InvalidArgumentError("message must be a non-empty string saying why.",
                                   argument="message")
    try:
        return (message.strip("\n") + "\n").encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgumentError("message holds a lone surrogate; it cannot be stored as "
                                   "UTF-8.", argument="message") from None


def _text(files: dict[str, bytes], name: str, id: str) -> str:
    try:
        return files[name].decode("utf-8")
    except (KeyError, UnicodeDecodeError):
        raise ProcedureStoreError(f"{name} of procedure {id!r} is missing or not UTF-8.",
                                  hint="Roll it back to an earlier version.") from None


def _lines(data: bytes | None) -> builtins.list[str]:
    return [] if data is None else data.decode("utf-8", "replace").splitlines(keepends=True)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _fsync(path: Path | str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: str | bytes) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def _store_error(where: Path, exc: OSError) -> ProcedureStoreError:
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "Give this process write access to it, or point [procedures] repository " \
               "elsewhere."
    elif exc.errno in (errno.ENOSPC, errno.EDQUOT):
        hint = "Free disk space; nothing was saved."
    else:
        hint = "Check the path and the disk."
    return ProcedureStoreError(f"{where}: {reason}.", hint=hint)


@contextlib.contextmanager
def _os_errors(where: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise _store_error(where, exc) from None
