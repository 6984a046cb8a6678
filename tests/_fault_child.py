"""A child process for the storage fault tests (run as ``python _fault_child.py ...``).

``python _fault_child.py DATA_DIR SECRET [--file-size-limit BYTES] [--no-dac-override]``

Opens the data dir with the test configuration, recalls, then remembers ``SECRET``
(for ``--file-size-limit``: keeps remembering memories that start with ``SECRET``
until something fails, printing each acknowledged id on its own line as ``ack ID``).
The last line is a JSON report: where it failed (``open``, ``recall``, ``remember``
or nothing), the error's class (module-qualified) and its ``hint``, whether the
secret appears in the error's rendering (message, and traceback with its causes), and
the texts recall found.

``--no-dac-override`` drops the capabilities that let root ignore file modes and owners
(``CAP_DAC_OVERRIDE``, ``CAP_DAC_READ_SEARCH``, ``CAP_FOWNER``) before opening, so
that a test running as root sees read-only and foreign-owned files as any user does.
``--file-size-limit`` sets ``RLIMIT_FSIZE`` (with ``SIGXFSZ`` ignored, so writes past
it fail with ``EFBIG`` instead of killing the process) after the open.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import resource
import signal
import traceback
from typing import Any

from _workers import open_athena

#: ``_LINUX_CAPABILITY_VERSION_3``: two 32-bit words per set.
_CAPABILITY_VERSION = 0x20080522
_DAC_CAPABILITIES = (1, 2, 3)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER


def drop_dac_override() -> None:
    """Remove the file-permission capabilities from this process (effective and permitted)."""
    libc = ctypes.CDLL(None, use_errno=True)
    header = (ctypes.c_uint32 * 2)(_CAPABILITY_VERSION, 0)
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable; low then high word
    if libc.capget(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capget failed")
    mask = ~sum(1 << cap for cap in _DAC_CAPABILITIES) & 0xFFFFFFFF
    data[0] &= mask
    data[1] &= mask
    if libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


def describe(error: BaseException, secret: str) -> dict[str, Any]:
    rendering = str(error) + "".join(traceback.format_exception(error))
    return {"type": f"{type(error).__module__}.{type(error).__qualname__}",
            "message": str(error), "hint": getattr(error, "hint", None),
            "leaks_secret": secret in rendering}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir")
    parser.add_argument("secret")
    parser.add_argument("--file-size-limit", type=int)
    parser.add_argument("--no-dac-override", action="store_true")
    args = parser.parse_args()
    if args.no_dac_override:
        drop_dac_override()
    report: dict[str, Any] = {"failed_at": None, "error": None, "recalled": []}
    stage = "open"
    try:
        athena = open_athena(args.data_dir)
        try:
            stage = "recall"
            report["recalled"] = [hit.text for hit in athena.recall("acknowledged", k=50)]
            stage = "remember"
            if args.file_size_limit is None:
                athena.remember(args.secret)
            else:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE,
                                   (args.file_size_limit, resource.RLIM_INFINITY))
                for number in range(100_000):
                    memory_id = athena.remember(f"{args.secret} {number} " + "filler " * 200)
                    print("ack", memory_id, flush=True)
        finally:
            athena.close()
    except Exception as error:  # the report says what escaped; the test judges it
        report["failed_at"] = stage
        report["error"] = describe(error, args.secret)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
