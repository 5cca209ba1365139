"""A PDF renderer in a child process that starts loading WeasyPrint before it is needed.

For one-shot commands: the child's import of WeasyPrint (a third of a second) and then of the
brief's templates (with Babel's data for its locale) runs on the second core while the parent
reads settings, opens the database and composes the brief, so the command costs little more
than the render it cannot avoid. The child gets the brief, fills the templates and lays the
page out while the parent makes and compresses the attachment (the JSON of every event of the
window: 100 MB for 100,000 events), which it then gets deflated. Nothing here imports
WeasyPrint, jinja2 or Babel in the parent.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING

from briefing.errors import BriefingError
from briefing.process import call_with_frame_room

if TYPE_CHECKING:
    from briefing.brief.compose import Brief
    from briefing.document.page import PackedFile, RenderedPdf
    from briefing.document.pdf import LaidOut

# From <linux/prctl.h>: ask the kernel for a signal when the parent process dies.
PR_SET_PDEATHSIG = 1
PARENT_CHECK_SECONDS = 0.5


def _load_renderer(parent: int) -> None:
    # No cyclic garbage collection in this process: it lives for one command, the cycles
    # WeasyPrint makes go with it, and its import and render ran 5–8 % faster without.
    gc.disable()
    _die_with(parent)
    from briefing.document.engine import import_weasyprint

    import_weasyprint()
    import briefing.document.pdf  # noqa: F401  (the slow import this process exists to do early)


def _die_with(parent: int) -> None:
    """End this process when `parent` ends, however it ends (kill -9 included): a renderer
    left behind would hold its memory for ever, blocked on a pipe no one writes to."""
    if not (sys.platform.startswith("linux") and _kill_me_with_parent()):
        threading.Thread(target=_watch, args=(parent,), name="parent-watch", daemon=True).start()
    if os.getppid() != parent:  # it died before we asked
        os._exit(1)


def _kill_me_with_parent() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)  # this process's symbols, libc's among them
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


_laid_out: list[LaidOut] = []  # in the child: the pages laid out, waiting for their file


def _prepare(template_dir: Path | None, locale: str) -> None:
    from briefing.document.render import prepare_templates

    prepare_templates(template_dir, locale)
    call_with_frame_room(int)  # made now, not once the brief is here


def _lay_out(brief: Brief, template_dir: Path | None, author: str) -> int:
    from briefing.document.pdf import lay_out
    from briefing.document.render import pdf_source

    _laid_out[:] = [lay_out(pdf_source(brief, template_dir=template_dir, author=author))]
    return _laid_out[0].pages


def _write(events: PackedFile) -> RenderedPdf:
    from briefing.document.pdf import write_pdf

    laid_out = _laid_out.pop()
    return write_pdf(laid_out, events)


class PdfWorker:
    """Use as a context manager: the child starts on entry (unless `start` started it) and is
    reaped on exit."""

    _pool: ProcessPoolExecutor | None = None

    def start(self) -> PdfWorker:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_load_renderer,
                initargs=(os.getpid(),),
            )
            self._pool.submit(int)  # start the child now, not at the first render
        return self

    def __enter__(self) -> PdfWorker:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def prepare(self, template_dir: Path | None, locale: str) -> None:
        """Have the child load what filling the templates first needs while this process reads
        the store and composes the brief (it would otherwise be idle, waiting for the brief)."""
        self.pool.submit(_prepare, template_dir, locale)

    @property
    def pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            raise RuntimeError("the renderer has not been started")
        return self._pool

    def render_pdf(
        self,
        brief: Brief,
        *,
        events_json: Callable[[], Iterable[bytes]],
        template_dir: Path | None = None,
        author: str = "briefing",
    ) -> RenderedPdf:
        """The child fills the templates and lays out the pages while the events' JSON is made
        and packed here; then the child writes the PDF. Jinja2 and Babel are not loaded here."""
        from briefing.document.page import PackedFile

        try:
            laid_out = self.pool.submit(_lay_out, brief, template_dir, author)
            events = PackedFile.pack(events_json())
            laid_out.result()
            return self.pool.submit(_write, events).result()
        except BrokenProcessPool:
            raise BriefingError("the PDF renderer process died; see the messages above") from None


_started_early: list[PdfWorker] = []


def start_early() -> None:
    """Start a renderer now, for a command about to render a PDF (`briefing generate`), so
    that its process starts before the command's own imports (70–100 ms sooner)."""
    _started_early.append(PdfWorker().start())


def pdf_worker() -> PdfWorker:
    """The renderer started early, else a new one; enter it as a context manager."""
    return _started_early.pop() if _started_early else PdfWorker()
