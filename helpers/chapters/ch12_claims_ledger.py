"""The claims ledger: every claim the lab settles, read from ``notebooks/claims.json``.

A claim counts as settled when it has a verdict, evidence, and at least one code cell in its
chapter's notebook tagged ``claim:<id>`` that asserts (so nbval fails if the behaviour changes).
``tests/chapters/test_12_claims_ledger.py`` applies the same rule.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Claim", "ClaimsLedger", "load_claims"]

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@dataclass(frozen=True)
class Claim:
    id: str
    chapter: int
    notebook: str
    claim: str
    verdict: str | None
    evidence: str | None


def _asserting_cells(notebook: dict, claim_id: str) -> list[dict]:
    tagged = [
        cell
        for cell in notebook.get("cells", [])
        if cell.get("cell_type") == "code" and f"claim:{claim_id}" in cell.get("metadata", {}).get("tags", [])
    ]
    return [
        cell
        for cell in tagged
        if "assert " in "".join(cell.get("source", [])) or "raises-exception" in cell["metadata"].get("tags", [])
    ]


class ClaimsLedger:
    """The ledger as a table: ``display(ledger)`` renders it; ``problems()`` lists what is missing."""

    def __init__(self, claims: list[Claim], verdicts: list[str], folder: Path) -> None:
        self.claims = claims
        self.verdicts = verdicts
        self.folder = folder

    def __len__(self) -> int:
        return len(self.claims)

    def problems(self) -> dict[str, list[str]]:
        """Claim id → what keeps it from counting as settled (claims with nothing missing are left out)."""
        notebooks: dict[str, dict | None] = {}
        found: dict[str, list[str]] = {}
        for claim in self.claims:
            missing = []
            if claim.verdict not in self.verdicts:
                missing.append("no verdict")
            if not claim.evidence:
                missing.append("no evidence")
            if claim.notebook not in notebooks:
                path = self.folder / claim.notebook
                notebooks[claim.notebook] = json.loads(path.read_text()) if path.exists() else None
            notebook = notebooks[claim.notebook]
            if notebook is None:
                missing.append(f"{claim.notebook} does not exist")
            elif not _asserting_cells(notebook, claim.id):
                missing.append(f"no cell in {claim.notebook} tagged claim:{claim.id} asserts it")
            if missing:
                found[claim.id] = missing
        return found

    def counts(self) -> dict[str, int]:
        """How many claims got each verdict (``None``: not settled yet)."""
        counts: dict[str, int] = {}
        for claim in self.claims:
            key = claim.verdict or "none yet"
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items()))

    def chapter(self, number: int) -> list[Claim]:
        return [c for c in self.claims if c.chapter == number]

    def markdown(self) -> str:
        rows = ["| id | chapter | claim | verdict | evidence |", "|---|---|---|---|---|"]
        for c in self.claims:
            cells = [c.id, str(c.chapter), c.claim, c.verdict or "—", c.evidence or "—"]
            rows.append("| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |")
        return "\n".join(rows)

    def _repr_html_(self) -> str:
        colour = {"true": "#d8f0d8", "false": "#f6d6d6", "partly true": "#f7ecc8"}
        head = "".join(f"<th style='text-align:left'>{h}</th>" for h in ("id", "ch.", "claim", "verdict", "evidence"))
        rows = []
        for c in self.claims:
            shade = colour.get(c.verdict or "", "#eeeeee")
            rows.append(
                "<tr>"
                f"<td><code>{html.escape(c.id)}</code></td><td>{c.chapter}</td>"
                f"<td style='text-align:left'>{html.escape(c.claim)}</td>"
                f"<td style='background:{shade}'><b>{html.escape(c.verdict or '—')}</b></td>"
                f"<td style='text-align:left'>{html.escape(c.evidence or '—')}</td>"
                "</tr>"
            )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"

    def __repr__(self) -> str:
        return f"<ClaimsLedger {len(self.claims)} claims, {self.counts()}>"


def load_claims(path: str | Path | None = None) -> ClaimsLedger:
    """Read the ledger (default ``notebooks/claims.json``); notebooks are looked up beside it."""
    path = Path(path) if path is not None else NOTEBOOKS / "claims.json"
    data = json.loads(path.read_text())
    claims = [Claim(**{key: entry.get(key) for key in Claim.__dataclass_fields__}) for entry in data["claims"]]
    return ClaimsLedger(claims, list(data["verdicts"]), path.parent)
