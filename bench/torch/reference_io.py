"""Output of bench/torch/reference.py: JSON lines on stdout for Kiln to parse, words on stderr."""
from __future__ import annotations

import json
import sys


def emit(obj: dict) -> None:
    """One JSON object per line, flushed, so the parent can stream progress epoch by epoch."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def log(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def fail(msg: str) -> None:
    """Bad input ends with one line on stderr and exit status 2, never a traceback."""
    log(f"reference.py: {msg}")
    sys.exit(2)
