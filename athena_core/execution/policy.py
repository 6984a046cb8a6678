"""Execution policies: what a sandboxed program may read, write, reach and use.

Three presets ship - ``strict`` (the default), ``research`` and ``development`` -
and custom policies are declared in ``athena.toml`` under ``[policies.NAME]`` or
given as JSON. An executor enforces every rule it accepts and refuses a policy
with a rule it cannot enforce; nothing is silently ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from athena_core.calls import ALL_PERMISSIONS
from athena_core.errors import ConfigError

__all__ = ["DEFAULT_DENY", "PRESETS", "Limits", "Policy", "path_refusals", "policy_from_mapping",
           "protected_paths"]

#: Paths never exposed, whatever a policy allows (credentials and secrets).
DEFAULT_DENY = ("~/.ssh", "~/.aws", "~/.anthropic", "~/.config/gh", "~/.gnupg", "~/.netrc",
                "~/.docker", "~/.kube", "/etc/shadow", "/etc/gshadow", "/etc/sudoers")

_MiB = 1024 * 1024


def _positive(instance: object, attribute: attrs.Attribute, value: float) -> None:  # type: ignore[type-arg]
    if value <= 0:
        raise ValueError(f"{attribute.name} must be positive, not {value!r}")


@attrs.frozen
class Limits:
    """Resource limits of one execution."""

    #: CPU time of the whole process tree, in seconds.
    cpu_seconds: float = attrs.field(default=10.0, validator=_positive)
    #: Address space of each process, in bytes.
    memory_bytes: int = attrs.field(default=512 * _MiB, validator=_positive)
    #: Processes (and threads) the program may run at once.
    processes: int = attrs.field(default=32, validator=_positive)
    #: Largest file the program may write, in bytes.
    file_size_bytes: int = attrs.field(default=16 * _MiB, validator=_positive)
    #: Open file descriptors per process.
    open_files: int = attrs.field(default=256, validator=_positive)
    #: Wall-clock time, in seconds, enforced by the host.
    wall_seconds: float = attrs.field(default=30.0, validator=_positive)
    #: stdout + stderr bytes kept; a program writing more is stopped.
    output_bytes: int = attrs.field(default=1 * _MiB, validator=_positive)
    #: Calls a program may make to the ``athena`` module.
    api_calls: int = attrs.field(default=1_000, validator=_positive)


@attrs.frozen
class Policy:
    """Everything a sandbox enforces for one execution."""

    name: str
    #: Host paths mounted read-only (besides the system directories every program needs).
    read_paths: tuple[str, ...] = ()
    #: Host paths mounted read-write. Empty: only the private work dir is writable.
    write_paths: tuple[str, ...] = ()
    #: Paths never mounted, even inside an allowed directory.
    deny_paths: tuple[str, ...] = DEFAULT_DENY
    #: Domains the program may connect to (``*.example.org`` allowed). Empty: no network.
    network_domains: tuple[str, ...] = ()
    #: Host environment variables passed through by name. Empty: a scrubbed environment.
    env: tuple[str, ...] = ()
    #: Operations the program may call (``recall``, ``semantic.*``); ``("*",)`` is all.
    api: tuple[str, ...] = ("*",)
    #: Permissions granted to the operations it calls (``read``, ``write``, ``delete``,
    #: ``execute``). A sandboxed program never gets ``execute``: programs do not start
    #: programs. In MCP classic mode, ``execute`` offers the ``execute`` tool.
    permissions: tuple[str, ...] = ("read", "write", "delete")
    limits: Limits = Limits()

    @property
    def needs_network(self) -> bool:
        return bool(self.network_domains)

    def resolved_paths(self, paths: tuple[str, ...]) -> list[Path]:
        return [Path(p).expanduser().resolve() for p in paths]

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self, value_serializer=lambda _i, _a, v: list(v)
                            if isinstance(v, tuple) else v)

    @classmethod
    def from_json(cls, text: str) -> Policy:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"policy JSON is invalid: {exc}.") from None
        if not isinstance(data, dict):
            raise ConfigError("a policy must be a JSON object.")
        return policy_from_mapping(data.pop("name", "custom"), data)


#: The preset policies, by name.
PRESETS: dict[str, Policy] = {
    "strict": Policy("strict"),
    "research": Policy(
        "research",
        network_domains=("*.wikipedia.org", "arxiv.org", "export.arxiv.org",
                         "api.github.com", "docs.python.org"),
        limits=Limits(wall_seconds=120.0, cpu_seconds=60.0)),
    "development": Policy(
        "development", read_paths=(".",),
        limits=Limits(wall_seconds=120.0, cpu_seconds=60.0, memory_bytes=2048 * _MiB,
                      processes=128)),
}

_FIELDS = {f.name for f in attrs.fields(Policy)} - {"name", "limits"}
_LIMITS = {f.name: f for f in attrs.fields(Limits)}


def policy_from_mapping(name: str, data: Mapping[str, Any], *, base: Policy | None = None
                        ) -> Policy:
    """Build a policy from TOML/JSON data; ``extends = "preset"`` starts from a preset."""
    data = dict(data)
    parent = data.pop("extends", None)
    if parent is not None:
        if parent not in PRESETS:
            raise ConfigError(f"policy {name!r} extends unknown preset {parent!r}; "
                              f"presets: {', '.join(sorted(PRESETS))}.")
        base = PRESETS[parent]
    base = base or PRESETS["strict"]
    limits_data = data.pop("limits", {})
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} in policy {name!r}; valid keys: "
                          f"extends, limits, {', '.join(sorted(_FIELDS))}.")
    values: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"policy {name!r}: {key} must be a list of strings.")
        values[key] = tuple(value)
    unknown = sorted(set(values.get("permissions", ())) - ALL_PERMISSIONS)
    if unknown:
        raise ConfigError(f"policy {name!r}: unknown permission {unknown[0]!r}; valid: "
                          f"{', '.join(sorted(ALL_PERMISSIONS))}.")
    if not isinstance(limits_data, Mapping):
        raise ConfigError(f"policy {name!r}: limits must be a table.")
    unknown = sorted(set(limits_data) - set(_LIMITS))
    if unknown:
        raise ConfigError(f"unknown limit {unknown[0]!r} in policy {name!r}; valid: "
                          f"{', '.join(sorted(_LIMITS))}.")
    try:
        limits = attrs.evolve(base.limits, **limits_data)
        return attrs.evolve(base, name=name, limits=limits, **values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"policy {name!r}: {exc}.") from None


def protected_paths(policy: Policy, data_dir: Path) -> list[Path]:
    """Never mounted, whatever the policy says: the default credentials, the policy's own
    deny list, and the Athena data dir."""
    paths = dict.fromkeys(DEFAULT_DENY + policy.deny_paths)
    return [Path(p).expanduser().resolve() for p in paths] + [data_dir.resolve()]


def path_refusals(policy: Policy, data_dir: Path) -> list[str]:
    """Policy paths that every executor must refuse: inside a protected location."""
    if not policy.read_paths and not policy.write_paths:
        return []
    protected = protected_paths(policy, data_dir)
    reasons = []
    for path in policy.resolved_paths(policy.read_paths + policy.write_paths):
        for secret in protected:
            if path == secret or secret in path.parents:
                reasons.append(f"policy path {path} is inside {secret}, which is never "
                               "mounted (credentials and the Athena data dir)")
    return reasons
