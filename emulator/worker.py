"""Scoring worker subprocess: imports the user's script, calls init() once and run() per mini-batch.

Run as a plain file (stdlib only, so the user's environment needs nothing of ours):
    python worker.py <code_dir> <scoring_script> [--logging_level LEVEL]
Protocol: JSON lines. Requests on stdin {"batch": id, "files": [...]}; replies on the process's
original stdout. The script's own stdout/stderr are redirected to the files named by
EMULATOR_STDOUT / EMULATOR_STDERR so prints cannot corrupt the protocol.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
import traceback
from typing import Any, TextIO


def _open_channel() -> TextIO:
    channel = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    for fd, env in ((1, "EMULATOR_STDOUT"), (2, "EMULATOR_STDERR")):
        target = os.environ.get(env)
        if target:
            out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(out, fd)
            os.close(out)
    sys.stdout = os.fdopen(1, "w", buffering=1, encoding="utf-8", closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, encoding="utf-8", closefd=False)
    return channel


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def to_lines(result: Any) -> list[str]:
    """run() output → one text line per element, values joined by a single space (contract §4.3)."""
    if result is None:
        return []
    if type(result).__module__.startswith("pandas") and hasattr(result, "itertuples"):
        if hasattr(result, "to_frame") and not hasattr(result, "columns"):  # Series
            return [_cell(v) for v in result.tolist()]
        return [" ".join(_cell(v) for v in row) for row in result.itertuples(index=False, name=None)]
    if isinstance(result, (str, bytes)):
        raise TypeError("run() must return a list or a pandas DataFrame, not a string")
    lines = []
    for element in list(result):  # also accepts generators (the parquet sample yields)
        if isinstance(element, (list, tuple)):
            lines.append(" ".join(_cell(v) for v in element))
        elif isinstance(element, dict):
            lines.append(" ".join(_cell(v) for v in element.values()))
        else:
            lines.append(_cell(element))
    return lines


def main(argv: list[str]) -> int:
    channel = _open_channel()
    code_dir, script = argv[1], argv[2]
    sys.argv = [os.path.join(code_dir, script), *argv[3:]]  # scripts may parse --logging_level
    sys.path.insert(0, code_dir)

    def reply(msg: dict[str, Any]) -> None:
        channel.write(json.dumps(msg) + "\n")
        channel.flush()

    try:
        spec = importlib.util.spec_from_file_location("_scoring_script", os.path.join(code_dir, script))
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if hasattr(module, "init"):
            module.init()
    except BaseException:
        traceback.print_exc()
        reply({"ready": False, "error": traceback.format_exc(limit=8)})
        return 1
    reply({"ready": True})
    for raw in sys.stdin:
        if not raw.strip():
            continue
        req = json.loads(raw)
        try:
            lines = to_lines(module.run(list(req["files"])))
            reply({"batch": req["batch"], "ok": True, "lines": lines})
        except BaseException as exc:
            traceback.print_exc()
            reply({"batch": req["batch"], "ok": False, "error": f"{type(exc).__name__}: {exc}",
                   "traceback": traceback.format_exc(limit=8)})
        sys.stdout.flush()
        sys.stderr.flush()
    if hasattr(module, "shutdown"):
        module.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
