"""The `briefing` command as installed and as `python -m briefing`: before its own imports, a
command that will render a PDF starts its renderer, and every command exits without the
interpreter's last collection."""

from __future__ import annotations

import atexit
import gc
import sys


def run() -> None:
    """`briefing.cli.main`, then an exit without the last collection, which walked every object
    once more (60–80 ms of every command) for memory the exit frees anyway; registered first,
    `gc.freeze` runs after every other exit handler."""
    atexit.register(gc.freeze)
    if renders_pdf(sys.argv[1:]):
        from briefing.document.pdf_worker import start_early

        start_early()
    from briefing.cli import main

    main()


def renders_pdf(args: list[str]) -> bool:
    """Whether `args` surely ask `briefing generate` for a PDF. A guess before click parses
    them: a wrong yes starts a renderer that is not used; a no starts it later."""
    words = iter(args)
    for word in words:
        if word == "--config":
            next(words, None)
        elif not word.startswith("-"):
            rest = set(words)
            return word == "generate" and not rest & {"-h", "--help", "html", "--format=html"}
    return False


if __name__ == "__main__":
    run()
