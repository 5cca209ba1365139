"""Editions on disk: written whole or not at all, never overwritten, checked against records."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO, TypeVar

from briefing.errors import BriefingError
from briefing.process import is_alive
from briefing.store.editions import Edition

_CHUNK = 1 << 20
STALE_PARTIAL_SECONDS = 3600
# Temporary files are named `.partial-<pid of the writer>-<random>.<ext>`: recognisable, and
# removable as soon as that writer is gone.
PARTIAL_PREFIX = ".partial-"
T = TypeVar("T")


def _partial_prefix() -> str:
    return f"{PARTIAL_PREFIX}{os.getpid()}-"


@dataclass(frozen=True)
class ArchivedFile:
    path: Path
    relative: str
    sha256: str
    size: int


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def edition_folder(output_dir: Path, brief: str, day: date) -> Path:
    return output_dir / "briefs" / brief / f"{day:%Y}"


def write_edition_file(
    output_dir: Path, brief: str, day: date, data: bytes, fmt: str
) -> ArchivedFile:
    """Place `data` as `<brief>-<day>.<fmt>`, or `-2`, `-3`… when that name is taken.

    A hard link claims the final name, which fails rather than overwrite, so no edition
    replaces another.
    """
    folder = edition_folder(output_dir, brief, day)
    folder.mkdir(parents=True, exist_ok=True)
    _sweep_partials(folder)
    stem = f"{brief}-{day:%Y-%m-%d}"
    final = _write_then_place(
        folder, lambda stream: stream.write(data), lambda t: _claim_name(t, folder, stem, fmt),
        f".{fmt}",
    )  # fmt: skip
    return ArchivedFile(
        path=final,
        relative=final.relative_to(output_dir).as_posix(),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )


def write_whole(target: Path, data: bytes) -> None:
    """Write `target` so that a reader sees the old file or the new one, never a part."""
    _write_then_place(
        target.parent, lambda stream: stream.write(data), lambda t: os.replace(t, target)
    )


def _write_then_place(
    folder: Path,
    write: Callable[[BinaryIO], object],
    place: Callable[[Path], T],
    suffix: str = "",
) -> T:
    """Write a temporary file beside the final name, flush it to disk, then `place` it (a link
    or a rename); the temporary name is gone afterwards whatever happened.

    Everything written into `output/` goes through here, so a process killed mid-write leaves
    only a recognisable `.partial-<pid>-…` file that the next writer or `archive verify` finds.
    """
    handle, name = tempfile.mkstemp(dir=folder, prefix=_partial_prefix(), suffix=suffix)
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        return place(temporary)
    finally:
        temporary.unlink(missing_ok=True)


def _sweep_partials(folder: Path) -> None:
    """Remove temporary files that a process killed mid-write left behind."""
    for leftover in folder.glob(f"{PARTIAL_PREFIX}*"):
        with contextlib.suppress(FileNotFoundError):
            if is_leftover(leftover):
                leftover.unlink()


def is_leftover(partial: Path) -> bool:
    """A temporary file no one is writing: its writer (on this host) is gone, or it is old."""
    writer = partial.name.removeprefix(PARTIAL_PREFIX).split("-", 1)[0]
    if writer.isdigit() and not is_alive(int(writer)):
        return True
    return partial.stat().st_mtime < time.time() - STALE_PARTIAL_SECONDS


def copy_out(source: Path, target: Path, *, replace: bool = False) -> None:
    """Copy an edition to a path of the user's, whole; an existing file only with `replace`."""

    def copy(stream: BinaryIO) -> None:
        with source.open("rb") as original:
            shutil.copyfileobj(original, stream, _CHUNK)

    # A link fails, rather than overwrite, when the name is taken.
    place = functools.partial(os.replace if replace else os.link, dst=target)
    try:
        _write_then_place(target.parent, copy, place)
    except FileExistsError:
        raise BriefingError(
            f"{target} already exists; pass --force to replace it (the edition is archived "
            f"at {source})"
        ) from None


def _claim_name(temporary: Path, folder: Path, stem: str, fmt: str) -> Path:
    number = 1
    while True:
        candidate = folder / (f"{stem}.{fmt}" if number == 1 else f"{stem}-{number}.{fmt}")
        try:
            os.link(temporary, candidate)
            return candidate
        except FileExistsError:
            number += 1


@dataclass(frozen=True)
class Check:
    edition: Edition
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_edition(output_dir: Path, edition: Edition) -> Check:
    """Compare the file on disk with the size and checksum recorded when it was archived."""
    path = output_dir / edition.path
    if not path.is_file():
        return Check(edition, f"missing: {path}")
    if path.stat().st_size != edition.size or sha256_of(path) != edition.sha256:
        return Check(edition, f"altered: {path} no longer matches its recorded SHA-256")
    return Check(edition, None)


@dataclass(frozen=True)
class Unowned:
    """A file in the archive that no edition records: left by a killed run, or put there."""

    path: Path
    temporary: bool

    @property
    def problem(self) -> str:
        if self.temporary:
            return f"{self.path}: temporary file of an interrupted write; remove it"
        return f"{self.path}: no edition records this file; remove it or keep it elsewhere"


def unowned_files(output_dir: Path, owned: set[str], brief: str | None = None) -> list[Unowned]:
    """Files under the archive (one brief's folder, or all) that no edition owns; a temporary
    file still being written by a live process is not counted."""
    root = output_dir / "briefs"
    if brief:
        root = root / brief
    found = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.relative_to(output_dir).as_posix() in owned:
            continue
        temporary = path.name.startswith(PARTIAL_PREFIX)
        if temporary and not is_leftover(path):
            continue
        found.append(Unowned(path, temporary))
    return found
