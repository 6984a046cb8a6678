"""``athena privacy scan``: what the detectors find in a text, a file or standard input.

A thin layer over ``athena.privacy.scan`` (the registered operation). It prints offsets,
types and detector names, never the values found.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from athena_core.cli import _fail_usage, _open, _print_json

__all__ = ["EXIT_FOUND", "register"]

#: The exit status of a scan with ``--exit-code`` that found something.
EXIT_FOUND = 3


def _read_text(args: argparse.Namespace) -> str:
    if args.text is not None and args.file is not None:
        _fail_usage("give a text or --file, not both")
    if args.file is not None:
        try:
            with open(args.file, encoding="utf-8", errors="strict") as handle:
                return handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            _fail_usage(f"cannot read {args.file} as UTF-8 text: {exc}")
    if args.text is not None and args.text != "-":
        return str(args.text)
    return sys.stdin.read()


def _cmd_scan(args: argparse.Namespace) -> int:
    text = _read_text(args)
    with _open(args) as athena:
        spans = athena.privacy.scan(text, types=args.type or None, scope=args.scope)
    if args.json:
        _print_json(spans)
    else:
        for span in spans:
            print(_line(text, span))
        print(f"{len(spans)} sensitive value{'' if len(spans) == 1 else 's'} found",
              file=sys.stderr)
    return EXIT_FOUND if spans and args.exit_code else 0


def _line(text: str, span: dict[str, Any]) -> str:
    line = text.count("\n", 0, span["start"]) + 1
    column = span["start"] - (text.rfind("\n", 0, span["start"]) + 1) + 1
    return (f"{span['start']}-{span['end']}  line {line} col {column}  {span['type']}  "
            f"({span['detector']}, {span['confidence']:.2f})")


def register(commands: Any, common: argparse.ArgumentParser,
             scoped: argparse.ArgumentParser) -> None:
    """Add ``athena privacy`` and its subcommands to the ``athena`` parser."""
    privacy = commands.add_parser(
        "privacy", help="see which sensitive values Athena detects",
        description="Detection of sensitive values: e-mail addresses, phone numbers, payment "
                    "cards, IBANs, US SSNs, IP addresses and secrets (docs/privacy.md).")
    privacy_commands = privacy.add_subparsers(title="commands", metavar="COMMAND")
    sub = privacy_commands.add_parser(
        "scan", parents=[common, scoped], formatter_class=argparse.RawDescriptionHelpFormatter,
        help="list the sensitive values in a text: offsets, type and detector, never the value",
        description="Scan TEXT (or --file, or standard input) with the detectors and the\n"
                    "scope's [privacy] rules, and list each sensitive value found: its\n"
                    "offsets (start-end, in characters), line and column, type, detector\n"
                    "and confidence. The values themselves are never printed.",
        epilog="examples:\n"
               "  athena privacy scan 'write to ada@acme-corp.com'\n"
               "  athena privacy scan --file notes.txt --json\n"
               "  git diff | athena privacy scan --type secrets --exit-code\n\n"
               f"exit status: 0 scanned (with --exit-code: found nothing), {EXIT_FOUND} found\n"
               "something (only with --exit-code), 1 an Athena error, 2 bad usage.")
    sub.add_argument("text", nargs="?", help="the text to scan ('-' or none: standard input)")
    sub.add_argument("--file", metavar="PATH", help="scan this UTF-8 file instead")
    sub.add_argument("--type", action="append", metavar="NAME",
                     help="only this type or detector (repeatable), e.g. email, secrets")
    sub.add_argument("--exit-code", action="store_true",
                     help=f"exit with status {EXIT_FOUND} when something is found")
    sub.set_defaults(handler=_cmd_scan)
