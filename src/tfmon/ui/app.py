"""The Textual app: header, panes, footer; pulls events from its source at 10 Hz."""

from __future__ import annotations

import time
from pathlib import Path

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.css.query import NoMatches
from textual.widgets import Footer, Input, Static

from tfmon.state import RunState
from tfmon.ui.fallback_pane import FallbackPane
from tfmon.ui.header import Header
from tfmon.ui.memory_pane import MemoryPane
from tfmon.ui.placement_pane import PlacementPane
from tfmon.ui.protocols import Pane, Source
from tfmon.ui.log_pane import LogPane
from tfmon.ui.metrics_pane import MetricsPane
from tfmon.ui.screens import HelpScreen, interrupt_screen, quit_idle_screen, quit_screen

PANES = ("metrics", "placement", "fallbacks", "memory", "log")
TITLES = {
    "metrics": "Metrics",
    "placement": "Placement",
    "fallbacks": "Fallbacks",
    "memory": "Memory",
    "log": "Log",
}
TICK = 0.1  # seconds between two pulls of events (and header redraws)
# Panes redraw at most this often, and only those on screen: rendering competes
# with the training for the same cores (profiled: a DataTable repaint per tick
# cost more than all the rest together).
PANE_INTERVAL = 0.5
COMPACT_WIDTH, COMPACT_HEIGHT = 120, 36
DOUBLE_CTRL_C = 3.0
IDLE_LOOP_NOTE = ("if the script starts one. A loop of its own without tfmon.step() has no batch "
                  "tfmon can act at (docs/custom-loops.md): s or q interrupt the script")


def _pane_widget(name: str) -> Pane:
    widget_class = {
        "metrics": MetricsPane,
        "placement": PlacementPane,
        "fallbacks": FallbackPane,
        "memory": MemoryPane,
        "log": LogPane,
    }[name]
    return widget_class(id=f"pane-{name}-body")


class PaneBox(Vertical):
    """A bordered pane; which panes show is decided by classes on #panes."""


class TfmonApp(App[int]):
    CSS_PATH = "tfmon.tcss"
    TITLE = "tfmon"
    BINDINGS = [
        Binding("p", "toggle_pause", "Pause"),
        Binding("space", "toggle_pause", "Pause", show=False),
        Binding("c", "checkpoint", "Checkpoint"),
        Binding("s", "stop", "Stop"),
        Binding("q", "quit_tfmon", "Quit"),
        Binding("ctrl+c", "interrupt", "Stop", show=False, priority=True),
        Binding("question_mark", "help", "Help"),
        Binding("tab", "cycle_pane(1)", "Next pane", show=False, priority=True),
        Binding("shift+tab", "cycle_pane(-1)", "Prev pane", show=False, priority=True),
        Binding("m", "toggle_maximize", "Max"),
        Binding("l", "toggle_log", "Log", show=False),
        *[Binding(str(i + 1), f"show_pane('{name}')", TITLES[name], show=False) for i, name in enumerate(PANES)],
        *[Binding(f"f{i + 1}", f"show_pane('{name}')", TITLES[name], show=False) for i, name in enumerate(PANES)],
    ]

    def __init__(self, source: Source, job=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.job = job  # the LiveRun whose script this app runs in a worker thread
        self.state = RunState()
        self.current = "metrics"
        self.maximized = False
        self._panes: dict[str, Pane] = {}
        self._last_ctrl_c = 0.0
        self._notified_fallbacks = 0
        self._shown_failure = False
        self._shown_end = False
        self._panes_at = 0.0
        self._panes_due = True
        self._final_drawn = False
        self.first_frame_at: float | None = None
        self.quitting: str | None = None  # the quit dialog's answer, for what is said after the UI

    def compose(self) -> ComposeResult:
        yield Header(attached=self.source.attached, id="header")
        yield Static(id="pane-tabs")
        with Container(id="panes"):
            for name in PANES:
                box = PaneBox(id=f"pane-{name}", classes="pane")
                box.border_title = f"{PANES.index(name) + 1} {TITLES[name]}"
                with box:
                    widget = _pane_widget(name)
                    self._panes[name] = widget
                    yield widget
        yield Footer()

    def on_mount(self) -> None:
        self._apply_layout()
        self._tick()
        self.set_interval(TICK, self._tick)
        self.call_after_refresh(self._first_frame)

    def _first_frame(self) -> None:
        self.first_frame_at = time.time()
        # Started only now: TensorFlow's import holds the GIL and would delay the
        # first frame (measured: 0.63 -> 0.37 s to the first frame).
        if self.job is not None:
            self.run_worker(self.job.run_job, thread=True, name="script", exit_on_error=False)

    # -- the pull loop
    def _tick(self) -> None:
        batch = self.source.drain()
        state = self.state
        if batch:
            state.apply_all(batch)
        try:
            header = self.query_one(Header)
        except NoMatches:  # the app is shutting down
            return
        now = time.monotonic()
        due = self._panes_due or now - self._panes_at >= PANE_INTERVAL
        if state.info.exit_code is not None and not self._final_drawn:
            self._final_drawn = due = True  # the final figures, without waiting
        with self.batch_update():
            header.update_from(state)
            if due:
                self._panes_at, self._panes_due = now, False
                self._update_panes()
        self._notify_news()

    def _update_panes(self) -> None:
        """Redraw the panes on screen; a hidden pane catches up when it is shown."""
        state = self.state
        subs = {
            "metrics": state.metrics,
            "placement": state.placement,
            "fallbacks": (state.placement, state.verdict),
            "memory": state.memory,
            "log": state.log,
        }
        panes = self.query_one("#panes")
        single = panes.has_class("single")
        for name, widget in self._panes.items():
            hidden = (single and name != self.current) or (name == "log" and panes.has_class("-log-hidden"))
            if not hidden:
                sub = subs[name]
                widget.update_from(*(sub if isinstance(sub, tuple) else (sub,)))

    def _notify_news(self) -> None:
        state = self.state
        for severity, text in state.log.notices:
            self.notify(text, severity=severity, timeout=6)
        state.log.notices.clear()
        count = state.placement.fallback_count
        if count and not self._notified_fallbacks:
            self.notify(f"{count} op(s) fell back to the CPU: see the Fallbacks pane (3)", severity="warning", timeout=8)
        self._notified_fallbacks = count
        info = state.info
        if info.state == "failed" and not self._shown_failure:
            self._shown_failure = True
            how = f"exit {info.exit_code}" if info.exit_code is not None else "its process died"
            self.notify(
                f"the script failed ({how}): traceback in the Log pane; q quits",
                severity="error",
                timeout=15,
            )
            self.action_show_pane("log")
        elif info.state == "finished" and not self._shown_end and info.exit_code is not None:
            self._shown_end = True
            self.notify("the script finished; q quits", timeout=8)

    # -- layout
    def _apply_layout(self) -> None:
        panes = self.query_one("#panes")
        compact = self.size.width < COMPACT_WIDTH or self.size.height < COMPACT_HEIGHT
        panes.set_class(compact or self.maximized, "single")
        for name in PANES:
            self.query_one(f"#pane-{name}").set_class(name == self.current, "current")
        tabs = " ".join(
            f"[reverse] {i + 1} {TITLES[n]} [/]" if n == self.current else f" {i + 1} {TITLES[n]} "
            for i, n in enumerate(PANES)
            if n != "log" or not panes.has_class("-log-hidden")
        )
        self.query_one("#pane-tabs", Static).update(tabs)
        self.query_one("#pane-tabs").display = panes.has_class("single")
        self._panes_due = True  # a pane that just appeared is drawn at the next tick

    def on_resize(self) -> None:
        self._apply_layout()

    def action_show_pane(self, name: str) -> None:
        self.current = name
        panes = self.query_one("#panes")
        if name == "log":
            panes.remove_class("-log-hidden")
        self._apply_layout()
        widget = self._panes[name]
        # Focus the pane's table or log, never a text input: digits and letters
        # must keep switching panes.
        candidates = [widget, *widget.query("*")]
        target = next((w for w in candidates if w.focusable and not isinstance(w, Input)), None)
        if target is not None:
            target.focus()

    def action_cycle_pane(self, step: int) -> None:
        if self.screen is not self.screen_stack[0]:  # a dialog or the help is open
            return
        visible = [n for n in PANES if n != "log" or not self.query_one("#panes").has_class("-log-hidden")]
        index = visible.index(self.current) if self.current in visible else 0
        self.action_show_pane(visible[(index + step) % len(visible)])

    def action_toggle_maximize(self) -> None:
        self.maximized = not self.maximized
        self._apply_layout()

    def action_toggle_log(self) -> None:
        panes = self.query_one("#panes")
        panes.toggle_class("-log-hidden")
        if panes.has_class("-log-hidden") and self.current == "log":
            self.current = "metrics"
        self._apply_layout()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    # -- control keys
    @property
    def training(self) -> bool:
        info = self.state.info
        return info.state in ("starting", "running", "paused", "stopping") and info.exit_code is None

    def _send(self, action: str) -> bool:
        if not self.source.can_control:
            self.notify("this is a recording: it cannot be controlled", severity="warning")
            return False
        if not self.training:
            self.notify("the run has ended", severity="warning")
            return False
        self.source.send(action)
        return True

    def action_toggle_pause(self) -> None:
        if self._send("toggle_pause"):
            idle = self.state.info.between_fits()
            if idle and not self.state.info.pause_requested and self.state.info.paused_since is None:
                self.notify(f"{idle}: the pause takes effect at the next batch of one, {IDLE_LOOP_NOTE}",
                            severity="warning", timeout=10)

    def action_checkpoint(self) -> None:
        if self._send("checkpoint"):
            idle = self.state.info.between_fits()
            if idle:
                self.notify(f"{idle}: the checkpoint is saved at the next batch of one, {IDLE_LOOP_NOTE}",
                            severity="warning", timeout=10)
            else:
                self.notify("checkpoint requested: saved at the next batch boundary", timeout=3)

    def action_stop(self) -> None:
        idle = self.state.info.between_fits()
        if idle and self.training and self.job is not None:
            # No batch to stop at (fit has ended, or the script trains in a loop tfmon
            # does not see): what is left is to interrupt the script.
            self.push_screen(interrupt_screen(idle), self._on_interrupt_choice)
            return
        if self._send("stop"):
            self.notify("stopping: fit ends after this batch, the script goes on", timeout=4)

    def _on_interrupt_choice(self, choice: str | None) -> None:
        if choice == "interrupt" and self.job is not None:
            self.job.interrupt_job()

    def action_quit_tfmon(self) -> None:
        if self.source.attached or not self.source.can_control or not self.training:
            self.exit(0)
            return
        idle = self.state.info.between_fits()
        if idle and self.job is not None:
            self.push_screen(quit_idle_screen(idle), self._on_quit_choice)
        else:
            self.push_screen(quit_screen(), self._on_quit_choice)

    def _on_quit_choice(self, choice: str | None) -> None:
        # Quit ends the script's training: the gate raises KeyboardInterrupt in it at
        # the next batch boundary (after the checkpoint), so no later fit trains.
        self.quitting = choice if choice != "cancel" else None
        if choice == "checkpoint":
            self.source.send("checkpoint")
            self.source.send("quit")
            self.exit(0)
        elif choice == "stop":
            self.source.send("quit")
            self.exit(0)
        elif choice == "interrupt" and self.job is not None:
            self.job.interrupt_job()
            self.exit(0)

    def action_interrupt(self) -> None:
        now = time.monotonic()
        if not self.training or not self.source.can_control or self.source.attached:
            self.exit(0)  # leaving an attached view never stops the run
            return
        if now - self._last_ctrl_c <= DOUBLE_CTRL_C or (self.state.info.between_fits() and self.job is not None):
            # Twice, or nothing to stop at a batch: interrupt, as Ctrl+C under python does.
            if self.job is not None:
                self.job.interrupt_job()
            self.exit(130)
            return
        self._last_ctrl_c = now
        self.source.send("checkpoint")
        self.source.send("stop")
        self.notify("Ctrl+C: stopping with a checkpoint. Ctrl+C again within 3 s interrupts the script.", severity="warning", timeout=4)
