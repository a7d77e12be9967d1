"""layerlens._util.atomic.staged_folder: whole folders or none, and the leftovers of killed writers cleaned up."""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from layerlens._util.atomic import _host, staged_folder

DAY = 24 * 3600
# A writer in its own process: enters staged_folder(argv[1]), writes argv[2] into it, tells the test its
# staging folder, then waits for a line on stdin ("exit" dies on the spot, anything else finishes the save).
WRITER = """
import os, sys
from pathlib import Path
from layerlens._util.atomic import staged_folder

with staged_folder(Path(sys.argv[1])) as staging:
    (staging / "who.txt").write_text(sys.argv[2])
    print(staging, flush=True)
    if sys.stdin.readline().strip() == "exit":
        os._exit(1)
"""
# A writer killed while it removes the folder it replaced: leaves a retired ``.old`` folder behind.
RETIRING = """
import os, sys
from pathlib import Path
from layerlens._util import atomic as _atomic

_atomic.shutil.rmtree = lambda *args, **kwargs: os._exit(1)
with _atomic.staged_folder(Path(sys.argv[1])) as staging:
    (staging / "who.txt").write_text(sys.argv[2])
"""


def start_writer(target: Path, who: str, script: str = WRITER) -> subprocess.Popen:
    """A process running ``script`` on ``target``: this checkout's layerlens, talked to through pipes."""
    paths = [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    return subprocess.Popen(
        [sys.executable, "-c", script, str(target), who],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def save(target: Path, who: str) -> None:
    with staged_folder(target) as staging:
        (staging / "who.txt").write_text(who)


def siblings(target: Path) -> list[str]:
    return sorted(p.name for p in target.parent.iterdir() if p != target)


def ended_pid() -> int:
    """The id of a process that has ended and been reaped (ids are not reused that soon)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_block_that_succeeds_replaces_the_target_and_leaves_nothing_beside_it(tmp_path):
    target = tmp_path / "run"
    save(target, "first")
    save(target, "second")
    assert (target / "who.txt").read_text() == "second" and siblings(target) == []


def test_a_failing_block_keeps_the_earlier_target_and_removes_its_own_staging(tmp_path):
    target = tmp_path / "run"
    save(target, "first")
    with pytest.raises(RuntimeError, match="write failed"):
        with staged_folder(target) as staging:
            (staging / "who.txt").write_text("second")
            raise RuntimeError("write failed")
    assert (target / "who.txt").read_text() == "first" and siblings(target) == []


def test_the_staging_folder_names_its_target_host_and_process(tmp_path):
    with staged_folder(tmp_path / "run") as staging:
        name, host, pid, random, kind = staging.name[1:].split(".")
    assert (name, host, pid, kind) == ("run", _host(), str(os.getpid()), "partial") and len(random) == 8


def test_a_name_too_long_to_sign_is_staged_unsigned(tmp_path):
    name = "r" * 235  # 255 bytes at most: room for the random part, not for the host and the process id
    with staged_folder(tmp_path / name) as staging:
        (staging / "who.txt").write_text("long")
    assert re.fullmatch(rf"\.{name}\.[a-z0-9_]{{8}}\.partial", staging.name)
    assert (tmp_path / name / "who.txt").read_text() == "long" and siblings(tmp_path / name) == []


@pytest.mark.parametrize("how", ["exits", "sigkill"], ids=["writer-exits-mid-write", "writer-killed-by-sigkill"])
def test_the_staging_of_a_killed_writer_is_removed_by_the_next_save(tmp_path, how):
    target = tmp_path / "run"
    save(target, "earlier")
    writer = start_writer(target, "killed")
    staging = Path(writer.stdout.readline().strip())
    if how == "exits":
        writer.communicate("exit\n", timeout=30)
    else:
        writer.kill()  # SIGKILL: no cleanup of any kind runs
        writer.communicate(timeout=30)
    assert writer.returncode != 0 and (staging / "who.txt").read_text() == "killed"
    assert staging.name.startswith(f".run.{_host()}.{writer.pid}.") and staging.name.endswith(".partial")
    save(target, "next")
    assert not staging.exists() and siblings(target) == []
    assert (target / "who.txt").read_text() == "next"


def test_the_retired_folder_of_a_writer_killed_while_removing_it_is_removed_by_the_next_save(tmp_path):
    target = tmp_path / "run"
    save(target, "earlier")
    writer = start_writer(target, "killed", RETIRING)
    writer.communicate(timeout=30)
    assert writer.returncode == 1 and (target / "who.txt").read_text() == "killed"
    (retired,) = siblings(target)
    assert retired.startswith(f".run.{_host()}.{writer.pid}.") and retired.endswith(".old")
    save(target, "next")
    assert siblings(target) == [] and (target / "who.txt").read_text() == "next"


def test_a_live_writers_staging_is_kept_by_a_concurrent_save_and_both_complete(tmp_path):
    target = tmp_path / "run"
    writer = start_writer(target, "other process")
    staging = Path(writer.stdout.readline().strip())
    save(target, "this process")
    assert (staging / "who.txt").read_text() == "other process"
    assert (target / "who.txt").read_text() == "this process"
    writer.communicate("finish\n", timeout=30)
    assert writer.returncode == 0
    assert (target / "who.txt").read_text() == "other process"  # the last rename wins
    assert siblings(target) == []


def test_two_processes_saving_the_same_target_at_once_both_succeed(tmp_path):
    target = tmp_path / "run"
    writers = [start_writer(target, who) for who in ("first", "second")]
    stagings = [Path(w.stdout.readline().strip()) for w in writers]  # both are inside staged_folder now
    assert all(s.is_dir() for s in stagings) and stagings[0] != stagings[1]
    for writer in writers:
        writer.stdin.write("finish\n")
        writer.stdin.flush()
    for writer in writers:
        writer.communicate(timeout=30)
    assert [w.returncode for w in writers] == [0, 0]
    assert (target / "who.txt").read_text() in ("first", "second")
    assert siblings(target) == []


def racing_retire(monkeypatch, times: int) -> None:
    """Make another save put its folder at the target right after each of the next ``times`` moves aside."""
    from layerlens._util import atomic as _atomic

    retire, raced = _atomic._retire, []

    def retire_then_lose_the_race(target):
        retired = retire(target)
        if len(raced) < times:
            raced.append(target)
            save_without_staging(target, f"other {len(raced)}")
        return retired

    monkeypatch.setattr(_atomic, "_retire", retire_then_lose_the_race)


def save_without_staging(target: Path, who: str) -> None:
    target.mkdir()
    (target / "who.txt").write_text(who)


@pytest.mark.parametrize("earlier", [True, False], ids=["over-an-earlier-target", "where-there-was-none"])
def test_a_save_raced_by_another_save_still_succeeds_and_is_the_last(tmp_path, monkeypatch, earlier):
    target = tmp_path / "run"
    if earlier:
        save(target, "earlier")
    racing_retire(monkeypatch, times=3)
    save(target, "this one")
    assert (target / "who.txt").read_text() == "this one" and siblings(target) == []


def test_a_save_that_loses_every_race_fails_and_leaves_the_winner_in_place(tmp_path, monkeypatch):
    from layerlens._util import atomic as _atomic

    target = tmp_path / "run"
    racing_retire(monkeypatch, times=_atomic._SWAP_ATTEMPTS)
    with pytest.raises(OSError, match=re.escape(os.strerror(errno.ENOTEMPTY))):
        save(target, "this one")
    assert (target / "who.txt").read_text() == f"other {_atomic._SWAP_ATTEMPTS}" and siblings(target) == []


def make_folder(parent: Path, name: str, *, age: float = 0.0) -> Path:
    folder = parent / name
    folder.mkdir()
    (folder / "who.txt").write_text("leftover")
    if age:
        then = time.time() - age
        os.utime(folder, (then, then))
    return folder


@pytest.mark.parametrize(
    "name, age, removed",
    [
        (".run.abcd1234.partial", DAY + 60, True),
        (".run.abcd1234.old", DAY + 60, True),
        (".run.abcd1234.partial", DAY - 60, False),
        (".run.abcd1234.old", 60, False),
        (".run2.abcd1234.partial", DAY + 60, False),
        (".run.abcd123.partial", DAY + 60, False),
    ],
    ids=[
        "unsigned-staging-older-than-a-day",
        "unsigned-retired-older-than-a-day",
        "unsigned-staging-younger-than-a-day",
        "unsigned-retired-fresh",
        "unsigned-staging-of-another-target",
        "random-part-of-the-wrong-length",
    ],
)
def test_folders_of_earlier_versions_are_removed_only_when_untouched_for_a_day(tmp_path, name, age, removed):
    target = tmp_path / "run"
    leftover = make_folder(tmp_path, name, age=age)
    save(target, "next")
    assert leftover.exists() is not removed
    assert (target / "who.txt").read_text() == "next"


@pytest.mark.parametrize(
    "name, removed",
    [
        (".run.{host}.{dead}.abcd1234.partial", True),
        (".run.{host}.{dead}.abcd1234.old", True),
        (".run.{host}.{alive}.abcd1234.partial", False),
        (".run.{host}.{alive}.abcd1234.old", False),
        (".run.other-host.{dead}.abcd1234.partial", False),
        (".run2.{host}.{dead}.abcd1234.partial", False),
        (".ru.{host}.{dead}.abcd1234.partial", False),
        (".run.x.{host}.{dead}.abcd1234.partial", False),
        (".run.{host}.{dead}.abcd1234.partial.bak", False),
        (".run.{host}.{dead}.abcd1234.tmp", False),
        (".run.{host}.pid.abcd1234.partial", False),
        (".mydata.partial", False),
        (".run.partial", False),
        ("run.{host}.{dead}.abcd1234.partial", False),
    ],
    ids=[
        "staging-of-a-dead-writer",
        "retired-of-a-dead-writer",
        "staging-of-a-live-writer",
        "retired-of-a-live-writer",
        "staging-from-another-host",
        "staging-of-a-longer-target-name",
        "staging-of-a-shorter-target-name",
        "staging-of-target-run-x",
        "another-suffix-after-ours",
        "another-kind",
        "unparsable-pid",
        "users-own-hidden-folder",
        "no-random-part",
        "not-hidden",
    ],
)
def test_only_the_leftovers_of_gone_writers_of_the_same_target_are_removed(tmp_path, name, removed):
    target = tmp_path / "run"
    # Old, so that an unsigned reading of the name would not keep it for being fresh.
    leftover = make_folder(tmp_path, name.format(host=_host(), dead=ended_pid(), alive=os.getpid()), age=2 * DAY)
    save(target, "next")
    assert leftover.exists() is not removed
    assert (target / "who.txt").read_text() == "next"


def test_an_unsigned_name_that_reads_as_a_live_writers_staging_is_kept(tmp_path):
    """``.run.h.12.<random>.partial``: an old staging of target ``run.h.12`` or a new one of ``run`` by h, pid 12."""
    leftover = make_folder(tmp_path, f".run.{_host()}.{os.getpid()}.abcd1234.partial", age=2 * DAY)
    save(tmp_path / f"run.{_host()}.{os.getpid()}", "next")
    assert leftover.exists()


@pytest.mark.parametrize(
    "name",
    [".run.{host}.{dead}.abcd1234.partial", ".run.abcd1234.old"],
    ids=["signed-name", "unsigned-name"],
)
def test_files_and_links_named_like_leftovers_are_kept(tmp_path, name):
    name = name.format(host=_host(), dead=ended_pid())
    elsewhere = make_folder(tmp_path, "elsewhere")
    (tmp_path / name).symlink_to(elsewhere, target_is_directory=True)
    (tmp_path / f"{name}-file").write_text("a file")
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / name).write_text("a file")
    old = time.time() - 2 * DAY
    for path in (tmp_path / name, tmp_path / f"{name}-file", runs / name):
        os.utime(path, (old, old), follow_symlinks=False)
    save(tmp_path / "run", "next")
    save(runs / "run", "next")
    assert (tmp_path / name).is_symlink() and (elsewhere / "who.txt").exists()
    assert (runs / name).read_text() == "a file"


def test_other_hidden_folders_and_files_beside_the_target_are_untouched(tmp_path):
    target = tmp_path / "runs"
    kept = [make_folder(tmp_path, n, age=2 * DAY) for n in (".mydata.partial", ".git", ".runs", ".runs.old")]
    (tmp_path / ".runs.partial").write_text("notes")
    save(target, "next")
    assert all(folder.exists() for folder in kept) and (tmp_path / ".runs.partial").read_text() == "notes"


def test_a_leftover_another_cleaner_removes_first_does_not_fail_the_save(tmp_path, monkeypatch):
    from layerlens._util import atomic as _atomic

    leftover = make_folder(tmp_path, f".run.{_host()}.{ended_pid()}.abcd1234.partial")
    writer_gone = _atomic._writer_gone

    def raced(signed, host):
        gone = writer_gone(signed, host)
        shutil.rmtree(leftover)  # another save of the same target cleans up at the same moment
        return gone

    monkeypatch.setattr(_atomic, "_writer_gone", raced)
    save(tmp_path / "run", "next")
    assert siblings(tmp_path / "run") == [] and (tmp_path / "run" / "who.txt").read_text() == "next"


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="needs POSIX permissions that bind the user")
def test_a_leftover_that_cannot_be_removed_does_not_fail_the_save(tmp_path):
    leftover = make_folder(tmp_path, f".run.{_host()}.{ended_pid()}.abcd1234.partial")
    locked = make_folder(leftover, "locked")
    locked.chmod(0o500)  # its file cannot be deleted
    try:
        save(tmp_path / "run", "next")
        assert (locked / "who.txt").exists() and (tmp_path / "run" / "who.txt").read_text() == "next"
    finally:
        locked.chmod(0o700)


def test_a_folder_that_cannot_be_listed_does_not_fail_the_save(tmp_path, monkeypatch):
    from layerlens._util import atomic as _atomic

    def scandir(path):
        raise PermissionError(f"cannot list {path}")

    monkeypatch.setattr(_atomic.os, "scandir", scandir)
    save(tmp_path / "run", "next")
    assert (tmp_path / "run" / "who.txt").read_text() == "next"


@pytest.mark.parametrize(
    "failure, alive",
    [(ProcessLookupError, False), (PermissionError, True), (OverflowError, True)],
    ids=["no-such-process", "another-users-process", "pid-out-of-range"],
)
def test_a_process_is_taken_for_gone_only_when_the_system_says_there_is_none(monkeypatch, failure, alive):
    from layerlens._util import atomic as _atomic

    def kill(pid, sig):
        raise failure("from os.kill")

    monkeypatch.setattr(_atomic.os, "kill", kill)
    assert _atomic._alive(4242) is alive
