"""Whether a process that claimed work on this host is still there to finish it."""

from __future__ import annotations

import os


def is_alive(pid: int) -> bool:
    """True while `pid` exists on this host (even if it belongs to another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
