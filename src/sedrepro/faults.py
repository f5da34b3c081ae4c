"""Fault injection for the kill -9 tests: a stage stops at a chosen point of its work and waits there to be killed.

With SEDREPRO_FAULT="<point>:<n>:<marker file>" in the environment, the stage that reaches `fault_point(<point>, n)`
writes the marker file (atomically: "<point> <n> pid <pid>") and then blocks until it is killed. A test waits for the
marker and sends SIGKILL, so the kill lands at a known point of the work, never after a guessed delay. Without the
variable (every real run) fault_point returns at once.

Points: "archive.member" (n members extracted), "features.clip" (n clips' features written into the temp file),
"train.epoch" (epoch n finished and its resume state saved).
"""

from __future__ import annotations

import functools
import logging
import os
import time
from pathlib import Path

from .io import fail, write_text

log = logging.getLogger(__name__)

VARIABLE = "SEDREPRO_FAULT"
POINTS = ("archive.member", "features.clip", "train.epoch")
_SPEC = os.environ.get(VARIABLE)  # read once: a real run pays one comparison per call


def fault_point(name: str, i: int) -> None:
    """Called by a stage after item `i` (1-based) of the work that point `name` counts."""
    if _SPEC is None:
        return
    if name not in POINTS:
        raise ValueError(f"unknown fault point {name!r}: add it to sedrepro.faults.POINTS")
    point, n, marker = parse(_SPEC)
    if name == point and i == n:
        _stop(name, i, marker)


@functools.cache
def parse(spec: str) -> tuple[str, int, Path]:
    """(point, n, marker file) of a SEDREPRO_FAULT value; a malformed one stops the stage with one line."""
    where = f"environment variable {VARIABLE}"
    point, _, rest = spec.partition(":")
    n, _, marker = rest.partition(":")
    if point not in POINTS:
        raise fail(where, f"<point>:<n>:<marker file> with <point> one of {', '.join(POINTS)}", repr(spec))
    if not n.isdigit() or int(n) < 1 or not marker:
        raise fail(where, "<point>:<n>:<marker file> with <n> a positive integer", repr(spec))
    return point, int(n), Path(marker)


def _stop(name: str, i: int, marker: Path) -> None:
    log.warning("fault point %s %d reached (%s): waiting to be killed", name, i, VARIABLE)
    write_text(marker, f"{name} {i} pid {os.getpid()}\n")
    while True:  # only a signal ends this process now
        time.sleep(3600)
