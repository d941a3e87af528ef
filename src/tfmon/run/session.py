"""One live run: wires the probes, the recorder and the script together.

Used the same way by the Textual app (the job runs in a worker thread) and by
headless mode (the job runs in the main thread):

    run = LiveRun(script, args, options); run.prepare()   # main thread, before any UI
    code = run.run_job()                                  # the script, start to end
    run.finish()                                          # fds back, files closed
"""

from __future__ import annotations

import ctypes
import os
import platform
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable
from pathlib import Path

from tfmon import __version__, events, supervisor
from tfmon.bus import EventBus
from tfmon.doctor import runtime_findings
from tfmon.memory.growth import apply_memory_growth
from tfmon.memory.sampler import MemorySampler
from tfmon.placement.devices import read_tf_devices
from tfmon.placement.probe import PlacementProbe
from tfmon.probes import customloop
from tfmon.probes import keras as keras_probe
from tfmon.probes import summaries as summaries_probe
from tfmon.probes.capture import FdCapture, OutputSink, Passthrough, PythonCapture, text_stream_like
from tfmon.probes.context import ProbeContext
from tfmon.probes.control import Control
from tfmon.run.job import JobResult, run_script
from tfmon.recorder import OUTPUT_FILE, Recorder
from tfmon.rundir import new_run_dir
from tfmon.verdict.diagnoser import Diagnoser

#: A run that ended well with none of these recorded nothing worth keeping (a
#: ``--help`` run, a script that exits before it trains): its directory is removed.
KEEP_RUN_FOR = frozenset(
    {
        events.FIT_START, events.BATCH, events.EVALUATE_END, events.PREDICT_END, events.SCALAR,
        events.CHECKPOINT, "placement", "fallback",
    }
)


@dataclass
class Options:
    placement: bool = True
    raw_log: bool = False  # output.log keeps repeated placement lines, uncapped
    sample_interval: float = 0.5  # 0 turns the memory sampler off
    memory_growth: bool = False
    leak_threshold_mb: float | None = None
    run_dir: Path | None = None
    runs_base: Path | None = None
    batch_event_interval: float = 0.1
    capture_fds: bool = True
    headless: bool = False


def _user_tf_level() -> int:
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


class LiveRun:
    def __init__(self, script: Path, args: list[str], options: Options | None = None) -> None:
        self.script = Path(script)
        self.args = list(args)
        self.options = options or Options()
        self.bus = EventBus()
        self.emit = self.bus.emit
        self.control = Control(self.emit)
        self.run_dir: Path | None = None
        self.ctx: ProbeContext | None = None
        self.result: JobResult | None = None
        self.job_thread: threading.Thread | None = None
        # A second Ctrl+C raises KeyboardInterrupt in the job thread only while the
        # script runs: one landing in tfmon's end-of-run steps failed the run (exit 1).
        self._interruptible = False
        self._interrupt_lock = threading.Lock()
        # Set when the script has ended. The thread itself may outlive it (a
        # Textual worker reports back to an app that may have exited).
        self.job_done = threading.Event()
        self._recorder: Recorder | None = None
        self._sink: OutputSink | None = None
        self._fd_capture: FdCapture | None = None
        self._py_capture: PythonCapture | None = None
        self.passthrough: Passthrough | None = None
        self.run_dir_removed = False
        self._park_fds = False
        self._sampler = None
        self._placement = None
        self._diagnoser: Diagnoser | None = None
        self.channel = None  # the control socket (run/channel.py), for tfmon ctl / attach
        #: The SIGINT or SIGTERM that stopped the run (tfmon.signals): run_end says so.
        self.stop_signal: int | None = None
        self._hung_up = False
        self._ended = False  # run_end emitted
        self._finished = False

    # -- main thread, before the UI starts
    def prepare(self) -> None:
        opts = self.options
        self.run_dir = new_run_dir(self.script, base=opts.runs_base, explicit=opts.run_dir)
        supervisor.report("run", str(self.run_dir))
        supervisor.report("script", str(self.script))
        self.ctx = ProbeContext(
            emit=self.emit,
            control=self.control,
            run_dir=self.run_dir,
            batch_event_interval=opts.batch_event_interval,
        )
        self.ctx.on_devices_ready.append(self._on_devices_ready)
        self._recorder = Recorder(self.bus, self.run_dir)
        self._recorder.start()
        self._diagnoser = Diagnoser(self.bus.subscribe(), self.emit)  # before run_start: it folds every event
        self._diagnoser.start()
        self.channel, channel_error = _open_channel(self)  # before run_start: it folds every event
        self.emit(
            events.RUN_START,
            schema=events.SCHEMA_VERSION,
            tfmon=__version__,
            script=str(self.script),
            argv=[str(self.script), *self.args],
            cwd=os.getcwd(),
            pid=os.getpid(),
            run_dir=str(self.run_dir),
            python=platform.python_version(),
            platform=f"{sys.platform}-{platform.machine()}",
            host=platform.node(),
            headless=opts.headless,
        )
        self.emit(events.STATUS, state="starting", detail="starting")
        if channel_error:
            self.emit(events.NOTICE, severity="warning", text=f"control channel not available: {channel_error}")
        user_level = _user_tf_level()
        if opts.placement:
            # INFO lines must be produced for placement; the user's level still
            # decides what the log pane shows. Must happen before TF is imported.
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
            self._placement = _make_placement_probe(self.emit)
        crash_trace = supervisor.CrashTrace(self.run_dir / OUTPUT_FILE)
        self._sink = OutputSink(
            self.emit, self.run_dir / OUTPUT_FILE, self._placement, user_level, opts.raw_log, on_rotate=crash_trace.reopen
        )
        crash_trace.reopen()
        if opts.capture_fds:
            self._fd_capture = FdCapture(self._sink)
            self._fd_capture.start()
            # If this process dies, the supervising parent saves what the pipes still hold.
            supervisor.report("pipes", fds=self._fd_capture.read_fds)
            if opts.headless:
                # Headless, the script's own output reaches the real stdout and stderr, as under python.
                self.passthrough = Passthrough(self._fd_capture.saved_fd(1), self._fd_capture.saved_fd(2))
                self._sink.passthrough = self.passthrough
        if opts.sample_interval > 0:
            self._sampler = _make_sampler(self)
            if self._sampler is not None:
                self._sampler.start()

    def _on_devices_ready(self, tf) -> None:
        """Once fit has begun the script has initialised TF's devices: read them now."""
        devices = read_tf_devices(tf)
        self.emit(events.DEVICES, **devices)
        if self._placement is not None:
            self._placement.set_gpu_visible(bool(devices.get("gpus")))

    def terminal_fd(self, fd: int) -> int:
        """The original fd 1 or 2 (the terminal), kept aside while the pipes are in place."""
        if self._fd_capture is None:
            return fd
        return self._fd_capture.saved_fd(fd)

    # -- the job (worker thread under the UI, main thread headless)
    def run_job(self) -> int:
        self.job_thread = threading.current_thread()
        assert self.ctx is not None and self._sink is not None
        # Under the UI the app reads the keyboard: input() is refused with a reason, never a hang.
        stdin_note = None if self.options.headless else self._note
        self._py_capture = PythonCapture(self._sink, self.emit, self.passthrough, stdin_note)
        self._py_capture.start()
        customloop.bind(self.ctx)  # tfmon.step() & co. report to this run (custom loops)
        try:
            try:
                self._interruptible = True
                self._import_tensorflow()
                self.emit(events.STATUS, state="running", detail="running the script")
                self.result = run_script(self.script, self.args, warn=self._note)
            finally:
                while True:
                    try:
                        self._end_interrupts()
                        break
                    except KeyboardInterrupt:  # a second Ctrl+C that came as the script ended: spent
                        pass
                keras_probe.uninstall()
                summaries_probe.uninstall()  # reads the last tf.summary values before run_end
                customloop.unbind(self.ctx, self.result.exit_code if self.result else None)
                self._py_capture.restore()
        except BaseException as exc:  # a KeyboardInterrupt landing outside the script
            code = 130 if isinstance(exc, KeyboardInterrupt) else 1
            self.result = JobResult(code, repr(exc), type(exc).__name__)
        if self._sampler is not None:
            self._sampler.stop()  # its last sample lands before run_end, the last event
        self._quiet_output()
        try:
            return self._report_end(self.result)
        finally:
            self.job_done.set()

    def _note(self, text: str) -> None:
        self.emit(events.LOG, stream="tfmon", text=text)

    def _quiet_output(self) -> None:
        """Everything the script wrote is handled, then the sink emits no more events:
        run_end is the last event (TF's placement lines at shutdown go to output.log only)."""
        if self._fd_capture is not None:
            self._fd_capture.sync()
        if self._sink is not None:
            self._sink.seal()

    def _report_end(self, result: JobResult) -> int:
        if self._ended:
            return result.exit_code
        self._ended = True
        printed = False
        if result.exit_code != 0 and result.error is None and self._sink is not None and self._sink.stderr_tail:
            # sys.exit(2) after argparse's usage error, absl's FATAL flag error: the
            # reason is what the script printed last on stderr (shown in the log already).
            result.error = "\n".join(self._sink.stderr_tail)
            result.error_type = result.error_type or "SystemExit"
            printed = True
        elif result.error:
            self.emit(events.LOG, stream="stderr", text=result.error.rstrip("\n"))
        if self._diagnoser is not None:
            self._diagnoser.flush()  # the last verdict comes before run_end
        name = None
        if self.stop_signal is not None:
            # Stopped from outside (kill, timeout, a scheduler): exit as a shell reports it.
            name = supervisor.signal_name(self.stop_signal)
            result.exit_code = 128 + self.stop_signal
        state = "finished" if result.exit_code == 0 else "failed"
        detail = "finished" if state == "finished" else f"exit code {result.exit_code}"
        self.emit(events.STATUS, state=state, detail=f"{detail} ({name})" if name else detail)
        self.emit(
            events.RUN_END,
            exit_code=result.exit_code,
            state=state,
            error=result.error,
            error_type=result.error_type,
            signal=name,
            **({"error_printed": True} if printed else {}),
        )
        return result.exit_code

    def _import_tensorflow(self) -> None:
        """Import TF up front (the header says so) and hook Keras before the script runs."""
        self.emit(events.STATUS, state="starting", detail="importing tensorflow…")
        started = time.perf_counter()
        try:
            import tensorflow as tf  # noqa: F401  (the heavy part: seconds)
        except Exception as exc:
            # The script's own import will fail the same way and show its traceback.
            self.emit(events.LOG, stream="stderr", text=f"tfmon: importing tensorflow failed: {exc}")
            return
        keras_version = None
        try:
            import keras

            keras_version = keras.__version__
        except Exception:
            pass
        if self.options.placement:
            # Only a flag on the context: it does not initialise any device.
            tf.debugging.set_log_device_placement(True)
        if self.options.memory_growth:
            _apply_memory_growth(self, tf)
        patched = keras_probe.install(self.ctx)
        summaries_probe.install(self.emit, tf)  # tf.summary scalars -> scalar events
        self.emit(
            events.TF_IMPORTED,
            tf_version=tf.__version__,
            keras_version=keras_version,
            keras_patched=patched,
            seconds=round(time.perf_counter() - started, 3),
        )
        _emit_environment(self.emit)

    def recording_problems(self) -> list[str]:
        """Why events.jsonl or output.log stopped being written (a full disk), if they did."""
        parts = (self._recorder, self._sink)
        return [f"recording stopped: {p.failed}" for p in parts if p is not None and p.failed]

    # -- the terminal went away (live or headless)
    def hang_up(self, reason: str) -> bool:
        """Record the hang-up and ask for a checkpoint at the next batch boundary (at
        once while paused: the gate serves its queue then). Once; safe in a signal handler."""
        if self._hung_up:
            return False
        self._hung_up = True
        training = self.ctx is not None and self.result is None
        if training:
            # The run can be resumed from here even if the process dies later.
            self.control.ask("checkpoint", source="hangup")
        channel = self.channel
        self.emit(
            events.HANGUP,
            reason=reason,
            checkpoint_requested=training,
            channel=str(channel.path) if channel is not None else None,
        )
        return True

    def catch_sighup(self, then: Callable[[str], None] | None = None) -> Callable[[], None]:
        """Python's default for SIGHUP ends the process, the training with it: a run
        outlives its terminal instead (``hang_up``), after ``then(reason)`` has let the
        front end stop writing to it. Returns what puts the previous handler back."""

        def on_sighup(signum, frame) -> None:
            if then is not None:
                then("SIGHUP")
            self.hang_up("SIGHUP")

        previous = signal.signal(signal.SIGHUP, on_sighup)
        return lambda: signal.signal(signal.SIGHUP, previous)

    def stop_with_checkpoint(self, source: str) -> None:
        """Checkpoint, then stop, both at the next batch boundary (Ctrl+C or a signal once)."""
        self.control.ask("checkpoint", source=source)
        self.control.ask("stop", source=source)

    # -- control from the UI
    def interrupt_job(self) -> bool:
        """Raise KeyboardInterrupt in the job thread (second Ctrl+C)."""
        thread = self.job_thread
        with self._interrupt_lock:
            if thread is None or not thread.is_alive() or thread.ident is None or not self._interruptible:
                return False
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(thread.ident), ctypes.py_object(KeyboardInterrupt)
            )
            return True

    def _end_interrupts(self) -> None:
        """In the job thread, once the script is done: no KeyboardInterrupt lands after
        this (one asked for but not yet raised is taken back)."""
        with self._interrupt_lock:
            self._interruptible = False
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(threading.get_ident()), None)

    # -- main thread, at the end (also after a crash)
    def finish(self, park_fds: bool = False) -> None:
        """Put everything back and close the run's files.

        ``park_fds`` (tfmon's own command line, whose process ends next): fds 1 and 2
        stay pointed at output.log, so what TensorFlow prints while the interpreter
        shuts down (``DestroyResourceOp`` placement lines) never reaches the
        terminal raw; Python's sys.stdout and sys.stderr get the terminal back."""
        if self._finished:
            return
        self._finished = True
        if not self._ended and self.ctx is not None:
            # The script never ran, or tfmon leaves before it ended: still a run_end.
            self.result = self.result or JobResult(1, None, "tfmon ended before the script")
            self._report_end(self.result)
        self._park_fds = park_fds
        # Each step on its own: one that fails (a full disk) must not keep the
        # others (the socket's removal, the recorder's last events) from running.
        for close in (
            self._sampler and self._sampler.stop,
            self._diagnoser and self._diagnoser.stop,
            self._py_capture and self._py_capture.restore,
            self._fd_capture and self._stop_fd_capture,
            self.passthrough and self.passthrough.close,
            self._sink and self._sink.close,
            self.channel and self.channel.stop,
            self._recorder and self._recorder.stop,
            self._recorder and self._remove_if_nothing_recorded,
        ):
            if not close:
                continue
            try:
                close()
            except Exception as exc:
                self._note(f"tfmon: closing {close.__qualname__} failed: {exc}")

    def _stop_fd_capture(self) -> None:
        park = self.run_dir / OUTPUT_FILE if self._park_fds and self.run_dir is not None else None
        kept = self._fd_capture.stop(park=park)
        if kept:
            sys.stdout.flush()
            sys.stderr.flush()
            sys.stdout = text_stream_like(kept[1], sys.stdout)
            sys.stderr = text_stream_like(kept[2], sys.stderr)

    def _remove_if_nothing_recorded(self) -> None:
        """A run that ended well and trained nothing (``--help``) leaves no directory
        behind; a directory the user named (``--run-dir``) is always kept."""
        result = self.result
        if self.options.run_dir is not None or result is None or result.exit_code != 0:
            return
        if self._recorder.types_seen & KEEP_RUN_FOR or self.run_dir is None:
            return
        shutil.rmtree(self.run_dir, ignore_errors=True)
        self.run_dir_removed = not self.run_dir.exists()
        try:
            self.run_dir.parent.rmdir()  # ./tfmon-runs itself, when this was its only run
        except OSError:
            pass


def _open_channel(run: LiveRun):
    from tfmon.run.channel import ControlChannel

    channel = ControlChannel(run.run_dir, run.control, run.bus)
    try:
        channel.start()
    except OSError as exc:  # the run goes on; only ctl and attach's keys are lost
        return None, exc
    return channel, None


def _make_placement_probe(emit) -> PlacementProbe:
    return PlacementProbe(emit)


def _make_sampler(run: LiveRun) -> MemorySampler:
    sampler = MemorySampler(
        run.emit,
        interval=run.options.sample_interval,
        devices_ready=run.ctx.devices_ready,
        leak_threshold_mb=run.options.leak_threshold_mb,
    )
    run.ctx.on_epoch_end.append(sampler.on_epoch_end)
    return sampler


def _apply_memory_growth(run: LiveRun, tf) -> None:
    run.emit(events.LOG, stream="tfmon", text=apply_memory_growth(tf))


def _emit_environment(emit) -> None:
    try:
        emit(events.ENVIRONMENT, findings=runtime_findings())
    except Exception as exc:  # a check that breaks must not stop the run
        emit(events.LOG, stream="tfmon", text=f"tfmon: environment checks failed: {exc}")
