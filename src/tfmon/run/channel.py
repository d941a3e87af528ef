"""The control channel's server: a Unix socket in the run directory for ``tfmon ctl`` and ``tfmon attach``
(their side: ``tfmon.run.client``).

One JSON line per request, one JSON line per reply::

    -> {"action": "pause", "wait": 10}
    <- {"ok": true, "action": "pause", "done": true, "message": "paused at epoch 2, step 13", ...}

Actions go to the run's control gate exactly like the keys do (``source="ctl"``);
``status`` answers from the run's events. With ``wait`` > 0 the reply comes
once the action has taken effect (or the wait ran out), so ``tfmon ctl RUN
pause`` says where the run paused.

Bounded: at most ``MAX_CONNECTIONS`` are served at once (more get a "busy"
reply), a request must arrive within ``READ_TIMEOUT`` seconds, be at most
``MAX_REQUEST`` bytes and nest at most ``MAX_DEPTH`` levels. Nothing a client
does can raise into the run: every failure stays in the channel's threads.

Access: the socket is the owner's only (mode 0600, in the 0700 run directory)
and every connection's peer uid is checked against ours (SO_PEERCRED on Linux,
LOCAL_PEERCRED on macOS); anyone else gets a refusal and a notice in the run.
No network port is ever opened.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from tfmon import describe, events
from tfmon.events import Event

SOCKET_NAME = "control.sock"
ACTIONS = ("pause", "resume", "toggle_pause", "checkpoint", "stop", "status")
MAX_REQUEST = 4096
MAX_DEPTH = 4
MAX_CONNECTIONS = 8
READ_TIMEOUT = 5.0
MAX_WAIT = 60.0
#: sun_path is 108 bytes on Linux and 104 on macOS, terminating NUL included.
MAX_SOCKET_PATH = 100


def socket_path(run_dir: Path) -> Path:
    return Path(run_dir) / SOCKET_NAME


def remove_socket(run_dir: Path) -> None:
    """Remove a run's socket (and the short folder a long path needed), left by a dead run."""
    path = socket_path(run_dir)
    target = os.readlink(path) if path.is_symlink() else None
    if path.is_socket() or target is not None:
        path.unlink()
    if target is not None and os.path.basename(target) == SOCKET_NAME:
        try:
            os.unlink(target)
            os.rmdir(os.path.dirname(target))
        except OSError:
            pass


def peer_uid(conn: socket.socket) -> int | None:
    """The uid of the process at the other end of a Unix socket, or None if the OS cannot say."""
    if hasattr(socket, "SO_PEERCRED"):  # Linux: struct ucred {pid, uid, gid}
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", creds)
        return uid
    if sys.platform == "darwin":  # struct xucred {u_int cr_version; uid_t cr_uid; ...}
        sol_local, local_peercred = 0, 0x001
        creds = conn.getsockopt(sol_local, local_peercred, struct.calcsize("=Ii") + 2 + 16 * 4)
        _version, uid = struct.unpack_from("=II", creds)
        return uid
    return None


class _RunView:
    """What ``status`` reports and what a waiting request watches, folded from the run's events."""

    def __init__(self) -> None:
        from tfmon.state import RunInfo  # pure: no Textual, no TF

        self.info = RunInfo()
        self.counts: dict[str, int] = {}
        self.last: dict[str, Event] = {}

    def apply(self, e: Event) -> None:
        kind = e["type"]
        if kind in (events.PAUSED, events.RESUMED, events.CHECKPOINT, events.FIT_END, events.RUN_END, events.HANGUP):
            self.counts[kind] = self.counts.get(kind, 0) + 1
            self.last[kind] = e
        if kind in (events.BATCH, events.LOG, events.PLACEMENT, events.MEMORY):
            # Hot events: only the position matters here.
            if kind == events.BATCH:
                self.info.epoch = e.get("epoch", self.info.epoch)
                self.info.step = e.get("step", self.info.step)
            return
        self.info.apply(e)

    def mark(self) -> dict[str, int]:
        return dict(self.counts)

    def moved(self, mark: dict[str, int], kind: str) -> Event | None:
        if self.counts.get(kind, 0) > mark.get(kind, 0):
            return self.last[kind]
        return None


class ControlChannel:
    """Serves the control socket in a daemon thread; ``stop`` closes it and removes the file."""

    def __init__(
        self,
        run_dir: Path,
        control,
        bus,
        peer_uid: Callable[[socket.socket], int | None] = peer_uid,
    ) -> None:
        # Absolute: the script may chdir, and the socket must still be removed at the end.
        self.run_dir = Path(run_dir).absolute()
        self.path = socket_path(self.run_dir)
        self._control = control
        self._bus = bus
        self._emit = bus.emit
        self._sub = None  # subscribed once the socket is bound
        self._peer_uid = peer_uid
        self._uid = os.getuid()
        self._view = _RunView()
        self._changed = threading.Condition()
        self._sock: socket.socket | None = None
        self._short_dir: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tfmon-channel", daemon=True)
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.refused = 0
        self.busy = 0  # connections turned away over the cap

    # -- lifecycle
    def start(self) -> None:
        self._sock = self._bind()
        self._sub = self._bus.subscribe()
        self._sock.listen(8)
        self._sock.settimeout(0.2)  # the loop also folds events between connections
        self._thread.start()

    def _bind(self) -> socket.socket:
        path = self.path
        remove_socket(self.run_dir)  # left by a run that died in this directory
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            if len(os.fsencode(str(path))) <= MAX_SOCKET_PATH:
                sock.bind(str(path))
                os.chmod(path, 0o600)
            else:
                # Too long for sun_path (deep project folders on macOS): bind in a
                # short private folder and leave a link under the usual name.
                self._short_dir = tempfile.mkdtemp(prefix="tfmon-")
                real = os.path.join(self._short_dir, SOCKET_NAME)
                sock.bind(real)
                os.chmod(real, 0o600)
                os.symlink(real, path)
        except BaseException:
            sock.close()
            raise
        return sock

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        try:
            remove_socket(self.run_dir)
        except OSError:
            pass
        with self._changed:
            self._changed.notify_all()

    # -- the server thread
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._fold()
                self._accept()
            except Exception:  # never let the loop die: ctl and attach depend on it
                if self._stop.is_set():
                    return
                time.sleep(0.1)

    def _accept(self) -> None:
        try:
            conn, _ = self._sock.accept()
        except socket.timeout:
            return
        if not self._slots.acquire(blocking=False):
            # Over the cap: one short reply from this thread, never a new thread.
            self.busy += 1
            with conn:
                conn.settimeout(0.5)
                _send(conn, {"ok": False, "error": f"busy: {MAX_CONNECTIONS} connections are being served"})
            return
        try:
            threading.Thread(target=self._serve_slot, args=(conn,), name="tfmon-channel-conn", daemon=True).start()
        except RuntimeError:  # can't start new thread: the process is at its limit
            self._slots.release()
            conn.close()

    def _serve_slot(self, conn: socket.socket) -> None:
        try:
            self._serve(conn)
        except Exception:
            pass  # the client's problem; nothing reaches the script's output
        finally:
            self._slots.release()

    def _fold(self) -> None:
        with self._changed:
            self._fold_locked()

    def _fold_locked(self) -> None:
        # Drained under the lock: two threads folding never reorder events.
        batch = self._sub.drain() if self._sub is not None else None
        if batch:
            for e in batch:
                self._view.apply(e)
            self._changed.notify_all()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            # The request is read (at most 4 KB, within READ_TIMEOUT) before any reply,
            # refusal included: closing on a client that is still sending would break
            # its pipe before it could read why.
            try:
                request = _read_request(conn, time.monotonic() + READ_TIMEOUT)
                problem = None
            except (OSError, ValueError) as exc:
                request, problem = {}, f"bad request: {exc}"
            try:
                uid = self._peer_uid(conn)
            except OSError:
                uid = None
            if uid != self._uid:
                self.refused += 1
                self._emit(
                    events.NOTICE,
                    severity="warning",
                    text=f"control channel: refused a connection from uid {uid}",
                )
                _send(conn, {"ok": False, "error": f"refused: the control channel belongs to uid {self._uid}"})
                return
            if problem is not None:
                _send(conn, {"ok": False, "error": problem})
                return
            try:
                reply = self.handle(request)
            except Exception as exc:  # never let a client take the channel down
                reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            _send(conn, reply)

    # -- requests
    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        action = request.get("action")
        if action not in ACTIONS:
            return {"ok": False, "error": f"unknown action {action!r} (one of: {', '.join(ACTIONS)})"}
        self._fold()
        if action == "status":
            return {"ok": True, "action": action, "status": self.status()}
        if self._view.counts.get(events.RUN_END):
            return {"ok": False, "action": action, "error": "the run has ended"}
        try:
            wait = min(max(float(request.get("wait", 0) or 0), 0.0), MAX_WAIT)
        except (TypeError, ValueError):
            wait = 0.0
        control = self._control
        if action == "toggle_pause":
            action = "resume" if (control.paused or control.pause_requested) else "pause"
        if action == "resume" and not (control.paused or control.pause_requested):
            return {"ok": True, "action": action, "done": True, "message": "not paused"}
        if action == "pause" and control.paused:
            info = self._view.info
            return {"ok": True, "action": action, "done": True, "message": f"already paused at epoch {info.epoch}, step {info.step}"}
        with self._changed:
            self._fold_locked()
            mark = self._view.mark()
        control.ask(action, source="ctl")
        done_event = self._wait_for(action, mark, wait) if wait > 0 else None
        reply: dict[str, Any] = {"ok": True, "action": action, "done": done_event is not None}
        reply["message"] = describe.ctl_message(action, done_event)
        idle = self._view.info.between_fits()
        if idle and done_event is None and action in ("pause", "checkpoint"):
            reply["message"] += f" ({idle}: it waits for the next batch of one, if the script starts one)"
        if done_event is not None:
            reply["event"] = done_event
            if done_event["type"] == events.CHECKPOINT and not done_event.get("ok"):
                reply["ok"] = False
                reply["error"] = f"checkpoint failed: {done_event.get('error')}"
        return reply

    def _wait_for(self, action: str, mark: dict[str, int], wait: float) -> Event | None:
        kinds = {
            "pause": (events.PAUSED,),
            "resume": (events.RESUMED,),
            "checkpoint": (events.CHECKPOINT,),
            "stop": (events.FIT_END, events.RUN_END),
        }[action]
        deadline = time.monotonic() + wait
        with self._changed:
            while True:
                for kind in kinds:
                    hit = self._view.moved(mark, kind)
                    if hit is not None:
                        return hit
                left = deadline - time.monotonic()
                if left <= 0 or self._stop.is_set():
                    return None
                self._changed.wait(min(left, 0.2))
                # The server thread folds too; folding here means a waiter never depends on it.
                self._fold_locked()

    def status(self) -> dict[str, Any]:
        info = self._view.info
        control = self._control
        if control.paused:
            state = "paused"
        elif control.pause_requested:
            state = "pausing"
        else:
            state = info.state
        out = {
            "pid": os.getpid(),
            "run_dir": str(self.run_dir),
            "script": info.script,
            "state": state,
            "detail": info.detail,
            "fit": info.fit,
            "epoch": info.epoch,
            "epochs": info.epochs,
            "step": info.step,
            "steps": info.steps,
            "paused": control.paused,
            "stop_requested": control.stop_requested,
            "hung_up": info.hung_up,
            "last_checkpoint": info.last_checkpoint,
            "exit_code": info.exit_code,
            "started": info.started,
        }
        return out


def _read_request(conn: socket.socket, deadline: float) -> dict[str, Any]:
    data = b""
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ValueError(f"no complete request within {READ_TIMEOUT:g}s")
        conn.settimeout(left)
        try:
            chunk = conn.recv(1024)
        except socket.timeout:
            raise ValueError(f"no complete request within {READ_TIMEOUT:g}s") from None
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST:
            raise ValueError("request too long")
    line = data.split(b"\n", 1)[0]
    if _depth(line) > MAX_DEPTH:
        raise ValueError(f"request nested deeper than {MAX_DEPTH} levels")
    request = json.loads(line.decode("utf-8"))
    if not isinstance(request, dict):
        raise ValueError("a request is a JSON object")
    return request


def _depth(raw: bytes) -> int:
    """How deep brackets nest (strings included: a conservative upper bound), before
    json.loads, whose recursion a crafted request could exhaust."""
    depth = deepest = 0
    for byte in raw:
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    return deepest


def _send(conn: socket.socket, reply: dict[str, Any]) -> None:
    try:
        conn.sendall(events.dumps(reply).encode("utf-8") + b"\n")
    except OSError:
        pass  # the client went away: nothing to tell it
