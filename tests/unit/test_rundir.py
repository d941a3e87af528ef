"""Run directories are private and cannot be turned against their user.

Real directories, real files, real symlinks; "another user" is a real uid
(nobody) given the folder with chown, which needs root: skipped otherwise.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from conftest import SCRIPTS, tfmon_env
from tfmon.bus import EventBus
from tfmon.probes.capture import OutputSink
from tfmon.probes.checkpoint import _atomic
from tfmon.recorder import Recorder
from tfmon.rundir import UnsafeRunDir, make_private_dir, new_run_dir, open_private

NOBODY = 65534


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_new_run_dirs_files_and_checkpoints_are_owner_only(tmp_path):
    run_dir = new_run_dir(SCRIPTS / "tiny_fit.py", base=tmp_path / "runs")
    explicit = new_run_dir(SCRIPTS / "tiny_fit.py", explicit=tmp_path / "a" / "b")
    assert mode(run_dir) == 0o700 and mode(explicit) == 0o700
    rec = Recorder(EventBus(), run_dir)
    sink = OutputSink(EventBus().emit, run_dir / "output.log")
    rec.stop()
    sink.close()
    assert mode(run_dir / "events.jsonl") == 0o600 and mode(run_dir / "output.log") == 0o600
    folder = run_dir / "checkpoints"
    make_private_dir(folder)
    _atomic(folder / "m.keras", lambda p: p.write_bytes(b"model"))
    assert mode(folder) == 0o700 and mode(folder / "m.keras") == 0o600


def test_an_existing_run_dir_must_be_ours_and_writable_by_no_one_else(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pytest.raises(UnsafeRunDir, match="others can write to it"):
        new_run_dir(SCRIPTS / "tiny_fit.py", explicit=shared)
    os.chmod(shared, 0o755)
    assert new_run_dir(SCRIPTS / "tiny_fit.py", explicit=shared) == shared.resolve()  # ours, not writable by others
    if os.geteuid() != 0:
        pytest.skip("giving a folder to another user needs root")
    os.chown(shared, NOBODY, NOBODY)
    with pytest.raises(UnsafeRunDir, match=f"belongs to uid {NOBODY}"):
        new_run_dir(SCRIPTS / "tiny_fit.py", explicit=shared)


def _planted(tmp_path):
    """A run dir where output.log is a link to a file that must not be written."""
    victim = tmp_path / "victim"
    victim.write_text("root only\n")
    run_dir = tmp_path / "planted"
    run_dir.mkdir(mode=0o700)
    (run_dir / "output.log").symlink_to(victim)
    return run_dir, victim


def test_files_are_never_opened_through_a_symlink(tmp_path):
    run_dir, victim = _planted(tmp_path)
    (run_dir / "events.jsonl").symlink_to(tmp_path / "created-elsewhere")
    with pytest.raises(OSError):
        OutputSink(EventBus().emit, run_dir / "output.log")
    with pytest.raises(OSError):
        Recorder(EventBus(), run_dir)
    assert victim.read_text() == "root only\n"
    assert not (tmp_path / "created-elsewhere").exists()


def test_a_new_file_is_created_exclusively_and_an_existing_one_must_be_a_regular_file(tmp_path):
    fd = open_private(tmp_path / "new.log")
    os.close(fd)
    os.close(open_private(tmp_path / "new.log"))  # a run written twice appends
    os.mkfifo(tmp_path / "fifo.log")
    with pytest.raises(OSError):
        open_private(tmp_path / "fifo.log")  # refused (ENXIO or not a regular file), never blocked on
    (tmp_path / "dir.log").mkdir()
    with pytest.raises(OSError):
        open_private(tmp_path / "dir.log")


@pytest.mark.slow
def test_tfmon_refuses_a_planted_run_dir_in_one_line_and_leaves_the_target_alone(tmp_path):
    planted, victim = _planted(tmp_path)
    cmd = [sys.executable, "-m", "tfmon", "--headless", "--run-dir", str(planted), str(SCRIPTS / "tiny_fit.py")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=tfmon_env())
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("tfmon: ") and "Traceback" not in done.stderr
    assert victim.read_text() == "root only\n"
