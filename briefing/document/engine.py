"""WeasyPrint, which lays out and writes the PDF, imported without searching for its libraries.

Its own module so that a renderer process can import WeasyPrint this way before anything else
imports it (`briefing.document.pdf` imports it at the top).
"""

from __future__ import annotations

import contextlib
import ctypes.util
import io
import sys
from collections.abc import Iterator


def import_weasyprint() -> None:
    """WeasyPrint's import without a search for its libraries, where it can do without.

    WeasyPrint tries each library it loads (Pango, HarfBuzz, …) under several systems' names,
    and cffi looks every name it cannot load up with `ctypes.util.find_library`, which on Linux
    runs ldconfig (22 times here) and gcc with its linker (16 times): a fifth of a second of
    each import (WeasyPrint issue 1125). Every list ends with the file name a Linux system
    installs (for instance `libpango-1.0.so.0`), which loads without a search. Should one not,
    the import is tried again with the search (WeasyPrint's message on the first failure is
    not printed).
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        with _no_library_search(), contextlib.redirect_stdout(io.StringIO()):
            import weasyprint
    except OSError:
        import weasyprint  # noqa: F401


def _found_nowhere(name: str) -> str | None:
    """`ctypes.util.find_library`, answering at once that `name` is nowhere."""
    return None


@contextlib.contextmanager
def _no_library_search() -> Iterator[None]:
    search = ctypes.util.find_library
    ctypes.util.find_library = _found_nowhere
    try:
        yield
    finally:
        ctypes.util.find_library = search
