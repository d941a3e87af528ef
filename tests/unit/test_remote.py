"""The control channel, liveness of run directories, tfmon ls / ctl / attach.

Most tests drive the real channel over a real Unix socket, with the real
control gate served by a small training loop without TensorFlow (a counter
stands in for the batches: constructed input). Run directories for ls and
liveness are written event by event here (constructed), except where a test
says it uses a real run: ``tfmon --headless`` training a real model (ctl, then
kill -9) and an in-process LiveRun that ends with the script's exit code.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import tfmon_env, until
from tfmon import events, liveness, remote
from tfmon.bus import EventBus
from tfmon.run import channel as channel_mod
from tfmon.run.channel import ControlChannel
from tfmon.run.client import ChannelError, call
from tfmon.probes.control import Control
from tfmon.recorder import Recorder
from tfmon.ui.sources import AttachSource


# -- a training loop without TensorFlow, served by the real control gate


class CounterTrainer:
    """Batches are a counter; checkpoints are small files. Constructed, not Keras."""

    def __init__(self, control: Control, emit, folder: Path, steps_per_epoch: int = 50) -> None:
        self.control, self.emit, self.folder = control, emit, folder
        self.epoch, self.step, self.global_step = 1, 0, 0
        self.steps_per_epoch = steps_per_epoch
        self.stopped = False
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def position(self):
        return self.epoch, self.step

    def checkpoint(self) -> None:
        self.folder.mkdir(exist_ok=True)
        path = self.folder / f"epoch{self.epoch:03d}-step{self.step:05d}.keras"
        path.write_bytes(b"weights")
        self.emit(events.CHECKPOINT, ok=True, epoch=self.epoch, step=self.step, path=str(path), size=7)

    def request_stop(self) -> None:
        self.stopped = True

    def _loop(self) -> None:
        self.emit(events.FIT_START, fit=1, epochs=100, steps=self.steps_per_epoch)
        while not self.stopped:
            time.sleep(0.005)
            self.step += 1
            self.global_step += 1
            self.emit(events.BATCH, epoch=self.epoch, step=self.step, global_step=self.global_step, logs={})
            if self.step == self.steps_per_epoch:
                self.emit(events.EPOCH_END, epoch=self.epoch, steps=self.step, global_step=self.global_step, metrics={})
                self.epoch, self.step = self.epoch + 1, 0
            if self.control.pending:
                self.control.serve(self)
        self.emit(events.FIT_END, fit=1, epochs_done=self.epoch, reason="stopped by user")


@pytest.fixture
def served(tmp_path):
    bus = EventBus()
    log = bus.subscribe()
    control = Control(bus.emit)
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o700)
    recorder = Recorder(bus, run_dir)
    recorder.start()
    chan = ControlChannel(run_dir, control, bus)
    chan.start()
    bus.emit(events.RUN_START, script="train.py", pid=os.getpid(), run_dir=str(run_dir))
    bus.emit(events.STATUS, state="running", detail="running the script")
    trainer = CounterTrainer(control, bus.emit, run_dir / "checkpoints")
    trainer.thread.start()
    yield run_dir, chan, trainer, log
    trainer.stopped = True
    if control.paused:
        control.ask("resume")
    trainer.thread.join(5)
    chan.stop()
    recorder.stop()


def test_socket_is_a_socket_for_the_owner_only(served):
    run_dir, chan, _, _ = served
    mode = os.stat(run_dir / "control.sock").st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o600


def test_pause_checkpoint_resume_stop_take_effect_and_say_so(served):
    run_dir, chan, trainer, log = served
    reply = call(run_dir, "pause", wait=5)
    assert reply["ok"] and reply["done"], reply
    epoch, step = reply["event"]["epoch"], reply["event"]["step"]
    assert reply["message"] == f"paused at epoch {epoch}, step {step}"
    time.sleep(0.3)
    assert trainer.position() == (epoch, step)  # nothing moves while paused

    reply = call(run_dir, "status")
    assert reply["status"]["state"] == "paused" and reply["status"]["paused"] is True
    assert reply["status"]["script"] == "train.py" and reply["status"]["pid"] == os.getpid()

    reply = call(run_dir, "checkpoint", wait=5)  # served at once while paused
    path = Path(reply["event"]["path"])
    assert reply["done"] and path.exists() and path.name == f"epoch{epoch:03d}-step{step:05d}.keras"
    assert reply["message"].startswith(f"checkpoint saved: {path}")

    reply = call(run_dir, "resume", wait=5)
    assert reply["done"] and reply["message"].startswith("resumed after")
    assert until(lambda: trainer.position() != (epoch, step))

    reply = call(run_dir, "stop", wait=5)
    assert reply["done"] and trainer.stopped
    assert reply["message"].startswith("fit stopped after")
    controls = [e for e in log.drain() if e["type"] == events.CONTROL]
    assert [c["action"] for c in controls] == ["pause", "checkpoint", "resume", "stop"]
    assert {c["source"] for c in controls} == {"ctl"}


def test_a_request_without_a_batch_boundary_is_queued_not_lost(tmp_path):
    bus = EventBus()
    control = Control(bus.emit)
    chan = ControlChannel(tmp_path, control, bus)
    chan.start()
    try:
        reply = call(tmp_path, "checkpoint", wait=0.3)  # no training loop serves it
        assert reply["ok"] and reply["done"] is False
        assert "next batch boundary" in reply["message"]
        assert "(no fit or tfmon.step() loop is running: it waits for the next batch of one" in reply["message"]
        assert control.pending
        bus.emit(events.FIT_START, fit=1, epochs=2, steps=10)
        bus.emit(events.FIT_END, fit=1, epochs_done=2, reason="completed")
        reply = call(tmp_path, "pause", wait=0.3)
        assert reply["ok"] and reply["done"] is False
        assert "(fit has ended (completed): it waits for the next batch" in reply["message"]
    finally:
        chan.stop()


def test_bad_requests_get_an_error_and_the_channel_goes_on(served):
    run_dir, *_ = served
    assert call(run_dir, "explode")["ok"] is False
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(run_dir / "control.sock"))
        s.sendall(b"not json\n")
        reply = json.loads(s.recv(4096))
    assert reply["ok"] is False and "bad request" in reply["error"]
    assert call(run_dir, "status")["ok"] is True


def test_a_peer_with_another_uid_is_refused(tmp_path):
    bus = EventBus()
    log = bus.subscribe()
    control = Control(bus.emit)
    # The peer credential is faked: this test runs as one user only.
    chan = ControlChannel(tmp_path, control, bus, peer_uid=lambda conn: os.getuid() + 1)
    chan.start()
    try:
        reply = call(tmp_path, "stop")
        assert reply["ok"] is False and reply["error"].startswith("refused")
        assert not control.pending and not control.stop_requested
        notices = [e for e in log.drain() if e["type"] == events.NOTICE]
        assert "refused a connection from uid" in notices[-1]["text"]
    finally:
        chan.stop()


def test_the_real_peer_uid_is_ours():
    a, b = socket.socketpair(socket.AF_UNIX)
    with a, b:
        assert channel_mod.peer_uid(a) == os.getuid()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to act as another user")
def test_another_real_user_is_refused_by_the_socket_and_by_the_uid_check():
    # A folder 'nobody' can traverse; the run dir inside it as tfmon makes it.
    top = Path(tempfile.mkdtemp(prefix="tfmon-uid-"))
    try:
        os.chmod(top, 0o755)
        run_dir = top / "run"
        run_dir.mkdir(mode=0o700)
        bus = EventBus()
        control = Control(bus.emit)
        chan = ControlChannel(run_dir, control, bus)
        chan.start()
        def as_nobody() -> str:
            """Connect from a forked child that has dropped to uid 'nobody' (os.setuid)."""
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: socket calls only, then _exit
                try:
                    os.setgroups([])
                    os.setgid(65534)
                    os.setuid(65534)
                    s = socket.socket(socket.AF_UNIX)
                    try:
                        s.connect(str(chan.path))
                        s.sendall(b'{"action": "stop"}\n')
                        out = s.recv(4096)
                    except PermissionError:
                        out = b"EACCES"
                    os.write(write_end, out)
                finally:
                    os._exit(0)
            os.close(write_end)
            data = b""
            while chunk := os.read(read_end, 4096):
                data += chunk
            os.close(read_end)
            os.waitpid(pid, 0)
            return data.decode().strip()

        try:
            # As tfmon leaves it: the 0700 run dir and the 0600 socket keep nobody out.
            assert as_nobody() == "EACCES"
            # With the file permissions opened, the peer uid check still refuses.
            os.chmod(run_dir, 0o755)
            os.chmod(chan.path, 0o666)
            reply = json.loads(as_nobody())
            assert reply["ok"] is False and reply["error"].startswith("refused")
            assert not control.pending and chan.refused == 1
        finally:
            chan.stop()
    finally:
        import shutil

        shutil.rmtree(top, ignore_errors=True)


def test_a_path_too_long_for_a_unix_socket_goes_through_a_link(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    bus = EventBus()
    chan = ControlChannel(deep, Control(bus.emit), bus)
    chan.start()
    try:
        assert len(str(chan.path)) > channel_mod.MAX_SOCKET_PATH
        assert chan.path.is_symlink()
        real = Path(os.path.realpath(chan.path))
        assert stat.S_IMODE(real.stat().st_mode) == 0o600
        assert call(deep, "status")["ok"] is True
    finally:
        chan.stop()
    assert not chan.path.exists() and not chan.path.is_symlink() and not real.exists()


def test_stop_removes_the_socket_and_a_client_says_so(tmp_path):
    bus = EventBus()
    chan = ControlChannel(tmp_path, Control(bus.emit), bus)
    chan.start()
    chan.stop()
    assert not (tmp_path / "control.sock").exists()
    with pytest.raises(ChannelError, match="no control channel"):
        call(tmp_path, "status")


# -- liveness, from constructed run directories


def _write_run(folder: Path, evs: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "events.jsonl", "w") as f:
        for e in evs:
            f.write(events.dumps(e) + "\n")
    return folder


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _constructed_runs(base: Path, now: float) -> dict[str, Path]:
    me = os.getpid()
    return {
        "live": _write_run(base / "20990101T000300Z-live", [
            {"type": "run_start", "t": now - 60, "script": "/p/train.py", "pid": me},
            {"type": "heartbeat", "t": now - 1, "pid": me},
        ]),
        "ended": _write_run(base / "20990101T000200Z-ended", [
            {"type": "run_start", "t": now - 120, "script": "/p/eval.py", "pid": me},
            {"type": "run_end", "t": now - 100, "exit_code": 1, "state": "failed", "error_type": "ValueError"},
        ]),
        "died": _write_run(base / "20990101T000100Z-died", [
            {"type": "run_start", "t": now - 300, "script": "/p/big.py", "pid": _dead_pid()},
            {"type": "checkpoint", "t": now - 250, "ok": True, "path": "/p/ckpt/epoch001-step00010.keras"},
            {"type": "checkpoint", "t": now - 240, "ok": False, "error": "disk full"},
            {"type": "heartbeat", "t": now - 200},
        ]),
        "stalled": _write_run(base / "20990101T000000Z-stalled", [
            {"type": "run_start", "t": now - 400, "script": "/p/stuck.py", "pid": me},
            {"type": "heartbeat", "t": now - 60, "pid": me},
        ]),
    }


def test_liveness_live_ended_died(tmp_path):
    now = time.time()
    runs = _constructed_runs(tmp_path, now)
    assert liveness.read_status(runs["live"], now).state == "live"
    ended = liveness.read_status(runs["ended"], now)
    assert ended.state == "ended" and ended.describe() == "ended: failed (exit 1, ValueError)"
    died = liveness.read_status(runs["died"], now)
    assert died.state == "died" and died.pid_alive is False
    assert "is gone without an end event (last event 200s ago)" in died.describe(now)
    assert liveness.last_checkpoint(runs["died"]) == "/p/ckpt/epoch001-step00010.keras"
    # The pid exists (it is ours) but nothing was written for a minute: not live.
    stalled = liveness.read_status(runs["stalled"], now)
    assert stalled.state == "died" and "exists but wrote nothing since 60s ago" in stalled.describe(now)


def test_liveness_reads_only_head_and_tail_of_a_long_file(tmp_path):
    now = time.time()
    filler = [{"type": "batch", "t": now - 50 + i * 1e-4, "epoch": 1, "step": i, "logs": {"loss": 0.5}} for i in range(5000)]
    run = _write_run(tmp_path / "r", [
        {"type": "run_start", "t": now - 60, "script": "/p/t.py", "pid": os.getpid()},
        *filler,
        {"type": "heartbeat", "t": now - 0.5},
    ])
    assert (run / "events.jsonl").stat().st_size > 2 * liveness.TAIL_BYTES
    status = liveness.read_status(run, now)
    assert status.state == "live" and status.script == "/p/t.py" and status.last_seen == pytest.approx(now - 0.5)


def test_ls_lists_runs_newest_first_with_state_script_start_and_pid(tmp_path, capsys):
    now = time.time()
    runs = _constructed_runs(tmp_path, now)
    assert remote.ls_main(["--base", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["RUN", "STATE", "SCRIPT", "STARTED", "PID"]
    assert [line.split()[0] for line in lines[1:]] == [runs[k].name for k in ("live", "ended", "died", "stalled")]
    assert lines[1].split()[1] == "live" and "train.py" in lines[1] and str(os.getpid()) in lines[1]
    assert "ended: failed (exit 1, ValueError)" in lines[2]
    assert "died: process" in lines[3]
    started = time.strftime("%Y-%m-%d %H:%M", time.localtime(now - 60))
    assert started in lines[1]


def test_ls_with_no_runs(tmp_path, capsys):
    assert remote.ls_main(["--base", str(tmp_path / "none")]) == 0
    assert "no runs under" in capsys.readouterr().out


def test_attach_without_a_live_run_says_so_and_names_the_newest(tmp_path, capsys):
    now = time.time()
    runs = _constructed_runs(tmp_path, now)
    (runs["live"] / "events.jsonl").unlink()
    assert remote.attach_main(["--base", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tfmon: no live run under") and runs["ended"].name in err
    assert remote.attach_main(["--base", str(tmp_path), "nowhere"]) == 2


def test_attach_picks_the_newest_live_run(tmp_path):
    now = time.time()
    runs = _constructed_runs(tmp_path, now)
    assert remote.newest_live(tmp_path).run_dir == runs["live"]


def test_ctl_errors_are_one_line_and_nonzero(tmp_path, capsys):
    now = time.time()
    runs = _constructed_runs(tmp_path, now)
    assert remote.ctl_main([str(runs["ended"]), "pause"]) == 1
    assert capsys.readouterr().err.strip().endswith("the run has ended: failed (exit 1, ValueError); nothing to control")
    assert remote.ctl_main([str(runs["died"]), "checkpoint"]) == 1
    err = capsys.readouterr().err.strip()
    assert "died: process" in err and err.endswith("last checkpoint: /p/ckpt/epoch001-step00010.keras")
    assert len(err.splitlines()) == 1
    assert remote.ctl_main([str(tmp_path / "nothing"), "stop"]) == 2
    # A run's name under --base works as well as its path.
    assert remote.ctl_main(["--base", str(tmp_path), runs["died"].name, "status"]) == 1


def test_ctl_status_of_an_ended_run_is_its_final_state_and_exit_0(tmp_path, capsys):
    runs = _constructed_runs(tmp_path, time.time())
    assert remote.ctl_main(["--base", str(tmp_path), runs["ended"].name, "status"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ended: failed (exit 1, ValueError) · pid ")
    assert remote.ctl_main([str(runs["ended"]), "status", "--json"]) == 0
    reply = json.loads(capsys.readouterr().out)
    assert reply["ok"] and reply["status"]["state"] == "failed" and reply["status"]["exit_code"] == 1


def test_ctl_prints_the_reply(served, capsys):
    run_dir, *_ = served
    assert remote.ctl_main([str(run_dir), "pause"]) == 0
    assert capsys.readouterr().out.startswith("paused at epoch 1, step")
    assert remote.ctl_main([str(run_dir), "status"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("paused · epoch 1/100 · step") and "script: train.py" in out
    assert remote.ctl_main([str(run_dir), "resume", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["action"] == "resume"


# -- the attach source


def test_attach_source_on_an_ended_run_replays_it_and_says_how_it_ended(tmp_path):
    run = _constructed_runs(tmp_path, time.time())["ended"]
    source = AttachSource(run)
    assert (source.live, source.can_control, source.attached) == (False, False, False)
    batch = source.drain()
    assert [e["type"] for e in batch[:2]] == ["run_start", "run_end"]
    notices = [e for e in batch if e["type"] == "notice"]
    assert "ended: failed (exit 1, ValueError)" in notices[0]["text"] and notices[0]["synthetic"]
    assert source.drain() == []


def test_attach_source_on_a_dead_run_says_so_and_points_to_the_checkpoint(tmp_path):
    run = _constructed_runs(tmp_path, time.time())["died"]
    source = AttachSource(run)
    batch = source.drain()
    assert not source.can_control
    status = [e for e in batch if e["type"] == "status"]
    assert status[-1]["state"] == "failed" and status[-1]["synthetic"]
    text = [e for e in batch if e["type"] == "notice"][0]["text"]
    assert "died: process" in text and "last checkpoint: /p/ckpt/epoch001-step00010.keras" in text


def test_attach_source_follows_new_events_and_sends_keys_through_the_channel(tmp_path):
    now = time.time()
    run = _constructed_runs(tmp_path, now)["live"]
    sent = []

    def fake_request(run_dir, action, wait, timeout):
        sent.append((run_dir, action, wait))
        return {"ok": False, "error": "refused: test"}

    source = AttachSource(run, call=fake_request)
    assert (source.live, source.can_control, source.attached) == (True, True, True)
    assert [e["type"] for e in source.drain()] == ["run_start", "heartbeat"]
    with open(run / "events.jsonl", "a") as f:
        f.write(events.dumps({"type": "epoch_end", "t": time.time(), "epoch": 1, "metrics": {}}) + "\n")
        f.write('{"type": "epoch_e')  # a line the recorder is still writing
    assert [e["type"] for e in source.drain()] == ["epoch_end"]
    source.send("toggle_pause")
    deadline = time.monotonic() + 5
    notes: list[dict] = []
    while not notes and time.monotonic() < deadline:
        time.sleep(0.02)
        notes = [e for e in source.drain() if e["type"] == "notice"]
    assert sent == [(run, "toggle_pause", 0.0)]
    assert notes[0]["text"] == "toggle_pause: refused: test"


def test_attach_source_notices_when_the_process_dies_while_attached(tmp_path):
    now = time.time()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    run = _write_run(tmp_path / "r", [
        {"type": "run_start", "t": now, "script": "/p/t.py", "pid": child.pid},
        {"type": "heartbeat", "t": now},
    ])
    source = AttachSource(run)
    source.CHECK_EVERY = 0.0
    assert source.live
    source.drain()
    child.send_signal(signal.SIGKILL)
    child.wait()
    batch = source.drain()
    assert not source.live and not source.can_control
    assert any(e["type"] == "notice" and "died" in e["text"] for e in batch)


def test_attached_app_shows_an_ended_run_as_ended(tmp_path):
    from tfmon.ui.app import TfmonApp
    from tfmon.ui.header import Header

    run = _constructed_runs(tmp_path, time.time())["ended"]

    async def scenario() -> str:
        app = TfmonApp(AttachSource(run))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.3)
            await pilot.press("p")  # cannot control an ended run: nothing sent, no crash
            await pilot.pause(0.1)
            return str(app.query_one(Header).render())

    header = asyncio.run(scenario())
    assert "failed (exit 1)" in header and "attached" not in header


# -- real runs


@pytest.mark.slow
def test_ctl_against_a_real_headless_run_then_kill_9(tmp_path, scripts):
    """A real ``tfmon --headless`` training a real model: ctl, then the process is killed."""
    run_dir = tmp_path / "run"
    hold = tmp_path / "release"
    cmd = [sys.executable, "-m", "tfmon", "--headless", "--run-dir", str(run_dir),
           str(scripts / "remote_fit.py"), "200", "20", "0", str(hold)]
    proc = subprocess.Popen(cmd, env=tfmon_env(), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)

    def ctl(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "tfmon", "ctl", str(run_dir), *args],
                              env=tfmon_env(), capture_output=True, text=True, timeout=60)

    def evs() -> list[dict]:
        return liveness_events(run_dir)

    def last(kind: str) -> dict:
        # ctl replies as soon as the run emits the event; the recorder writes it within 0.25 s.
        deadline = time.monotonic() + 5
        while not (found := [e for e in evs() if e["type"] == kind]):
            assert time.monotonic() < deadline, f"no {kind} event"
            time.sleep(0.05)
        return found[-1]

    try:
        deadline = time.monotonic() + 90
        while not any(e["type"] == "epoch_end" for e in evs()):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.2)
        assert stat.S_IMODE(os.stat(run_dir / "control.sock").st_mode) == 0o600
        assert liveness.read_status(run_dir).state == "live"

        paused = ctl("pause")
        assert paused.returncode == 0 and paused.stdout.startswith("paused at epoch"), paused
        time.sleep(2.5)
        batches = [e for e in evs() if e["type"] == "batch"]
        pause_event = last("paused")
        assert max(b["global_step"] for b in batches) <= (pause_event["epoch"] - 1) * 25 + pause_event["step"]
        # Paused is alive: the heartbeat goes on, no batch moves.
        assert [e for e in evs() if e["type"] == "heartbeat" and e["t"] > pause_event["t"]]
        assert liveness.read_status(run_dir).state == "live"

        saved = ctl("checkpoint")
        assert saved.returncode == 0 and saved.stdout.startswith("checkpoint saved:"), saved
        path = saved.stdout.split("checkpoint saved: ", 1)[1].rsplit(" (", 1)[0]
        assert os.path.exists(path) and f"step{pause_event['step']:05d}" in path

        assert ctl("resume").returncode == 0
        stopped = ctl("stop")
        assert stopped.returncode == 0 and "fit stopped after" in stopped.stdout, stopped
        fit_end = last("fit_end")
        assert fit_end["reason"] == "stopped by user" and fit_end["epochs_done"] < 200
        status = ctl("status")
        run_pid = evs()[0]["pid"]  # the run's process: the child of tfmon's supervising parent
        assert status.returncode == 0 and "pid " + str(run_pid) in status.stdout

        # The script waits after fit; kill -9 of both processes (as the OOM killer or a
        # job scheduler's cgroup kill may do) leaves no run_end.
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while liveness.pid_alive(run_pid):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        dead = liveness.read_status(run_dir)
        assert dead.state == "died" and not any(e["type"] == "run_end" for e in evs())
        after = ctl("pause")
        assert after.returncode == 1
        assert "died: process" in after.stderr and f"last checkpoint: {path}" in after.stderr
        batch = AttachSource(run_dir).drain()
        assert any(e["type"] == "notice" and path in e["text"] for e in batch)
        # Checkpoint events are in the history the view replays.
        assert any(e["type"] == "checkpoint" and e.get("path") == path for e in batch)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def liveness_events(run_dir: Path) -> list[dict]:
    out = []
    try:
        with open(run_dir / "events.jsonl") as f:
            for line in f:
                e = events.loads(line)
                if e is not None:
                    out.append(e)
    except FileNotFoundError:
        pass
    return out


@pytest.mark.slow
def test_an_in_process_run_opens_the_channel_and_removes_it_at_the_end(tmp_path, scripts):
    """A real LiveRun in this process (TensorFlow imported here) of a script that exits 3."""
    from tfmon.run.session import LiveRun, Options

    run_dir = tmp_path / "run"
    live = LiveRun(scripts / "exits_3.py", [], Options(run_dir=run_dir, capture_fds=False, sample_interval=0, placement=False))
    live.prepare()
    try:
        sock = run_dir / "control.sock"
        assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
        reply = call(run_dir, "status")
        assert reply["status"]["state"] == "starting" and reply["status"]["script"].endswith("exits_3.py")
        assert live.run_job() == 3
        assert call(run_dir, "pause")["error"] == "the run has ended"
    finally:
        live.finish()
    assert not sock.exists()
    status = liveness.read_status(run_dir)
    assert status.state == "ended" and status.describe() == "ended: failed (exit 3)"


def test_attach_source_sends_keys_in_the_order_they_were_pressed(tmp_path):
    run = _constructed_runs(tmp_path, time.time())["live"]
    sent: list[str] = []

    def slow_request(run_dir, action, wait, timeout):
        time.sleep(0.05 if action == "checkpoint" else 0)
        sent.append(action)
        return {"ok": True}

    source = AttachSource(run, call=slow_request)
    source.send("checkpoint")  # Ctrl+C sends these two at once
    source.send("stop")
    deadline = time.monotonic() + 5
    while len(sent) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sent == ["checkpoint", "stop"]


# -- damaged or long-lived recordings (issue 13)


def test_a_run_end_far_before_the_tail_still_means_ended(tmp_path):
    """The UI left open after the run ended: heartbeats (older recordings) filled the tail."""
    now = time.time()
    me = os.getpid()  # alive, as the UI waiting for q was
    beats = [{"type": "heartbeat", "t": now - 3000 + i * 0.7, "pid": me} for i in range(4000)]
    run = _write_run(tmp_path / "r", [
        {"type": "run_start", "t": now - 4000, "script": "/p/t.py", "pid": me},
        {"type": "run_end", "t": now - 3001, "exit_code": 0, "state": "finished"},
        *beats,
    ])
    assert (run / "events.jsonl").stat().st_size > 2 * liveness.TAIL_BYTES
    status = liveness.read_status(run, now)
    assert status.state == "ended" and status.describe() == "ended: finished (exit 0)"


def test_a_run_end_mark_inside_a_log_line_is_not_an_end(tmp_path):
    now = time.time()
    run = _write_run(tmp_path / "r", [
        {"type": "run_start", "t": now - 60, "script": "/p/t.py", "pid": os.getpid()},
        {"type": "log", "t": now - 1, "stream": "stdout", "text": 'printed "type":"run_end" here'},
    ])
    assert liveness.find_run_end(run / "events.jsonl") is None
    assert liveness.read_status(run, now).state == "live"


def test_liveness_of_a_damaged_run_start_never_raises(tmp_path):
    now = time.time()
    run = _write_run(tmp_path / "r", [{"type": "run_start", "t": now - 60, "script": 3, "pid": "123"}])
    status = liveness.read_status(run, now)
    assert status.state == "died" and status.pid is None


@pytest.mark.parametrize("wait", ["nan", "1e400", "-inf", "-1"])
def test_ctl_wait_that_is_not_a_number_of_seconds_is_one_line(tmp_path, capsys, wait):
    run = _write_run(tmp_path / "r", [{"type": "run_start", "t": time.time(), "script": "/p/t.py", "pid": os.getpid()}])
    assert remote.ctl_main([str(run), "pause", f"--wait={wait}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--wait must be a number of seconds" in err


def test_attach_source_counts_malformed_lines(tmp_path):
    now = time.time()
    run = _write_run(tmp_path / "r", [
        {"type": "run_start", "t": now - 10, "script": "/p/t.py", "pid": os.getpid()},
        {"type": "batch", "t": now - 5},  # no step
        {"type": "run_end", "t": now - 1, "exit_code": 0, "state": "finished"},
    ])
    source = AttachSource(run)
    got = source.drain() + source.drain()
    assert any(e["type"] == "log" and "1 malformed or unknown event skipped" in e["text"] for e in got)
    assert not any(e["type"] == "batch" for e in got)
