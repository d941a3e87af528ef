"""The control channel's client: how ``tfmon ctl`` and ``tfmon attach`` talk to a run.

One JSON line out, one JSON line back (the protocol: ``tfmon.run.channel``).
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

from tfmon.run.channel import MAX_SOCKET_PATH, socket_path


class ChannelError(Exception):
    """No channel to talk to (no socket, nobody listening, refused): one line for the user."""


def call(run_dir: Path, action: str, wait: float = 0.0, timeout: float | None = None) -> dict[str, Any]:
    """Send one request to a run's channel and return its reply."""
    path = socket_path(run_dir)
    if not (path.exists() or path.is_symlink()):
        raise ChannelError(f"no control channel at {path}")
    target = os.path.realpath(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout if timeout is not None else wait + 10)
    try:
        try:
            _connect(sock, target)
        except FileNotFoundError:
            raise ChannelError(f"no control channel at {path}") from None
        except ConnectionRefusedError:
            raise ChannelError(f"nobody listens on {path} (the run's process is gone)") from None
        except PermissionError:
            raise ChannelError(f"permission denied on {path}: the run belongs to another user") from None
        try:
            sock.sendall(json.dumps({"action": action, "wait": wait}).encode() + b"\n")
        except BrokenPipeError:
            pass  # the server answered and closed first: its reply says why
        data = b""
        while not data.endswith(b"\n"):
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        raise ChannelError(f"no reply from {path} within {sock.gettimeout():.0f}s") from None
    finally:
        sock.close()
    reply = _parse_reply(data)
    if reply is None:
        raise ChannelError(f"the channel at {path} closed without a reply")
    return reply


def _parse_reply(data: bytes) -> dict[str, Any] | None:
    try:
        reply = json.loads(data.decode("utf-8", "replace"))
    except ValueError:
        return None
    return reply if isinstance(reply, dict) else None


def _connect(sock: socket.socket, target: str) -> None:
    if len(os.fsencode(target)) <= MAX_SOCKET_PATH:
        sock.connect(target)
        return
    # Too long for sun_path: connect through a short link in a private folder
    # (never chdir: the process's other threads open relative paths).
    folder = tempfile.mkdtemp(prefix="tfmon-")
    link = os.path.join(folder, "s")
    try:
        os.symlink(target, link)
        sock.connect(link)
    finally:
        try:
            os.unlink(link)
        except OSError:
            pass
        os.rmdir(folder)
