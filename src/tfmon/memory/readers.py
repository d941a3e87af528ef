"""Readers of memory figures (process, system, swap, GPU). Each reader's ``read()`` returns flat event fields.

A reader fails softly: ``ReaderUnavailable`` means "absent here for good" (its
rows hide; ``silent`` for an optional extra that is simply not installed), any
other exception is a failed reading that the sampler logs once. Units: ``*_mb``
fields are MiB (2**20 bytes) rounded to 0.1, ``*_pct`` are percents.
"""

from __future__ import annotations

import collections
import ctypes
import struct
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Protocol

import psutil

from tfmon.memory import ioreg, macos
from tfmon.memory.units import MB, mb

Runner = Callable[..., Any]  # subprocess.run's signature


class ReaderUnavailable(Exception):
    def __init__(self, reason: str, silent: bool = False) -> None:
        super().__init__(reason)
        self.silent = silent


class Reader(Protocol):
    name: str

    def read(self) -> dict[str, Any]: ...


def _run_text(runner: Runner, cmd: tuple[str, ...], timeout: float) -> str:
    """stdout of ``cmd``; ReaderUnavailable when the tool is missing, other errors raise as they are."""
    try:
        done = runner(list(cmd), capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as exc:
        raise ReaderUnavailable(f"`{cmd[0]}` not found ({exc.strerror or exc})") from None
    if done.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` exited with {done.returncode}: {(done.stderr or '').strip()[:200]}")
    return done.stdout or ""


# --- the training process -------------------------------------------------------------


def footprint_from_rusage(buf: bytes) -> int:
    """``ri_phys_footprint`` of a macOS ``rusage_info_v0``: 16-byte uuid, then 7 uint64
    counters (user/system time, wakeups x2, pageins, wired, resident) before it."""
    return struct.unpack_from("<Q", buf, 72)[0]


def _macos_footprint_reader(pid: int) -> Callable[[], int]:
    """Activity Monitor's "Memory" figure, through ``proc_pid_rusage`` (cheap, no sudo)."""
    libproc = ctypes.CDLL("/usr/lib/libSystem.B.dylib")  # re-exports libproc (proc_pid_rusage)
    fn = libproc.proc_pid_rusage
    fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
    fn.restype = ctypes.c_int
    buf = ctypes.create_string_buffer(256)  # rusage_info_v0 is 96 bytes

    def read() -> int:
        if fn(pid, 0, buf) != 0:  # RUSAGE_INFO_V0
            raise OSError("proc_pid_rusage failed")
        return footprint_from_rusage(buf.raw)

    return read


_STATUS_KEYS = (b"RssAnon:", b"VmSwap:")


def footprint_from_proc_status(text: bytes) -> int | None:
    """Linux: private anonymous resident memory plus what of it is swapped out
    (``RssAnon`` + ``VmSwap`` of ``/proc/<pid>/status``), in bytes; None without RssAnon.

    The Linux counterpart of macOS's phys_footprint: the memory that only this
    process holds, which tensors and leaks grow. psutil's USS
    (``memory_full_info().uss``) also counts private file-backed pages, so it reads
    higher once large libraries are loaded, and it walks ``smaps_rollup``: about
    9 ms of CPU per read with TensorFlow loaded, against 0.02 ms for this file.
    """
    total, found = 0, False
    for line in text.splitlines():
        for key in _STATUS_KEYS:
            if line.startswith(key):
                total += int(line.split()[1]) * 1024  # always in kB
                found = found or key == b"RssAnon:"
    return total if found else None


def _linux_footprint_reader(pid: int) -> Callable[[], int]:
    path = f"/proc/{pid}/status"

    def read() -> int:
        with open(path, "rb") as f:
            value = footprint_from_proc_status(f.read())
        if value is None:
            raise OSError("no RssAnon in " + path)
        return value

    read()  # fail now (no /proc, an old kernel) rather than at every sample
    return read


class ProcessReader:
    """RSS, CPU percent and threads of this process (the script runs in-process),
    plus the fuller footprint (``proc_footprint_mb``): ``phys_footprint`` on macOS,
    ``RssAnon + VmSwap`` on Linux. Both are cheap enough for every sample."""

    name = "process"

    def __init__(self, pid: int | None = None, platform: str = sys.platform) -> None:
        self._proc = psutil.Process(pid)
        self._proc.cpu_percent(None)  # the first call only primes the counter
        self._footprint: Callable[[], int] | None = None
        try:
            if platform == "darwin":
                self._footprint = _macos_footprint_reader(self._proc.pid)
            elif platform.startswith("linux"):
                self._footprint = _linux_footprint_reader(self._proc.pid)
        except Exception:
            self._footprint = None  # the row hides; RSS stays

    def read(self) -> dict[str, Any]:
        p = self._proc
        with p.oneshot():
            out: dict[str, Any] = {
                "proc_rss_mb": mb(p.memory_info().rss),
                "proc_cpu_pct": round(p.cpu_percent(None), 1),
                "proc_threads": p.num_threads(),
            }
        if self._footprint is not None:
            try:
                out["proc_footprint_mb"] = mb(self._footprint())
            except Exception:
                self._footprint = None
        return out

    def rss_mb(self) -> float:
        """A quick read for the epoch-end hook (one /proc read on Linux)."""
        return mb(self._proc.memory_info().rss)


# --- the machine ----------------------------------------------------------------------


class SystemReader:
    name = "system"

    def read(self) -> dict[str, Any]:
        vm = psutil.virtual_memory()
        return {
            "sys_total_mb": mb(vm.total),
            "sys_used_mb": mb(vm.used),
            "sys_avail_mb": mb(vm.available),
            "sys_pct": round(vm.percent, 1),
        }


class SwapTrend:
    """Swap is "growing" when it rose by ``min_growth_mb`` or more within ``window_s``."""

    def __init__(self, window_s: float = 30.0, min_growth_mb: float = 32.0) -> None:
        self.window_s = window_s
        self.min_growth_mb = min_growth_mb
        self._points: collections.deque[tuple[float, float]] = collections.deque()

    def add(self, t: float, used_mb: float) -> bool:
        self._points.append((t, used_mb))
        while self._points and self._points[0][0] < t - self.window_s:
            self._points.popleft()
        return used_mb - min(u for _, u in self._points) >= self.min_growth_mb


class SwapReader:
    name = "swap"

    def __init__(self, platform: str = sys.platform, runner: Runner = subprocess.run, trend: SwapTrend | None = None) -> None:
        self._platform = platform
        self._runner = runner
        self._trend = trend or SwapTrend()

    def _read_bytes(self) -> tuple[int, int]:
        try:
            sw = psutil.swap_memory()
            return sw.total, sw.used
        except Exception:
            if self._platform != "darwin":
                raise
        # psutil failed on macOS: ask sysctl directly
        parsed = macos.parse_swapusage(_run_text(self._runner, macos.SWAPUSAGE_COMMAND, 2.0))
        if parsed is None:
            raise RuntimeError("`sysctl vm.swapusage` printed no swap figures")
        return parsed["total_bytes"], parsed["used_bytes"]

    def read(self) -> dict[str, Any]:
        total, used = self._read_bytes()
        used_mb = mb(used)
        return {
            "swap_total_mb": mb(total),
            "swap_used_mb": used_mb,
            "swap_growing": self._trend.add(time.monotonic(), used_mb),
        }


class _PeriodicCommand:
    """A macOS command run with a timeout at most once every ``every_s``; in between,
    the last reading is repeated. Subclasses turn the command's text into fields."""

    name = ""
    command: tuple[str, ...] = ()

    def __init__(
        self, runner: Runner = subprocess.run, every_s: float = 1.0, timeout_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._runner = runner
        self._clock = clock
        self._every = every_s
        self._timeout = timeout_s
        self._at = -1e9
        self._last: dict[str, Any] = {}

    def read(self) -> dict[str, Any]:
        now = self._clock()
        if now - self._at < self._every:
            return self._last
        self._at = now
        self._last = {}
        self._last = self._fields(_run_text(self._runner, self.command, self._timeout))
        return self._last

    def _fields(self, text: str) -> dict[str, Any]:
        raise NotImplementedError


class MacPressureReader(_PeriodicCommand):
    """``memory_pressure``'s free percentage, every ``every_s`` (it is a subprocess)."""

    name = "memory_pressure"
    command = macos.MEMORY_PRESSURE_COMMAND

    def __init__(self, runner: Runner = subprocess.run, every_s: float = 5.0, timeout_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(runner, every_s, timeout_s, clock)

    def _fields(self, text: str) -> dict[str, Any]:
        free = macos.parse_memory_pressure(text)
        if free is None:
            raise ReaderUnavailable("`memory_pressure` printed no 'System-wide memory free percentage'")
        return {"pressure_free_pct": free}


class IoregReader(_PeriodicCommand):
    """The Apple GPU: utilisation and the memory it holds, from ``ioreg`` (no sudo),
    at most once every ``every_s``; in between the last reading is repeated."""

    name = "ioreg"
    command = ioreg.IOREG_COMMAND

    def _fields(self, text: str) -> dict[str, Any]:
        stats = ioreg.parse_ioreg(text)
        if stats is None:
            raise ReaderUnavailable(
                "ioreg shows no IOAccelerator PerformanceStatistics (keys missing: "
                + ", ".join(ioreg.missing_keys(None)) + ")"
            )
        out: dict[str, Any] = {}
        for field, key in (("device_pct", "agx_dev_pct"), ("renderer_pct", "agx_renderer_pct"), ("tiler_pct", "agx_tiler_pct")):
            if field in stats:
                out[key] = stats[field]
        if "in_use_bytes" in stats:
            out["agx_inuse_mb"] = mb(stats["in_use_bytes"])
        if "alloc_bytes" in stats:
            out["agx_alloc_mb"] = mb(stats["alloc_bytes"])
        return out


# --- TensorFlow's own allocator -------------------------------------------------------

TF_WAITING = "waiting"  # the script has not started fit yet: TF must not be touched
TF_OK = "ok"
TF_UNREPORTED = "unreported"  # "not reported by this backend": never shown as 0
TF_NOTES = {
    "no_gpu": "no GPU visible to TensorFlow",
    "zeros": "zeros only, as under tensorflow-metal",
    "error": "get_memory_info failed",
}


class TFAllocatorReader:
    """``tf.config.experimental.get_memory_info`` per GPU (current, peak).

    That call initialises TF's logical devices, after which ``set_memory_growth``
    and ``set_logical_device_configuration`` raise. So nothing here touches
    TensorFlow until ``devices_ready`` is set (the Keras callback does it at
    the start of ``fit``, when the script has configured its devices), and it
    never imports TF itself: it uses the module the script imported.
    """

    name = "tf_allocator"

    def __init__(self, devices_ready: threading.Event, modules: dict[str, Any] | None = None) -> None:
        self._ready = devices_ready
        self._modules = sys.modules if modules is None else modules
        self._gpus: list[str] | None = None
        self._counts = False  # a non-zero reading seen: this backend counts, zeros are real

    def read(self) -> dict[str, Any]:
        if not self._ready.is_set():
            return {"tf_status": TF_WAITING}
        tf = self._modules.get("tensorflow")
        if tf is None:
            return {"tf_status": TF_WAITING}
        if self._gpus is None:
            self._gpus = [f"GPU:{i}" for i, _ in enumerate(tf.config.list_logical_devices("GPU"))]
        if not self._gpus:
            return {"tf_status": TF_UNREPORTED, "tf_note": "no_gpu"}
        out: dict[str, Any] = {}
        nonzero = False
        for i, dev in enumerate(self._gpus[:8]):
            try:
                info = tf.config.experimental.get_memory_info(dev)
            except Exception:
                return {"tf_status": TF_UNREPORTED, "tf_note": "error"}
            cur, peak = int(info.get("current", 0)), int(info.get("peak", 0))
            nonzero = nonzero or cur > 0 or peak > 0
            # KiB precision: a small model's tensors are a few KiB, which 0.1 MiB would show as 0.
            out[f"tf_gpu{i}_mb"] = round(cur / MB, 3)
            out[f"tf_gpu{i}_peak_mb"] = round(peak / MB, 3)
        if not nonzero and not self._counts:
            return {"tf_status": TF_UNREPORTED, "tf_note": "zeros"}
        self._counts = True
        out["tf_status"] = TF_OK
        return out


# --- NVIDIA, through NVML (optional extra: nvidia-ml-py) ------------------------------


class NvmlReader:
    name = "nvml"

    def __init__(self, module: Any = None) -> None:
        self._nv = module
        self._handles: list[Any] | None = None

    def _init(self) -> None:
        if self._nv is None:
            try:
                import pynvml  # type: ignore[import-not-found]
            except ImportError:
                raise ReaderUnavailable("nvidia-ml-py is not installed", silent=True) from None
            self._nv = pynvml
        try:
            self._nv.nvmlInit()
            count = self._nv.nvmlDeviceGetCount()
            self._handles = [self._nv.nvmlDeviceGetHandleByIndex(i) for i in range(min(count, 8))]
        except Exception as exc:  # no NVIDIA driver: absent, quietly
            raise ReaderUnavailable(f"NVML unavailable: {exc}", silent=True) from None
        if not self._handles:
            raise ReaderUnavailable("NVML sees no GPU", silent=True)

    def read(self) -> dict[str, Any]:
        if self._handles is None:
            self._init()
        out: dict[str, Any] = {}
        for i, h in enumerate(self._handles or ()):
            mem = self._nv.nvmlDeviceGetMemoryInfo(h)
            out[f"nv{i}_util_pct"] = int(self._nv.nvmlDeviceGetUtilizationRates(h).gpu)
            out[f"nv{i}_used_mb"] = mb(mem.used)
            out[f"nv{i}_total_mb"] = mb(mem.total)
        return out


def default_readers(
    platform: str = sys.platform,
    runner: Runner = subprocess.run,
    devices_ready: threading.Event | None = None,
) -> list[Reader]:
    """The sources for this platform. Without ``devices_ready`` TF is never touched."""
    sources: list[Reader] = [ProcessReader(platform=platform), SystemReader(), SwapReader(platform, runner)]
    if devices_ready is not None:
        sources.append(TFAllocatorReader(devices_ready))
    if platform == "darwin":
        sources += [IoregReader(runner), MacPressureReader(runner)]
    elif platform.startswith("linux"):
        sources.append(NvmlReader())
    return sources
