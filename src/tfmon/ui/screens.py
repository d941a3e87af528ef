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
  q          quit (asks first while training runs)
  Ctrl+C     stop with a checkpoint; twice within 3 s: interrupt the script

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
    return ChoiceScreen(
        "Training is still running. Quit tfmon?",
        [
            ("checkpoint", "c", "Stop with a checkpoint, then quit"),
            ("stop", "s", "Stop without a checkpoint, then quit"),
            ("cancel", "n", "Cancel"),
        ],
    )


def interrupt_screen() -> ChoiceScreen:
    return ChoiceScreen(
        "Training has stopped but the script is still running. Interrupt it?",
        [("interrupt", "y", "Interrupt the script (KeyboardInterrupt)"), ("cancel", "n", "Cancel")],
    )
