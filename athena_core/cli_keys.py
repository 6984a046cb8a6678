"""``athena keys``: the keys that protect sensitive values - status, rotate, retire.

A thin layer over :meth:`athena_core.privacy.service.Privacy.key_status`,
``rotate_keys`` and ``retire_key``. Nothing here prints key material.
"""

from __future__ import annotations

import argparse
from typing import Any

from athena_core.cli import _open, _print_json, _progress

__all__ = ["register"]


def _cmd_status(args: argparse.Namespace) -> int:
    with _open(args) as athena:
        status = athena.privacy.key_status()
    if args.json:
        _print_json(status)
        return 0
    print(f"master key: {status['provider']}")
    for key in status["keys"]:
        state = "retired" if key["retired"] else "in use"
        count = "" if key["values"] is None else f", {key['values']:,} values"
        print(f"  {key['purpose']} key version {key['version']}: {state}{count}")
    if status["rotation_target"] is not None:
        print(f"a rotation to version {status['rotation_target']} was interrupted; run "
              "`athena keys rotate` to finish it")
    return 0


def _cmd_rotate(args: argparse.Namespace) -> int:
    if args.master:
        return _rotate_master(args)
    with _open(args) as athena:
        report = athena.privacy.rotate_keys(progress=_progress("re-encrypting"))
    if args.json:
        _print_json(report.to_dict())
    else:
        how = "finished an interrupted rotation: " if report.resumed else ""
        print(f"{how}{report.rewrapped:,} values re-encrypted under data key version "
              f"{report.version}. Retire old versions with `athena keys retire VERSION`.")
    return 0


def _rotate_master(args: argparse.Namespace) -> int:
    with _open(args) as athena:
        todo = athena.privacy.rotate_master_key()
        where = athena.privacy.key_status()["provider"]
    if args.json:
        _print_json({"master_rotated": True, "provider": where, "todo": todo})
    else:
        print(f"every key re-wrapped under a new master key, in {where}; the old master key "
              "no longer opens this store")
        if todo:
            print(todo)
    return 0


def _cmd_retire(args: argparse.Namespace) -> int:
    with _open(args) as athena:
        athena.privacy.retire_key(args.version)
    if args.json:
        _print_json({"retired": args.version})
    else:
        print(f"data key version {args.version} retired; nothing can be decrypted with it")
    return 0


def register(commands: Any, common: argparse.ArgumentParser,
             scoped: argparse.ArgumentParser) -> None:
    """Add ``athena keys`` and its subcommands to the ``athena`` parser."""
    keys = commands.add_parser(
        "keys", help="the keys that encrypt sensitive values: status, rotate, retire",
        description="Sensitive values are stored encrypted under data keys, which a master "
                    "key from the key provider wraps (docs/privacy.md).")
    key_commands = keys.add_subparsers(title="commands", metavar="COMMAND")
    sub = key_commands.add_parser(
        "status", parents=[common], help="the key provider, key versions and value counts")
    sub.set_defaults(handler=_cmd_status)
    sub = key_commands.add_parser(
        "rotate", parents=[common],
        help="re-encrypt every value under a new data key version (resumable)",
        description="Add a data key version and re-encrypt every sensitive value under it, "
                    "a batch at a time. Killed at any point, it loses nothing; run it again "
                    "to finish (no value is re-encrypted twice). With --master, replace "
                    "the master key instead: the data keys are re-wrapped under a new one "
                    "in one transaction (the env provider takes the new key from "
                    "ATHENA_MASTER_KEY_NEXT, or [privacy] key_env + _NEXT).")
    sub.add_argument("--master", action="store_true",
                     help="replace the master key that wraps the data keys")
    sub.set_defaults(handler=_cmd_rotate)
    sub = key_commands.add_parser(
        "retire", parents=[common],
        help="erase an old data key version once no value is under it")
    sub.add_argument("version", type=int, metavar="VERSION")
    sub.set_defaults(handler=_cmd_retire)
