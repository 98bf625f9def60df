"""Matplotlib pictures of load results (offline: inline in a notebook, PNG files in lab-bench)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["plot_comparison", "plot_comparisons", "plot_stream_capacity", "plot_token_streams", "plot_wait_sweep"]

COLOURS = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]


def _pyplot():
    import matplotlib.pyplot as plt

    return plt


def plot_comparison(comparison: Any, *, ax: Any = None, title: str | None = None) -> Any:
    """Horizontal bars: requests per second for each run, labelled with p50 latency."""
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.6 + 0.55 * len(comparison.results)), layout="constrained")
    labels = list(comparison.results)
    rps = [comparison.results[label].throughput_rps for label in labels]
    bars = ax.barh(range(len(labels)), rps, color=COLOURS[: len(labels)])
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlabel("requests per second (higher is better)")
    ax.set_title(title or comparison.question, fontsize=10)
    for bar, label in zip(bars, labels):
        p50 = comparison.results[label].percentile(50)
        ax.annotate(f" p50 {p50:.0f} ms", (bar.get_width(), bar.get_y() + bar.get_height() / 2), va="center", fontsize=8)
    ax.margins(x=0.25)
    return ax.figure


def plot_comparisons(comparisons: Mapping[str, Any]) -> Any:
    """One panel per comparison, stacked."""
    plt = _pyplot()
    heights = [0.8 + 0.55 * len(c.results) for c in comparisons.values()]
    fig, axes = plt.subplots(len(comparisons), 1, figsize=(8, sum(heights)), layout="constrained", height_ratios=heights)
    for ax, (title, comparison) in zip(axes if len(comparisons) > 1 else [axes], comparisons.items()):
        plot_comparison(comparison, ax=ax, title=title)
    return fig


def plot_wait_sweep(waits_ms: Sequence[int], sweep: Sequence[Any]) -> Any:
    """Throughput against the I/O wait per request, one line per server."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    labels = list(sweep[0].results)
    for colour, label in zip(COLOURS, labels):
        ax.plot(waits_ms, [c.results[label].throughput_rps for c in sweep], "o-", color=colour, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("I/O wait per request (ms, log scale)")
    ax.set_ylabel("requests per second (log scale)")
    ax.set_title(f"{sweep[0].results[labels[0]].clients} concurrent clients, each request waiting on I/O", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return fig


def plot_token_streams(comparison: Any) -> Any:
    """Per stream, when its first token and its last arrived (streams sorted by first token)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(comparison.times), figsize=(10, 3.8), layout="constrained", sharex=True, sharey=True)
    for ax, (label, times) in zip(axes, comparison.times.items()):
        order = sorted(range(len(times.first_token_s)), key=lambda i: times.first_token_s[i])
        for row, i in enumerate(order):
            ax.plot([times.first_token_s[i], times.complete_s[i]], [row, row], color="tab:blue", lw=1.5)
        ax.plot([times.first_token_s[i] for i in order], range(len(order)), "|", color="tab:orange", label="first token")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("seconds since all streams were started")
    axes[0].set_ylabel("stream")
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle(
        f"{comparison.streams} token streams at once ({comparison.tokens} tokens, {comparison.delay_ms} ms apart)", fontsize=10
    )
    return fig


def plot_stream_capacity(capacities: Mapping[str, Any]) -> Any:
    """Streams asked for and streams held, per server."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 2.6), layout="constrained")
    labels = [c.server for c in capacities.values()]
    asked = [c.held.requested for c in capacities.values()]
    held = [c.held.held for c in capacities.values()]
    ax.barh(range(len(labels)), asked, color="lightgrey", label="streams asked for")
    ax.barh(range(len(labels)), held, color="tab:blue", label="streams held (first event arrived)")
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("open SSE streams (log scale)")
    ax.legend(fontsize=8)
    return fig
