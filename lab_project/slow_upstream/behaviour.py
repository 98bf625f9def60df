"""What one call to the slow upstream should do, decided from its query string.

Kept apart from the view so the HTTP-client views of chapter 4 can validate the parameters
they forward with exactly the same rules, before making any call.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

from django.http import QueryDict

from lab_project.params import QueryParams, bad_parameter

# Statuses that may not carry a body; the upstream always answers with one.
BODYLESS_STATUSES = {204, 205, 304}
FAULTS = ("none", "invalid_json", "hang")
# A "hanging" upstream still gives up eventually, so a client without a timeout is stuck for
# minutes, not forever. A client that disconnects earlier cancels the view at once.
HANG_SECONDS = 300.0
PARAMETERS = ("name", "latency_ms", "jitter_ms", "seed", "status", "fail_rate", "fault")


@dataclass(frozen=True)
class Behaviour:
    name: str = "call"
    latency_ms: int = 100
    jitter_ms: int = 0
    seed: int | None = None
    status: int = 200
    fail_rate: float = 0.0
    fault: str = "none"

    @classmethod
    def from_query(cls, query: QueryDict, *, extra: tuple[str, ...] = ()) -> Behaviour:
        """Parse and check the upstream's parameters; ``extra`` names others the caller owns."""
        params = QueryParams(query, known=PARAMETERS + extra)
        status = params.integer("status", 200, low=200, high=599)
        if status in BODYLESS_STATUSES:
            raise bad_parameter("status", f"{status} cannot carry a body; pick another status")
        return cls(
            name=params.label("name", "call"),
            latency_ms=params.integer("latency_ms", 100, low=0, high=10_000),
            jitter_ms=params.integer("jitter_ms", 0, low=0, high=10_000),
            seed=params.integer("seed", None, low=0, high=2**31 - 1),
            status=status,
            fail_rate=params.number("fail_rate", 0.0, low=0.0, high=1.0),
            fault=params.choice("fault", "none", FAULTS),
        )

    def plan(self) -> Plan:
        """Draw this call's jitter and failure; with a seed the draw depends only on (seed, name)."""
        rng = random.Random(f"{self.seed}:{self.name}") if self.seed is not None else random.Random()
        # Both draws always happen, in this order, so one parameter never shifts the other's.
        jitter_ms = rng.uniform(0, self.jitter_ms)
        fails = rng.random() < self.fail_rate
        delay_ms = 0.0 if fails else self.latency_ms + jitter_ms
        return Plan(delay_ms=round(delay_ms, 3), fails=fails)

    def as_query(self) -> dict[str, str]:
        """The parameters that differ from the defaults, ready to forward."""
        defaults = Behaviour()
        return {k: str(v) for k, v in asdict(self).items() if v != getattr(defaults, k)}


@dataclass(frozen=True)
class Plan:
    delay_ms: float
    fails: bool

