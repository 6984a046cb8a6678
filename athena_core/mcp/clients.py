"""HTTP clients of ``athena serve`` in ``athena.toml``: ``athena mcp token add/list/remove``.

A client is a ``[mcp.clients.NAME]`` table with the SHA-256 of its token, its
scope and its policy. The token itself is printed once, when it is made, and
kept nowhere by Athena: a copy of the config file gives no access. Tables are
appended to (and removed from) the file as text, so its comments and layout
stay as they are; every change is parsed and checked before it is written.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import tomllib
from pathlib import Path

from athena_core.config import Config, McpClient
from athena_core.errors import ConfigError

__all__ = ["TOKEN_PREFIX", "add_client", "list_clients", "remove_client"]

#: Every token Athena makes starts with this, so that secret scanners can spot one.
TOKEN_PREFIX = "athena_mcp_"


def add_client(path: Path, name: str, *, scope: str, policy: str = "") -> str:
    """Add client ``name`` to the config file at ``path`` (made if missing); its new token.

    Raises :class:`ConfigError` if the name is taken or invalid, or the policy unknown.
    """
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
        raise ConfigError(f"{name!r} cannot name a client: use 1-64 letters, digits, _ or -.")
    if not scope.strip():
        raise ConfigError("A client needs a scope (--scope).")
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if name in _load(path, text).mcp.clients:
        raise ConfigError(f"[mcp.clients.{name}] already exists in {path}.",
                          hint=f"Remove it first (`athena mcp token remove {name}`) to give "
                               "it a new token, or pick another name.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    table = (f"[mcp.clients.{name}]\n"
             f"token_sha256 = \"{hashlib.sha256(token.encode('utf-8')).hexdigest()}\"\n"
             f"scope = {_string(scope)}\n"
             + (f"policy = {_string(policy)}\n" if policy else ""))
    new = text + ("\n" if text and not text.endswith("\n") else "") \
        + ("\n" if text.strip() else "") + table
    if _load(path, new).mcp.clients.get(name) is None:  # e.g. a name TOML reads otherwise
        raise ConfigError(f"could not add [mcp.clients.{name}] to {path}.")
    _write(path, new)
    return token


def list_clients(path: Path) -> list[McpClient]:
    """The clients in the config file at ``path``, by name."""
    if not path.exists():
        return []
    clients = _load(path, path.read_text(encoding="utf-8")).mcp.clients
    return [clients[name] for name in sorted(clients)]


def remove_client(path: Path, name: str) -> None:
    """Remove client ``name``'s table from the config file at ``path``: its token stops working
    at the server's next start."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    before = _load(path, text)
    if name not in before.mcp.clients:
        raise ConfigError(f"There is no [mcp.clients.{name}] in {path}.")
    lines = text.splitlines(keepends=True)
    header = re.compile(rf"\s*\[\s*mcp\s*\.\s*clients\s*\.\s*\"?{re.escape(name)}\"?\s*\]\s*"
                        r"(#.*)?$")
    start = next((i for i, line in enumerate(lines) if header.fullmatch(line.rstrip("\n"))),
                 None)
    if start is None:
        raise ConfigError(f"[mcp.clients.{name}] in {path} is not a table of its own.",
                          hint="Delete it from the file by hand.")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")),
               len(lines))
    while start > 0 and not lines[start - 1].strip():  # the blank line before it, too
        start -= 1
    new = "".join(lines[:start] + lines[end:])
    after = _load(path, new)
    expected = {k: v for k, v in before.mcp.clients.items() if k != name}
    if dict(after.mcp.clients) != expected or after.to_dict() | {"mcp": None} \
            != before.to_dict() | {"mcp": None}:
        raise ConfigError(f"[mcp.clients.{name}] in {path} could not be removed alone.",
                          hint="Delete it from the file by hand.")
    _write(path, new)


def _load(path: Path, text: str) -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}.") from exc
    return Config.from_mapping(raw, data_dir=path.parent, env={}, source=path)


def _string(value: str) -> str:
    """``value`` as a TOML basic string."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped) + '"'


def _write(path: Path, text: str) -> None:
    """Replace the file at once, keeping its permissions (a new one is private: 0600)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    except OSError as exc:
        raise ConfigError(f"Cannot write {path}: {exc.strerror or exc}.",
                          hint="Check that the data dir is yours and writable (or pass "
                               "--home), then run the command again.") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except OSError as exc:  # a full disk, say: the old file is untouched
        temporary.unlink(missing_ok=True)
        raise ConfigError(f"Cannot write {path}: {exc.strerror or exc}; it is unchanged.",
                          hint="Free some space or fix its permissions, then run the "
                               "command again.") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
