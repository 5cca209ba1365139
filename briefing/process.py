"""This process and others on the host: whether one that claimed work is still there, a file
lock only one of them holds, and how this one holds millions of short-lived objects without
the cycle collector's cost."""

from __future__ import annotations

import fcntl
import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


def is_alive(pid: int) -> bool:
    """True while `pid` exists on this host (even if it belongs to another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_file(path: Path) -> TextIO:
    """`path` opened (created if need be) under an exclusive flock, once no one else holds it.

    Closing the file releases the lock, and so does the kernel when the holder ends, however
    it ends: a killed process never leaves it held."""
    handle = _opened(path)
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def try_lock_file(path: Path) -> TextIO | None:
    """As `lock_file`, but None at once when another process holds the lock."""
    handle = _opened(path)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _opened(path: Path) -> TextIO:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("a+")


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """No cycle collection inside the block.

    Reading and composing a brief of 100,000 events makes millions of objects, none in a
    cycle; the collector walked them again and again as they piled up (more than half of
    reading them, a fifth of making the edition). What cycles the block leaves are collected
    by a later full collection.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        # What the block made and kept goes to the oldest generation unexamined: the first
        # collection after it would otherwise walk it all (1.5 s after a brief of 100,000 events).
        gc.freeze()
        gc.unfreeze()
        if enabled:
            gc.enable()
