"""Modal screens: help, quit confirmation, interrupt confirmation."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

KEYS_HELP = """\
[b]Training[/b] (served at the next batch boundary)
  p, space   pause / resume
  c          checkpoint now (run dir/checkpoints/)
  s          stop training: fit ends, the script goes on
  q          quit: ends the script's training (asks first: checkpoint?)
  Ctrl+C     stop with a checkpoint; twice within 3 s: interrupt the script

Only Model.fit and loops that call tfmon.step() have batch boundaries:
a loop of the script's own can be interrupted, not paused or saved.

[b]Panes[/b]
  1-5, F1-F5 show Metrics, Placement, Fallbacks, Memory, Log
  Tab        next pane          Shift+Tab  previous pane
  m          maximise the pane / back to all panes
  l          show / hide the log pane
  ?          this help

[b]Placement pane[/b]
  f  fallbacks only   /  search   b  by layer   o  sort order
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("question_mark,q,enter,escape", "dismiss", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("[b]tfmon keys[/b]", classes="title")
            yield Static(KEYS_HELP)
            yield Static("[dim]? / q / Enter closes[/dim]")

    def action_dismiss(self) -> None:
        self.dismiss(None)


class ChoiceScreen(ModalScreen[str]):
    """A question with a few answers, each also on a letter key (no Escape needed)."""

    def __init__(self, question: str, choices: list[tuple[str, str, str]]) -> None:
        # choices: (result, key, label)
        super().__init__()
        self.question = question
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.question, classes="title")
            for result, key, label in self.choices:
                yield Button(f"[{key}] {label}", id=f"choice-{result}")

    def on_key(self, event) -> None:
        for result, key, _ in self.choices:
            if event.key == key:
                event.stop()
                self.dismiss(result)
                return

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id.removeprefix("choice-"))


def quit_screen() -> ChoiceScreen:
    """Quit while a fit or a tfmon.step() loop trains: the script ends at its next batch."""
    return ChoiceScreen(
        "Training is still running. Quit ends it: at the next batch the script is\n"
        "interrupted (KeyboardInterrupt), so no later fit or step trains.",
        [
            ("checkpoint", "c", "Checkpoint, then interrupt the script and quit"),
            ("stop", "s", "Interrupt the script at the next batch and quit, no checkpoint"),
            ("cancel", "n", "Cancel"),
        ],
    )


def quit_idle_screen(why: str) -> ChoiceScreen:
    """Quit while the script runs outside any loop tfmon controls: nothing to checkpoint."""
    return ChoiceScreen(
        f"The script is still running, but {why}: tfmon cannot checkpoint it.\n"
        "Quit ends the script: it is interrupted now (KeyboardInterrupt).",
        [("interrupt", "y", "Interrupt the script and quit"), ("cancel", "n", "Cancel")],
    )


def interrupt_screen(why: str) -> ChoiceScreen:
    return ChoiceScreen(
        f"{why[0].upper()}{why[1:]}: nothing to stop at a batch, but the script is still running. "
        "Interrupt it?",
        [("interrupt", "y", "Interrupt the script (KeyboardInterrupt)"), ("cancel", "n", "Cancel")],
    )
