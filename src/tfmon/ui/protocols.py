"""What the app asks of its event source and of its panes.

The app never knows which source it has (a live run, a recording, a run it
attached to: ``tfmon.ui.sources``), nor which pane it is updating; these two
small protocols are all it relies on.
"""

from __future__ import annotations

from typing import Any, Protocol

from tfmon.events import Event


class Source(Protocol):
    """Where the app's events come from; pulled by the app's timer."""

    live: bool  # events still arrive
    can_control: bool  # the control keys reach a run
    attached: bool  # a run in another process: quitting leaves it going

    def drain(self) -> list[Event]:
        """The events that arrived since the last call, in order."""
        ...

    def send(self, action: str) -> None:
        """Ask the run to pause, resume, checkpoint or stop (keys p, c, s, q)."""
        ...


class Pane(Protocol):
    """A pane's body: redrawn from the views of ``tfmon.state.RunState`` it shows.

    ``drawn_version`` is what the pane last drew (its view's ``version``): an
    update with the same version costs nothing.
    """

    drawn_version: Any

    def update_from(self, *views: Any) -> None: ...
