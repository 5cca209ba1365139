"""`briefing generate` as a real process: killed, it leaves no renderer running and no file
that `archive verify` would not report; and `--out` never overwrites a file unasked."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import DEMO_EVENTS


def briefing_environment(output: Path) -> dict[str, str]:
    """This environment without the caller's BRIEFING_ settings, writing under `output`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFING_")}
    env.update(BRIEFING_OUTPUT_DIR=str(output), BRIEFING_TIMEZONE="Europe/Kyiv")
    return env


def generate_process(output: Path, *args: str) -> subprocess.Popen:
    env = briefing_environment(output)
    return subprocess.Popen(
        [sys.executable, "-m", "briefing", "generate", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(child) for child in path.read_text().split()]
    except OSError:
        return []


def running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    state = next(line for line in status.splitlines() if line.startswith("State:"))
    return "zombie" not in state and "(dead)" not in state


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_a_killed_generate_takes_its_pdf_worker_with_it(tmp_path):
    parent = generate_process(tmp_path / "output", "--date", "2024-10-26")
    workers = []
    try:
        assert wait_for(lambda: children(parent.pid), 30), "no worker seen"
        workers = children(parent.pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait()

        assert wait_for(lambda: not any(map(running, workers)), 2.0), "a worker outlived it"
    finally:
        parent.kill()
        for pid in filter(running, workers):
            os.kill(pid, signal.SIGKILL)


def test_a_file_left_by_a_generate_killed_while_recording_is_reported(cli, tmp_path):
    assert cli("events", "import", DEMO_EVENTS).code == 0
    database = tmp_path / "output" / "briefing.db"
    folder = tmp_path / "output" / "briefs" / "daily" / "2024"
    lock = sqlite3.connect(database, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # generate can read, render and write its file, not record
    process = generate_process(tmp_path / "output", "--date", "2024-10-26")
    try:
        made = wait_for(lambda: list(folder.glob("daily-*.pdf")), 60)
        process.kill()
        process.wait()
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert made, process.stderr.read()
    assert json.loads(cli("archive", "list", "--json").out) == []

    result = cli("archive", "verify", "--json")

    assert result.code == 1
    report = json.loads(result.out)
    assert "output/briefs/daily/2024/daily-2024-10-26.pdf" in [
        _rel(item["path"]) for item in report["unowned"]
    ]
    leftovers = [item for item in report["unowned"] if item["temporary"]]
    assert all(Path(item["path"]).name.startswith(".partial-") for item in leftovers)
    plain = cli("archive", "verify")
    assert plain.code == 1 and "daily-2024-10-26.pdf: no edition records this file" in plain.err

    # The next edition into that folder clears the killed writer's temporary file.
    assert cli("generate", "--date", "2024-10-26").code == 0
    assert not list(folder.glob(".partial-*"))


def _rel(path: str) -> str:
    return "output/" + path.split("/output/", 1)[1]


def test_out_never_overwrites_a_file_unless_forced(cli, tmp_path):
    cli("events", "import", DEMO_EVENTS)
    mine = tmp_path / "mine.pdf"
    mine.write_bytes(b"my own notes")

    refused = cli("generate", "--date", "2024-10-26", "--out", str(mine))

    assert refused.code == 2
    assert "mine.pdf already exists" in refused.err and "--force" in refused.err
    assert mine.read_bytes() == b"my own notes"
    assert json.loads(cli("archive", "list", "--json").out) == []  # refused before making one

    forced = cli("generate", "--json", "--date", "2024-10-26", "--out", str(mine), "--force")

    assert forced.code == 0, forced.err
    assert mine.read_bytes() == Path(json.loads(forced.out)["path"]).read_bytes()


def test_out_into_a_folder_holding_that_name_keeps_the_file(cli, tmp_path):
    cli("events", "import", DEMO_EVENTS)
    folder = tmp_path / "copies"
    folder.mkdir()
    (folder / "daily-2024-10-26.pdf").write_bytes(b"an older copy")

    refused = cli("generate", "--date", "2024-10-26", "--out", str(folder))

    assert refused.code == 1
    assert "daily-2024-10-26.pdf already exists" in refused.err and "--force" in refused.err
    assert (folder / "daily-2024-10-26.pdf").read_bytes() == b"an older copy"


# Runs `briefing` with an audit hook that writes down every program it (or its renderer,
# forked with the hook in place) starts.
WITH_PROGRAMS_LOGGED = """
import sys
def log_programs(event, args, log=open(sys.argv[1], "a")):
    if event in ("subprocess.Popen", "os.posix_spawn", "os.exec"):
        log.write(f"{args[0]}\\n")
        log.flush()
sys.addaudithook(log_programs)
sys.argv[:2] = ["briefing"]
from briefing.__main__ import run
run()
"""


def test_generate_starts_no_other_program(cli, tmp_path):
    """WeasyPrint's own import looks its libraries up with ldconfig and gcc (38 runs, a fifth
    of a second); the renderer loads them by file name instead."""
    cli("events", "import", DEMO_EVENTS)
    programs = tmp_path / "programs.log"
    env = briefing_environment(tmp_path / "output")

    done = subprocess.run(
        [sys.executable, "-c", WITH_PROGRAMS_LOGGED, str(programs), "generate", "--json",
         "--date", "2024-10-26"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert Path(json.loads(done.stdout)["path"]).read_bytes().startswith(b"%PDF-")
    assert programs.read_text() == ""


# A system whose libraries a search finds but their file names do not load: cffi refuses every
# name while the search is answered by briefing's stand-in.
LIBRARIES_FOUND_ONLY_BY_SEARCH = """
import ctypes.util
import cffi
searched = []
stock_search = ctypes.util.find_library
def search(name):
    searched.append(name)
    return stock_search(name)
ctypes.util.find_library = search
load = cffi.FFI.dlopen
def load_only_when_searched(ffi, name, flags=0):
    if ctypes.util.find_library is not search:
        raise OSError(f"cannot load library {name!r}")
    return load(ffi, name, flags)
cffi.FFI.dlopen = load_only_when_searched
from briefing.document.engine import import_weasyprint
import_weasyprint()
import weasyprint
weasyprint.HTML(string="<p>x</p>").write_pdf()
print(f"searched {len(searched)}")
"""


def test_the_renderer_searches_for_libraries_when_their_file_names_do_not_load():
    done = subprocess.run(
        [sys.executable, "-c", LIBRARIES_FOUND_ONLY_BY_SEARCH],
        capture_output=True, text=True, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("searched ") and done.stdout != "searched 0\n"
    assert "could not import" not in done.stdout  # WeasyPrint's message for a failed import
