"""Editions on disk: written whole or not at all, never overwritten, checked against records."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from briefing.store.editions import Edition

_CHUNK = 1 << 20
STALE_PARTIAL_SECONDS = 3600


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

    The bytes go to a temporary file first; a hard link then claims the final name, which fails
    rather than overwrite, so a reader never sees a partial file and no edition replaces another.
    """
    folder = edition_folder(output_dir, brief, day)
    folder.mkdir(parents=True, exist_ok=True)
    _sweep_partials(folder)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".partial-", suffix=f".{fmt}")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        final = _claim_name(Path(temporary), folder, f"{brief}-{day:%Y-%m-%d}", fmt)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return ArchivedFile(
        path=final,
        relative=final.relative_to(output_dir).as_posix(),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )


def _sweep_partials(folder: Path) -> None:
    """Remove temporary files that a process killed mid-write left behind."""
    cutoff = time.time() - STALE_PARTIAL_SECONDS
    for leftover in folder.glob(".partial-*"):
        with contextlib.suppress(FileNotFoundError):
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()


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
