"""This process and others on the host: whether one that claimed work is still there, a file
lock only one of them holds, how this one holds millions of short-lived objects without the
cycle collector's cost and lets go of them while it waits, and how it recurses deeply without
the frame stack's."""

from __future__ import annotations

import fcntl
import gc
import os
import threading
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, ParamSpec, TextIO, TypeVar

P = ParamSpec("P")
R = TypeVar("R")
#: Local variables of the frame that opens a roomy chunk of the frame stack: 128 KiB of
#: them, so that about as much again is left free after it (see `call_with_frame_room`).
FRAME_ROOM_SLOTS = 16_384


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


def free_in_background(objects: list[Any]) -> threading.Thread:
    """Empty `objects` in a thread of its own (returned, started), which frees them while this
    one waits, for instance on another process: 100,000 events of a window take 0.2 s to free."""
    thread = threading.Thread(target=_free, args=(objects,), name="free")
    thread.start()
    return thread


def _free(objects: list[Any]) -> None:
    """A thousand at a time: one `clear()` would hold the interpreter's lock throughout."""
    while objects:
        del objects[-1000:]


def call_with_frame_room(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """`function(*args, **kwargs)`, called from a frame that opens a chunk of CPython's frame
    stack with room for the call's whole recursion.

    CPython (3.11 to 3.13 at least) keeps Python frames in 16 KiB chunks that it maps when a
    call needs one and unmaps when that call returns. A deep recursion that goes back and forth
    across a chunk's end maps and unmaps one each time: laying out and writing a 300-event
    brief did so 8,000 times, a tenth of its time in system calls and page faults. A chunk is
    sized to fit the frame that opens it, with at least 8 KiB more, rounded up to a power of
    two; so a frame of 128 KiB of local variables opens one of 256 KiB, whose other half holds
    the call's frames.
    """
    return _roomy_call()(function, args, kwargs)


def _call(function: Callable[..., R], args: tuple, kwargs: dict) -> R:
    return function(*args, **kwargs)


@cache
def _roomy_call() -> Callable[..., Any]:
    """`_call` with FRAME_ROOM_SLOTS unused local variables; made on first use (it takes 7 ms,
    which commands that never render should not pay)."""
    code = _call.__code__
    unused = tuple(f"_unused_{number}" for number in range(FRAME_ROOM_SLOTS))
    roomy = code.replace(
        co_varnames=code.co_varnames + unused, co_nlocals=code.co_nlocals + FRAME_ROOM_SLOTS
    )
    return types.FunctionType(roomy, globals(), "_roomy_call")
