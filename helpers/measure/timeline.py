"""When did each of several concurrent calls run? Record it, then draw it.

    timeline = lab.Timeline()
    await asyncio.gather(*(timeline.timed(f"call {i}", fetch(i)) for i in range(10)))
    timeline.plot(title="gather")

A span is a name with a start and an end in seconds since a common zero (t0) and an outcome
("ok", or the exception's type name). ``plot_timeline`` also takes spans that came from
elsewhere — such as the ``calls`` a view returns as JSON — as mappings with ``name``,
``start``, ``end`` (and optionally ``outcome``), so a server's own timings draw the same way.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["Span", "Timeline", "as_spans", "compare_timelines", "elapsed", "plot_timeline"]

T = TypeVar("T")

OUTCOME_COLOURS = {"ok": "tab:blue", "failed": "tab:red", "cancelled": "tab:gray", "CancelledError": "tab:gray"}
OTHER_COLOURS = ["tab:orange", "tab:purple", "tab:brown", "tab:olive", "tab:cyan"]


@dataclass(frozen=True)
class Span:
    name: str
    start: float
    end: float
    outcome: str = "ok"

    @property
    def duration(self) -> float:
        return self.end - self.start


# What the plotting functions accept: Spans, or JSON-like mappings and tuples from elsewhere.
SpanLike = Span | Mapping[str, Any] | tuple


class Timeline:
    """Spans of named calls, in seconds since the timeline was created (t0)."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self.t0 = clock()
        self._slots: list[Span | None] = []

    def now(self) -> float:
        """Seconds since t0."""
        return self._clock() - self.t0

    @contextlib.contextmanager
    def span(self, name: str) -> Iterator[None]:
        """Record the block as one span; an exception is recorded as its type name, then re-raised."""
        slot = len(self._slots)  # spans keep the order their calls began in
        self._slots.append(None)
        start, outcome = self.now(), "ok"
        try:
            yield
        except BaseException as exc:  # CancelledError included: a cancelled call is a fact to show
            outcome = type(exc).__name__
            raise
        finally:
            self._slots[slot] = Span(name, start, self.now(), outcome)

    async def timed(self, name: str, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` inside ``span(name)`` and return its result."""
        with self.span(name):
            return await awaitable

    @property
    def spans(self) -> list[Span]:
        """The finished spans, in the order they began."""
        return [span for span in self._slots if span is not None]

    @property
    def elapsed(self) -> float:
        """From the first start to the last end (0 with no spans)."""
        return elapsed(self.spans)

    def plot(self, *, title: str | None = None, ax: Any = None) -> Any:
        return plot_timeline(self.spans, title=title, ax=ax)


def as_spans(items: Iterable[SpanLike]) -> list[Span]:
    """Spans from ``Span`` objects, mappings (``name``/``start``/``end``[/``outcome``]) or tuples."""
    spans = []
    for item in items:
        if isinstance(item, Span):
            spans.append(item)
        elif isinstance(item, Mapping):
            outcome = str(item.get("outcome", "ok"))
            spans.append(Span(str(item["name"]), float(item["start"]), float(item["end"]), outcome))
        else:
            spans.append(Span(str(item[0]), float(item[1]), float(item[2]), *(str(x) for x in item[3:4])))
    return spans


def elapsed(spans: Iterable[SpanLike]) -> float:
    """Wall time covered by ``spans``: last end minus first start."""
    spans = as_spans(spans)
    return max(s.end for s in spans) - min(s.start for s in spans) if spans else 0.0


def plot_timeline(spans: Iterable[SpanLike], *, title: str | None = None, ax: Any = None) -> Any:
    """One horizontal bar per span, first call on top; returns the matplotlib Axes."""
    import matplotlib.pyplot as plt  # imported on use: most cells never plot

    spans = as_spans(spans)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.3 * max(len(spans), 3) + 1))
    colours = _colours(s.outcome for s in spans)
    for row, span in enumerate(spans):
        ax.barh(row, span.duration, left=span.start, height=0.6, color=colours[span.outcome])
    ax.set_yticks(range(len(spans)), [s.name for s in spans])
    ax.set_ylim(len(spans) - 0.5, -0.5)  # first span at the top
    ax.set_xlim(left=0)
    ax.set_xlabel("seconds since t0")
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(f"{title} — {elapsed(spans):.2f} s in all" if spans else title)
    if len(colours) > 1:
        handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colours.values()]
        ax.legend(handles, list(colours), loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return ax


def compare_timelines(timelines: Mapping[str, Iterable[SpanLike]], *, title: str | None = None) -> Any:
    """One timeline per entry, stacked on a shared time axis so their lengths compare at a glance."""
    import matplotlib.pyplot as plt

    groups = {label: as_spans(spans) for label, spans in timelines.items()}
    heights = [max(len(spans), 2) for spans in groups.values()]
    fig, axes = plt.subplots(
        len(groups), 1, sharex=True, squeeze=False,
        figsize=(8, 0.22 * sum(heights) + 1.0 * len(groups)), gridspec_kw={"height_ratios": heights},
    )
    for ax, (label, spans) in zip(axes[:, 0], groups.items()):
        plot_timeline(spans, title=label, ax=ax)
        ax.set_xlabel("")
    axes[-1, 0].set_xlabel("seconds since t0")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _colours(outcomes: Iterable[str]) -> dict[str, str]:
    colours: dict[str, str] = {}
    spare = iter(OTHER_COLOURS * 4)
    for outcome in outcomes:
        if outcome not in colours:
            colours[outcome] = OUTCOME_COLOURS.get(outcome) or next(spare)
    return colours
