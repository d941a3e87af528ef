"""The control channel under abuse: many connections, slow or deep requests, long paths.

A real ControlChannel on a real Unix socket, as in test_remote.py. Nothing a
client does may raise into the run (its threads' errors would land in the
script's output) or start threads without bound (a thread that TensorFlow
cannot start aborts the training).
"""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from conftest import until
from tfmon.bus import EventBus
from tfmon.run import channel as channel_mod
from tfmon.run import client as client_mod
from tfmon.run.channel import ControlChannel
from tfmon.run.client import call
from tfmon.probes.control import Control


@pytest.fixture
def chan(tmp_path, monkeypatch):
    errors = []
    monkeypatch.setattr(threading, "excepthook", lambda args: errors.append(args.exc_value))
    monkeypatch.setattr(channel_mod, "READ_TIMEOUT", 1.0, raising=False)
    bus = EventBus()
    channel = ControlChannel(tmp_path, Control(bus.emit), bus)
    channel.start()
    yield channel, errors
    channel.stop()


def _raw(path, data: bytes) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(path))
        s.sendall(data)
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
    return client_mod._parse_reply(reply)


def test_idle_connections_beyond_the_cap_are_turned_away_without_a_thread_each(chan):
    channel, errors = chan
    threads_before = threading.active_count()
    idle = []
    for _ in range(60):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(channel.path))
        idle.append(s)
    try:
        assert until(lambda: channel.busy >= 60 - channel_mod.MAX_CONNECTIONS)
        assert threading.active_count() - threads_before <= channel_mod.MAX_CONNECTIONS
        busy = idle[-1].recv(4096)
        assert b"busy" in busy
    finally:
        for s in idle:
            s.close()
    # The idle ones time out (READ_TIMEOUT) and free their slots: the channel serves again.
    deadline = time.monotonic() + 10
    while True:
        reply = call(channel.run_dir, "status", timeout=5)
        if reply.get("ok") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert reply["ok"] is True, reply
    assert errors == []


def test_a_request_that_never_completes_gets_a_timeout_reply(chan):
    channel, errors = chan
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(channel.path))
        started = time.monotonic()
        s.sendall(b'{"action": ')
        for _ in range(3):  # a byte now and then, never a newline
            time.sleep(0.4)
            try:
                s.sendall(b" ")
            except OSError:
                break
        s.settimeout(10)
        reply = client_mod._parse_reply(s.recv(4096))
    assert reply["ok"] is False and "no complete request within" in reply["error"]
    assert time.monotonic() - started < 8
    assert errors == []


@pytest.mark.parametrize("payload", [b"[" * 3000 + b"\n", b'{"action": ' + b"[" * 2000 + b"]" * 2000 + b"}\n"])
def test_a_deeply_nested_request_is_refused_not_raised(chan, payload, capfd):
    channel, errors = chan
    reply = _raw(channel.path, payload)
    assert reply["ok"] is False and "nested deeper" in reply["error"]
    assert call(channel.run_dir, "status")["ok"] is True
    assert errors == []
    assert "RecursionError" not in capfd.readouterr().err


def test_an_oversized_request_is_refused(chan):
    channel, errors = chan
    reply = _raw(channel.path, b'{"action": "' + b"x" * 10000 + b'"}\n')
    assert reply["ok"] is False and "too long" in reply["error"]


def test_a_thread_that_cannot_start_closes_the_connection_and_the_loop_goes_on(chan, monkeypatch):
    channel, errors = chan
    real_start = threading.Thread.start
    failures = []

    def start(self):
        if self.name == "tfmon-channel-conn" and not failures:
            failures.append(self)
            raise RuntimeError("can't start new thread")
        return real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    with pytest.raises(client_mod.ChannelError):
        call(channel.run_dir, "status", timeout=5)
    assert failures
    assert call(channel.run_dir, "status", timeout=5)["ok"] is True


def test_connecting_to_a_long_socket_path_never_changes_directory(tmp_path, monkeypatch):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    bus = EventBus()
    channel = ControlChannel(deep, Control(bus.emit), bus)
    channel.start()

    def no_chdir(path):
        raise AssertionError(f"chdir({path}) from a client thread")

    monkeypatch.setattr(os, "chdir", no_chdir)
    try:
        # The link in the run dir, by a path too long for sun_path.
        target = os.path.realpath(channel.path)
        longer = str(deep / ".." / deep.name / "control.sock")
        assert len(os.fsencode(longer)) > channel_mod.MAX_SOCKET_PATH
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            client_mod._connect(s, longer)
        assert os.path.exists(target)
    finally:
        channel.stop()
