"""The memory sampler: a daemon thread that emits a ``memory`` event every ``interval``.

Started before the user's script and stopped at its end, it keeps sampling
while training is paused (it does not depend on the training thread). It never
raises into its caller: a reader that fails is logged once (a ``log`` event) and
its rows hide; three failures in a row switch it off. Event fields are
documented in ``docs/events.md`` ("Memory events").

``on_epoch_end`` is called by the Keras callback in the training thread: it
reads the process RSS (one cheap read) and takes the GPU in-use figure from the
latest sample, emits ``memory_epoch`` and, through the leak detector, a
``memory_warning`` when memory grows steadily.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import Any, Callable, Sequence

from tfmon.events import LOG, MEMORY, MEMORY_EPOCH, MEMORY_WARNING
from tfmon.memory.alerts import MemoryAlerts
from tfmon.memory.leak import DEFAULT_THRESHOLD_MB, LeakDetector, LeakVerdict, assess
from tfmon.memory.readers import ProcessReader, Reader, ReaderUnavailable, default_readers

_MAX_FAILURES = 3  # consecutive failed readings before a reader is switched off


class MemorySampler:
    def __init__(
        self,
        emit: Callable[..., None],
        interval: float = 0.5,
        devices_ready: threading.Event | None = None,
        platform: str = sys.platform,
        runner: Callable[..., Any] = subprocess.run,
        *,
        leak_threshold_mb: float | None = DEFAULT_THRESHOLD_MB,
        readers: Sequence[Reader] | None = None,
    ) -> None:
        self._emit = emit
        self.interval = max(0.05, float(interval))
        self._devices_ready = devices_ready
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._logged: set[str] = set()
        self._failures: dict[str, int] = {}
        self._alerts = MemoryAlerts()
        threshold = DEFAULT_THRESHOLD_MB if leak_threshold_mb is None else float(leak_threshold_mb)
        self._leaks = {"rss": LeakDetector(threshold), "gpu": LeakDetector(threshold)}
        self._epochs = 0
        self._training = False
        self.latest: dict[str, Any] = {}
        self.samples = 0
        try:
            self._readers: list[Reader] = list(
                readers if readers is not None else default_readers(platform, runner, devices_ready)
            )
        except Exception as exc:  # psutil broken: sample nothing rather than fail the run
            self._readers = []
            self._log_once("init", f"memory sampler disabled: {type(exc).__name__}: {exc}")
        self._proc = next((s for s in self._readers if isinstance(s, ProcessReader)), None)

    # --- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="tfmon-memory-sampler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0, final_sample: bool = True) -> None:
        """Stop the thread; by default take one last sample, so that the record ends
        with the memory as the script left it (a short run may end between samples)."""
        already = self._stop.is_set()
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        if final_sample and thread is not None and not already and not thread.is_alive():
            try:
                self.sample_once()
            except Exception:
                pass

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                self.sample_once()
            except BaseException as exc:  # never let the thread die silently mid-run
                self._log_once("loop", f"memory sampler error: {type(exc).__name__}: {exc}")
            next_at += self.interval
            delay = next_at - time.monotonic()
            if delay < 0:  # fell behind (a slow source): skip, don't burst
                next_at = time.monotonic()
                delay = 0
            self._stop.wait(delay)

    # --- one sample --------------------------------------------------------------

    def sample_once(self) -> dict[str, Any]:
        """Read every reader, emit one ``memory`` event and any warnings; return its fields."""
        started = time.thread_time()
        fields: dict[str, Any] = {}
        for reader in list(self._readers):
            try:
                fields.update(reader.read())
                self._failures[reader.name] = 0
            except ReaderUnavailable as exc:
                self._drop(reader)
                if not exc.silent:
                    self._log_once(reader.name, f"memory: {reader.name} rows hidden: {exc}")
            except Exception as exc:
                n = self._failures.get(reader.name, 0) + 1
                self._failures[reader.name] = n
                self._log_once(
                    reader.name,
                    f"memory: {reader.name} rows hidden, reading failed: {type(exc).__name__}: {exc}",
                )
                if n >= _MAX_FAILURES:
                    self._drop(reader)
        fields["cpu_ms"] = round((time.thread_time() - started) * 1000, 2)
        self.latest = fields
        self.samples += 1
        self._safe_emit(MEMORY, fields)
        if self._devices_ready is not None and self._devices_ready.is_set():
            self._training = True
        with self._lock:
            warnings = self._alerts.check(fields, self._training)
        for w in warnings:
            self._safe_emit(MEMORY_WARNING, w)
        return fields

    # --- epoch ends (training thread) --------------------------------------------

    def on_epoch_end(self, epoch: int) -> None:
        """Record this epoch's memory and check it for a leak. Cheap; never raises."""
        try:
            self._training = True
            rss = self._proc.rss_mb() if self._proc is not None else self.latest.get("proc_rss_mb")
            if rss is None:
                return
            gpu = gpu_in_use(self.latest)
            with self._lock:
                self._epochs += 1
                event: dict[str, Any] = {"epoch": int(epoch), "n": self._epochs, "rss_mb": rss}
                verdicts = {"rss": self._leaks["rss"].add(rss)}
                event["rss_slope_mb"] = _rounded(verdicts["rss"].slope_mb)
                if gpu is not None:
                    event["gpu_mb"], event["gpu_src"] = gpu
                    verdicts["gpu"] = self._leaks["gpu"].add(gpu[0])
                    event["gpu_slope_mb"] = _rounded(verdicts["gpu"].slope_mb)
                warnings = []
                for series, verdict in verdicts.items():
                    if verdict.leak:
                        warnings += self._alerts.raise_once(
                            f"leak_{series}", "leak", verdict.message(_SERIES_NAME[series]),
                            series=series, slope_mb=_rounded(verdict.slope_mb), epochs=verdict.epochs,
                        )
            self._safe_emit(MEMORY_EPOCH, event)
            for w in warnings:
                self._safe_emit(MEMORY_WARNING, w)
        except Exception as exc:
            self._log_once("epoch", f"memory: epoch-end reading failed: {type(exc).__name__}: {exc}")

    def verdict(self, series: str = "rss") -> LeakVerdict:
        """The leak verdict so far for ``rss`` or ``gpu`` (for tests and the headless summary)."""
        det = self._leaks[series]
        return assess(det.values, det.threshold_mb)

    # --- helpers -----------------------------------------------------------------

    def _drop(self, reader: Reader) -> None:
        try:
            self._readers.remove(reader)
        except ValueError:
            pass
        if reader is self._proc:
            self._proc = None

    def _log_once(self, key: str, text: str) -> None:
        if key in self._logged:
            return
        self._logged.add(key)
        self._safe_emit(LOG, {"stream": "tfmon", "level": "warning", "text": text})

    def _safe_emit(self, type_: str, fields: dict[str, Any]) -> None:
        try:
            self._emit(type_, **fields)
        except Exception:
            pass  # a broken consumer must not stop the sampling


_SERIES_NAME = {"rss": "process memory", "gpu": "GPU memory"}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def gpu_in_use(fields: dict[str, Any]) -> tuple[float, str] | None:
    """The GPU memory in use, from the best source present: TF's allocator (all GPUs),
    else the Apple GPU's "In use system memory", else NVML."""
    if fields.get("tf_status") == "ok":
        total = sum(v for k, v in fields.items() if k.startswith("tf_gpu") and k.endswith("_mb") and "_peak" not in k)
        return round(total, 1), "tf"
    if "agx_inuse_mb" in fields:
        return fields["agx_inuse_mb"], "ioreg"
    nv = [v for k, v in fields.items() if k.startswith("nv") and k.endswith("_used_mb")]
    if nv:
        return round(sum(nv), 1), "nvml"
    return None
