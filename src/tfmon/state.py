"""RunState: folds events into what the panes show. Pure Python, no I/O, no UI.

Each sub-state has ``apply(event)`` and a ``version`` that moves when what it
shows changes, so the UI redraws only the panes that need it. Histories are
bounded: a ten-hour run keeps the same memory as a ten-minute one.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tfmon import describe, events
from tfmon.events import Event
from tfmon.memory.state import MemoryState
from tfmon.placement.state import PlacementState
from tfmon.verdict.view import VerdictState

BATCH_HISTORY = 2000  # curve points kept: between this and twice this, over the whole run
DRAIN_BATCH_SAMPLE = 200  # batch events folded per drain at most (plus the last one)
LOG_HISTORY = 5000
EPOCH_HISTORY = 1000  # epoch rows kept (the table shows fewer); the epoch curves keep the whole run, downsampled
EVALUATION_HISTORY = 100


class Downsampled:
    """The points of a whole run in bounded memory: all of them until there are
    ``2 * n``, then every 2nd, 4th, ... (the stride doubles each time the list
    fills up), evenly spread over everything appended; the newest always."""

    __slots__ = ("_n", "_points", "_stride", "_count", "_last")

    def __init__(self, n: int = BATCH_HISTORY) -> None:
        self._n = n
        self._points: list = []
        self._stride = 1
        self._count = 0
        self._last = None

    def append(self, point) -> None:
        if self._count % self._stride == 0:
            self._points.append(point)
            if len(self._points) >= 2 * self._n:
                del self._points[1::2]
                self._stride *= 2
        self._count += 1
        self._last = point

    def _view(self) -> list:
        points = self._points
        if self._count and points[-1] is not self._last:
            return points + [self._last]
        return points

    def __iter__(self):
        return iter(self._view())

    def __len__(self) -> int:
        return len(self._view())

    def __getitem__(self, i):
        return self._last if i == -1 and self._count else self._view()[i]

    def __bool__(self) -> bool:
        return self._count > 0


class RunInfo:
    """The header: script, state, progress, speed, elapsed, ETA."""

    def __init__(self) -> None:
        self.version = 0
        self.script = ""
        self.run_dir = ""
        self.pid: int | None = None
        self.state = "starting"
        self.detail = "starting"
        self.started: float | None = None
        self.ended: float | None = None
        self.last_t: float | None = None
        self.exit_code: int | None = None
        self.error: str | None = None
        self.tf_version: str | None = None
        self.fit = 0
        self.epoch = 0
        self.epochs: int | None = None
        self.step = 0
        self.global_step = 0
        self.steps: int | None = None
        self.batch_size: int | None = None
        self.steps_per_s: float | None = None
        self.paused_since: float | None = None
        self.pause_requested = False
        self.stop_reason: str | None = None
        self.hung_up = False
        self.last_checkpoint: str | None = None
        self.ended_at: str | None = None  # "stopped at step 37/100": the last epoch was cut short
        self._rate_anchor: tuple[float, int] | None = None
        self._epoch_steps: int | None = None  # learned from the first epoch when unknown

    @property
    def samples_per_s(self) -> float | None:
        if self.steps_per_s is None or not self.batch_size:
            return None
        return self.steps_per_s * self.batch_size

    def elapsed(self, now: float) -> float:
        if self.started is None:
            return 0.0
        return (self.ended or now) - self.started

    @property
    def training_now(self) -> bool:
        """A fit (or tfmon.step loop) is running and not paused: a speed means something."""
        return bool(self.fit) and self.stop_reason is None and self.paused_since is None and self.ended is None

    @property
    def steps_per_epoch(self) -> int | None:
        """What fit announced, or what the first epoch showed when fit did not know."""
        return self.steps or self._epoch_steps

    def between_fits(self) -> str | None:
        """Why no batch boundary is coming (pause and checkpoint are served only
        inside Model.fit or a tfmon.step() loop), or None while one runs. A loop of
        the script's own without tfmon.step() is never seen: it is not "not started"."""
        if not self.fit:
            return "no fit or tfmon.step() loop is running"
        if self.stop_reason is not None:
            return f"fit has ended ({self.stop_reason})"
        return None

    def eta_seconds(self) -> float | None:
        """Remaining steps of this fit at the current speed."""
        steps = self.steps_per_epoch
        if not (self.steps_per_s and steps and self.epochs) or self.state != "running":
            return None
        remaining = (self.epochs - self.epoch) * steps + (steps - self.step)
        return max(remaining, 0) / self.steps_per_s

    def apply(self, e: Event) -> None:
        kind = e["type"]
        self.last_t = e.get("t", self.last_t)
        if kind == events.RUN_START:
            self.script = e.get("script", "")
            self.run_dir = e.get("run_dir", "")
            self.pid = e.get("pid")
            self.started = e["t"]
        elif kind == events.STATUS:
            if self.state in ("finished", "failed") and e["state"] not in ("finished", "failed"):
                return
            self.state = e["state"]
            self.detail = e.get("detail", self.state)
        elif kind == events.TF_IMPORTED:
            self.tf_version = e.get("tf_version")
        elif kind == events.FIT_START:
            self.fit = e.get("fit", self.fit + 1)
            self.epochs = e.get("epochs")
            self.steps = e.get("steps")
            self.batch_size = e.get("batch_size")
            self.epoch = 0
            self.step = 0
            self._epoch_steps = None
            self._rate_anchor = None
            self.stop_reason = None
            self.ended_at = None
        elif kind == events.EPOCH_START:
            self.epoch = e["epoch"]
            self.step = 0
            self.ended_at = None
        elif kind == events.BATCH:
            self.epoch = e.get("epoch", self.epoch)
            self.step = e["step"]
            self.global_step = e.get("global_step", self.global_step)
            self._update_rate(e["t"], e.get("global_step", 0))
        elif kind == events.EPOCH_END:
            self.step = e.get("steps", self.step)
            self.ended_at = e.get("ended_at")
            if not self.steps and self._epoch_steps is None:
                self._epoch_steps = self.step
            self._update_rate(e["t"], e.get("global_step", 0))
        elif kind == events.FIT_END:
            self.stop_reason = e.get("reason")
            self._stand_still()
        elif kind == events.CONTROL:
            if e["action"] == "pause":
                self.pause_requested = True
            elif e["action"] in ("resume", "stop"):
                self.pause_requested = False
        elif kind == events.PAUSED:
            self.paused_since = e["t"]
            self.epoch, self.step = e.get("epoch", self.epoch), e.get("step", self.step)
            self.pause_requested = False
            self._stand_still()
        elif kind == events.RESUMED:
            self.paused_since = None
            self._rate_anchor = None  # a pause is not slowness
        elif kind == events.CHECKPOINT and e.get("ok"):
            self.last_checkpoint = e.get("path")
        elif kind == events.HANGUP:
            self.hung_up = True
        elif kind == events.RUN_END:
            self.exit_code = e.get("exit_code")
            self.error = e.get("error")
            self.ended = e["t"]
            self.state = e.get("state", self.state)
            self.paused_since = None
            self._stand_still()
        else:
            return
        self.version += 1

    def _stand_still(self) -> None:
        # Paused or ended: no speed to show, and the next one is measured afresh.
        self.steps_per_s = None
        self._rate_anchor = None

    def _update_rate(self, t: float, global_step: int) -> None:
        # Speed over the last few seconds: a smoothed rate, insensitive to the
        # batch-event sampling interval.
        if self._rate_anchor is None or global_step < self._rate_anchor[1]:
            self._rate_anchor = (t, global_step)
            return
        t0, s0 = self._rate_anchor
        if t - t0 >= 1.0 and global_step > s0:
            rate = (global_step - s0) / (t - t0)
            self.steps_per_s = rate if self.steps_per_s is None else 0.5 * self.steps_per_s + 0.5 * rate
            self._rate_anchor = (t, global_step)


@dataclass
class EpochRow:
    fit: int
    epoch: int
    seconds: float | None
    metrics: dict[str, Any] = field(default_factory=dict)
    ended_at: str | None = None  # "stopped at step 37/100" when the epoch was cut short


class MetricsState:
    """Epoch table and loss curves."""

    def __init__(self) -> None:
        self.version = 0
        # A week of 10-minute epochs is 1000 rows: the newest are kept, ``rows_total`` counts all.
        self.rows: collections.deque[EpochRow] = collections.deque(maxlen=EPOCH_HISTORY)
        self.rows_total = 0
        self.columns: list[str] = []  # every metric name seen, in order of appearance
        self.batch_loss: Downsampled = Downsampled()  # the whole run, downsampled
        self.epoch_loss: Downsampled = Downsampled()
        self.epoch_val_loss: Downsampled = Downsampled()
        self.evaluations: collections.deque[dict[str, Any]] = collections.deque(maxlen=EVALUATION_HISTORY)
        self.scalars: dict[tuple[str, str], Downsampled] = {}
        self.batch_loss_seen = False
        self.x_unit = "epoch"
        self._fit = 0
        self._epoch_offset = 0  # epochs of earlier fits, so curves of several fits follow on
        self._last_epoch = 0
        self._steps: int | None = None
        self._learned_steps: int | None = None  # steps per epoch, when fit did not know them

    def apply(self, e: Event) -> None:
        kind = e["type"]
        if kind == events.FIT_START:
            self._fit = e.get("fit", self._fit + 1)
            self._epoch_offset += self._last_epoch
            self._last_epoch = 0
            self._steps = e.get("steps")
            self._learned_steps = None
        elif kind == events.BATCH:
            loss = e.get("logs", {}).get("loss")
            if not isinstance(loss, (int, float)):
                return
            self.batch_loss_seen = True
            step, epoch = e.get("step", 0), e.get("epoch")
            if epoch is None:  # a custom loop that never names its epochs: x in steps
                self.x_unit = "step"
                x = e.get("global_step", step)
            else:
                # x in epochs (epoch 3, halfway = 2.5) so batch dots and epoch lines share an axis.
                per_epoch = self._steps or self._learned_steps or max(step, 1)
                x = round(self._epoch_offset + epoch - 1 + min(step / per_epoch, 1.0), 4)
            self.batch_loss.append((x, loss))
        elif kind == events.EPOCH_END:
            metrics = e.get("metrics", {})
            self.rows.append(EpochRow(self._fit, e["epoch"], e.get("seconds"), metrics, e.get("ended_at")))
            self.rows_total += 1
            for name in metrics:
                if name not in self.columns:
                    self.columns.append(name)
            self._last_epoch = e["epoch"]
            if self._learned_steps is None and e.get("steps"):
                self._learned_steps = e["steps"]
            x = self._epoch_offset + e["epoch"]
            if isinstance(metrics.get("loss"), (int, float)):
                self.epoch_loss.append((x, metrics["loss"]))
            if isinstance(metrics.get("val_loss"), (int, float)):
                self.epoch_val_loss.append((x, metrics["val_loss"]))
        elif kind == events.EVALUATE_END:
            self.evaluations.append(e.get("metrics", {}))
        elif kind == events.SCALAR:
            self._apply_scalar(e)
        else:
            return
        self.version += 1

    def _apply_scalar(self, e: Event) -> None:
        """tf.summary scalars: one series per (run, name), each on its own step axis."""
        value = e.get("value")
        if not isinstance(value, (int, float)):
            return
        key = (e.get("run") or "", e.get("name", "?"))
        series = self.scalars.get(key)
        if series is None:
            series = self.scalars[key] = Downsampled()
        series.append((e.get("step", len(series)), value))

    def curve_series(self) -> tuple[str, list[tuple[float, float]]]:
        """The x unit and the per-batch loss points for the curve: the batch events'
        loss, or, for a loop that reports only through tf.summary, its loss scalar."""
        if self.batch_loss_seen or not self.scalars:
            return self.x_unit, list(self.batch_loss)
        for (run, name), points in self.scalars.items():
            if "loss" in name:
                return "step", list(points)
        return self.x_unit, []


class LogLine(NamedTuple):
    stream: str
    text: str  # plain: no control sequence; a Python warning keeps its lines in one entry
    level: str | None = None
    ansi: str | None = None  # the same text with the script's colours (SGR only), if it had any


class LogState:
    """The script's output and TensorFlow's log lines, bounded.

    ``total`` counts every line ever added (a reader that has seen ``n`` shows the
    last ``total - n``); a line still being written (``partial``) is replaced in
    place by its next version, as a terminal redraws a progress bar."""

    def __init__(self, maxlen: int = LOG_HISTORY) -> None:
        self.version = 0
        self.lines: collections.deque[LogLine] = collections.deque(maxlen=maxlen)
        self.total = 0
        self.notices: list[tuple[str, str]] = []  # (severity, text) for toasts, consumed by the UI
        self._open: dict[str, int] = {}  # stream -> index (in ``total`` terms) of its unfinished line

    def _add(self, line: LogLine, partial: bool | None = None) -> None:
        index = self._open.pop(line.stream, None) if partial is not None else None
        first = self.total - len(self.lines)
        if index is not None and index >= first:
            self.lines[index - first] = line
        else:
            self.lines.append(line)
            self.total += 1
            index = self.total - 1
        if partial:
            self._open[line.stream] = index

    def open_indices(self) -> list[int]:
        """Indices (in ``total`` terms) of the lines still being written: they may change."""
        return list(self._open.values())

    def apply(self, e: Event) -> None:
        kind = e["type"]
        if kind == events.LOG:
            line = LogLine(e.get("stream", "stdout"), e.get("text", ""), e.get("level"), e.get("ansi"))
            self._add(line, e.get("partial"))
        elif kind == events.NOTICE:
            self.notices.append((e.get("severity", "information"), e.get("text", "")))
        elif kind in (events.TF_WARNING, events.MEMORY_WARNING):
            # Known TF warnings (with advice) and memory warnings: a toast and a log line.
            severity = e.get("severity", "warning")
            if severity == "info":
                return
            advice = f" → {e['advice']}" if e.get("advice") else ""
            text = f"{e.get('message', kind)}{advice}"
            self.notices.append(("error" if severity == "error" else "warning", text))
            self._add(LogLine("tfmon", f"warning: {text}", "warning"))
        elif kind == events.CHECKPOINT:
            text = describe.checkpoint(e, note=True)
            if e.get("ok"):
                self.notices.append(("information", text))
            else:
                self.notices.append(("error", text))
            self._add(LogLine("tfmon", text))
        elif kind == events.PREDICT_END:
            self._add(LogLine("tfmon", describe.predict(e)))
        else:
            return
        self.version += 1


class RunState:
    """Everything the UI shows, folded from events; sub-states by pane."""

    def __init__(self) -> None:
        self.info = RunInfo()
        self.metrics = MetricsState()
        self.log = LogState()
        self.placement = PlacementState()
        self.memory = MemoryState()
        self.verdict = VerdictState()
        self.events_seen = 0
        self.skipped = 0  # events that failed to fold
        self._skipped_told = 0
        self._handlers = (self.info, self.metrics, self.log, self.placement, self.memory, self.verdict)

    def apply(self, e: Event) -> None:
        self.events_seen += 1
        try:
            for handler in self._handlers:
                handler.apply(e)
        except Exception:
            # A recording may hold what tfmon.schema lets through and still cannot
            # fold: skip it, counted, rather than take the view down.
            self.skipped += 1

    def apply_all(self, batch: list[Event]) -> None:
        """Fold one drain. At high rates (a custom loop at 100k steps/s, a replay) a
        drain holds thousands of ``batch`` events, of which the screen can show a
        handful: an even sample of DRAIN_BATCH_SAMPLE of them is folded, the last one
        always (the header shows the latest; the curve is drawn at most a few
        hundred points wide). Other events are all folded, in order."""
        self._apply_all(batch)
        if self.skipped > self._skipped_told:
            self._skipped_told = self.skipped
            n = self.skipped
            text = f"tfmon: {n} event{'' if n == 1 else 's'} could not be shown (malformed) and {'was' if n == 1 else 'were'} skipped"
            self.log.apply(events.make(events.LOG, stream="tfmon", text=text))

    def _apply_all(self, batch: list[Event]) -> None:
        n = sum(1 for e in batch if e["type"] == events.BATCH)
        if n <= DRAIN_BATCH_SAMPLE:
            for e in batch:
                self.apply(e)
            return
        stride = n / DRAIN_BATCH_SAMPLE
        seen, next_kept = 0, 0.0
        for e in batch:
            if e["type"] == events.BATCH:
                seen += 1
                if seen < n and seen - 1 < next_kept:
                    self.events_seen += 1
                    continue
                next_kept += stride
            self.apply(e)

