"""A PDF renderer in a child process that starts loading WeasyPrint before it is needed.

For one-shot commands: the child's import of WeasyPrint (about half a second) runs on the
second core while the parent reads settings, opens the database and composes the brief, so
the command costs little more than the render it cannot avoid. Nothing here imports
WeasyPrint in the parent.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING

from briefing.errors import BriefingError

if TYPE_CHECKING:
    from briefing.compose import Brief
    from briefing.render import RenderedPdf

# Above this many events, sending the brief to the child (pickling every event, about 50 µs
# each) costs more than the half second of importing WeasyPrint here.
LARGE_BRIEF = 5_000


def _load_renderer() -> None:
    import briefing.pdf  # noqa: F401  (the slow import this process exists to do early)


def _render(brief: Brief, template_dir: Path | None, author: str) -> RenderedPdf:
    from briefing.pdf import render_pdf

    return render_pdf(brief, template_dir=template_dir, author=author)


class PdfWorker:
    """Use as a context manager: the child starts on entry and is reaped on exit."""

    def __enter__(self) -> PdfWorker:
        self._pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_load_renderer,
        )
        self._pool.submit(int)  # start the child now, not at the first render
        return self

    def __exit__(self, *_exc: object) -> None:
        self._pool.shutdown(cancel_futures=True)

    def render_pdf(
        self, brief: Brief, *, template_dir: Path | None = None, author: str = "briefing"
    ) -> RenderedPdf:
        """Rendered by the child; a brief of many events here, as copying it costs more."""
        if len(brief.events) > LARGE_BRIEF:
            return _render(brief, template_dir, author)
        try:
            return self._pool.submit(_render, brief, template_dir, author).result()
        except BrokenProcessPool:
            raise BriefingError("the PDF renderer process died; see the messages above") from None
