"""The demo's voice: the narrated story (terminal + timeline) and its progress bars."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape

from kleptolab.lab.model import TimelineEvent, stable_text, terminal_text

__all__ = ["Narrator", "Tick", "bars"]

_STYLE = {"lab": "bold", "victim": "yellow", "attacker": "bold red", "defender": "cyan"}


class Narrator:
    """Prints the story line by line and keeps it as the report's timeline.

    The terminal shows each line's wall-clock offset and its volatile parts
    (:func:`~kleptolab.lab.model.volatile`); the timeline keeps the step number and
    the stable text, the offsets go to timings.json.
    """

    def __init__(self, console: Console | None) -> None:
        self.console = console
        self.start = time.perf_counter()
        self.timeline: list[TimelineEvent] = []
        self.offsets: list[float] = []

    def say(self, actor: str, text: str) -> None:
        offset = time.perf_counter() - self.start
        self.offsets.append(round(offset, 3))
        self.timeline.append(TimelineEvent(len(self.timeline) + 1, actor, stable_text(text)))
        if self.console is not None:
            style = _STYLE.get(actor, "")
            line = escape(terminal_text(text))
            self.console.print(f"[dim]{offset:6.1f}s[/] [{style}]{actor:>8}[/] {line}", markup=True,
                               highlight=False, soft_wrap=True)

    def stage(self, title: str) -> None:
        if self.console is not None:
            self.console.rule(f"[bold]{title}")


Tick = Callable[[str, int, int], None]


@contextmanager
def bars(console: Console | None) -> Iterator[Tick | None]:
    """Progress bars (:func:`kleptolab.ui.progress`: on a terminal only) while the demo narrates."""
    if console is None:
        yield None
        return
    from rich.progress import TaskID

    from kleptolab.ui import progress

    with progress() as bar:
        tasks: dict[str, TaskID] = {}

        def tick(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = bar.add_task(what, total=total)
            bar.update(tasks[what], completed=done, total=total)

        yield tick
