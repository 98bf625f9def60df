"""helpers/measure/timeline.py: spans recorded in the order calls began, with outcomes, and drawn."""

from __future__ import annotations

import asyncio

import matplotlib
import pytest

from helpers import measure
from helpers.measure.timeline import as_spans, elapsed

matplotlib.use("Agg")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_spans_are_relative_to_t0_and_keep_the_order_they_began_in():
    clock = Clock()
    timeline = measure.Timeline(clock=clock)
    with timeline.span("outer"):
        clock.now = 101.0
        with timeline.span("inner"):
            clock.now = 101.5
        clock.now = 103.0
    assert timeline.spans == [measure.Span("outer", 0.0, 3.0), measure.Span("inner", 1.0, 1.5)]
    assert timeline.elapsed == 3.0
    assert timeline.spans[1].duration == 0.5


def test_an_exception_is_recorded_as_the_outcome_and_re_raised():
    timeline = measure.Timeline()
    with pytest.raises(KeyError), timeline.span("lookup"):
        raise KeyError("x")
    assert timeline.spans[0].outcome == "KeyError"


async def test_timed_returns_the_result_and_records_cancellation():
    timeline = measure.Timeline()

    async def answer():
        await asyncio.sleep(0.01)
        return 42

    assert await timeline.timed("answer", answer()) == 42
    task = asyncio.create_task(timeline.timed("slow", asyncio.sleep(10)))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [(s.name, s.outcome) for s in timeline.spans] == [("answer", "ok"), ("slow", "CancelledError")]


async def test_gathered_spans_overlap():
    timeline = measure.Timeline()
    await asyncio.gather(*(timeline.timed(f"call {i}", asyncio.sleep(0.05)) for i in range(5)))
    spans = timeline.spans
    assert [s.name for s in spans] == [f"call {i}" for i in range(5)]
    assert max(s.start for s in spans) < min(s.end for s in spans)


def test_spans_from_json_like_data():
    spans = as_spans([{"name": "a", "start": 0, "end": 1, "outcome": "failed"}, ("b", 0.5, 2), measure.Span("c", 1, 3)])
    assert spans == [measure.Span("a", 0, 1, "failed"), measure.Span("b", 0.5, 2), measure.Span("c", 1, 3)]
    assert elapsed(spans) == 3
    assert elapsed([]) == 0


def test_plot_timeline_draws_one_bar_per_span():
    import matplotlib.pyplot as plt

    ax = measure.plot_timeline([("a", 0, 1), ("b", 0, 2, "cancelled")], title="two")
    assert len(ax.patches) == 2
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    assert ax.get_title().startswith("two")
    assert ax.get_legend() is not None  # two outcomes: a legend says which colour is which
    plt.close(ax.figure)


def test_compare_timelines_shares_the_time_axis():
    import matplotlib.pyplot as plt

    figure = measure.compare_timelines({"slow": [("a", 0, 2)], "fast": [("a", 0, 0.2), ("b", 0, 0.2)]}, title="x")
    slow, fast = figure.axes
    assert slow.get_xlim() == fast.get_xlim()
    assert len(fast.patches) == 2
    plt.close(figure)
