"""The srt settings file for one policy, and the policy rules srt cannot take.

srt reads everything and writes nothing by default. Athena's policies expose
only what a program needs, so the settings deny reading ``/`` and allow back
the system directories, Python, the worker's files, the policy's paths and the
private work directory; the policy's deny paths stay denied inside them.
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
from pathlib import Path
from typing import Any

from athena_core.execution.policy import Policy

__all__ = ["SYSTEM_READ_PATHS", "build_settings", "domain_problem", "path_problem"]

#: Host paths every program may read (what exists of them).
SYSTEM_READ_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
                     "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
                     "/etc/localtime", "/etc/nsswitch.conf", "/etc/ssl",
                     "/etc/ca-certificates", "/etc/alternatives", "/etc/mime.types",
                     # "localhost" must resolve: srt's proxy listens on localhost:3128.
                     "/etc/hosts", "/etc/host.conf")
#: Written to by every srt sandbox unless denied; shared between runs, so never allowed.
_SRT_SHARED_TMP = ("/tmp/claude", "/private/tmp/claude")
_GLOB_CHARS = re.compile(r"[*?\[\]{}]")
_LABEL = re.compile(r"^[A-Za-z0-9_-]+$")


def build_settings(policy: Policy, *, work_dir: Path, srt_tmp: Path, extra_read: list[Path],
                   deny: list[Path]) -> dict[str, Any]:
    """The settings JSON srt runs one program under.

    ``srt_tmp`` is srt's own temporary directory, where it puts the proxy's socket:
    the sandbox must be able to reach it, read-only. ``extra_read``: Python, the
    worker, this package and srt's helpers. ``deny``: never readable or writable.
    """
    read = [p for p in SYSTEM_READ_PATHS if os.path.lexists(p) and not os.path.islink(p)]
    for prefix in sorted({sys.base_prefix, sys.prefix}):
        read.append(prefix)
    read += [str(p) for p in extra_read]
    read += [str(p) for p in policy.resolved_paths(policy.read_paths)]
    read += [str(srt_tmp), str(work_dir)]
    write = [str(work_dir), *(str(p) for p in policy.resolved_paths(policy.write_paths))]
    denied = [str(p) for p in deny] + list(_SRT_SHARED_TMP)
    return {
        "network": {
            "allowedDomains": list(policy.network_domains),
            "deniedDomains": [],
            # Refuse what is not listed; never ask.
            "strictAllowlist": True,
            "allowLocalBinding": False,
        },
        "filesystem": {
            # /sys is spared by a deny of "/", so it is named.
            "denyRead": ["/", "/sys", *denied],
            "allowRead": _unique(read),
            "allowWrite": _unique(write),
            "denyWrite": denied,
        },
    }


def domain_problem(entry: str) -> str | None:
    """Why srt would reject ``entry`` as an allowed domain, or ``None``.

    srt takes ``example.org``, ``*.example.org`` (at least two labels after the
    wildcard), ``localhost``, IPv4 literals and bracketed IPv6 literals, each
    with an optional ``:port``; no scheme, path or broader wildcard.
    """
    if not entry or entry != entry.strip() or any(c.isspace() for c in entry):
        return "is empty or contains whitespace"
    if "://" in entry or "/" in entry:
        return "must be a host name, without a scheme or path"
    host, port = entry, None
    if entry.startswith("["):
        match = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?", entry)
        if match is None:
            return "is not a valid bracketed IPv6 address"
        host, port = match.group(1), match.group(2)
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return "is not a valid bracketed IPv6 address"
    elif entry.count(":") > 1:
        return "is an IPv6 address without brackets (write [::1] or [::1]:443)"
    elif ":" in entry:
        host, port = entry.rsplit(":", 1)
    if port is not None and not (port.isdigit() and 1 <= int(port) <= 65535):
        return "has an invalid port"
    if entry.startswith("["):
        return None
    if host == "localhost":
        return None
    labels = host[2:].split(".") if host.startswith("*.") else host.split(".")
    if "*" in "".join(labels):
        return "may only use a wildcard as '*.' before a domain (*.example.org)"
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return ("must be a domain with at least two labels (example.org, *.example.org)"
                " or an IP address")
    return None


def path_problem(path: str) -> str | None:
    """Why srt would misread ``path``: on Linux it expands glob characters in read rules."""
    if _GLOB_CHARS.search(path):
        return "contains a glob character (* ? [ ] { }), which srt would expand"
    return None


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
