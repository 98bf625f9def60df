"""The claims ledger (notebooks/claims.json) is only worth something if every verdict in it is
asserted by a cell of its chapter's notebook, so nbval fails when Django's behaviour changes."""

import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
LEDGER = json.loads((NOTEBOOKS / "claims.json").read_text())
CLAIMS = LEDGER["claims"]


def claim_cells(notebook: Path, claim_id: str) -> list[dict]:
    cells = json.loads(notebook.read_text())["cells"]
    return [c for c in cells if c["cell_type"] == "code" and f"claim:{claim_id}" in c.get("metadata", {}).get("tags", [])]


def test_claim_ids_are_unique():
    ids = [c["id"] for c in CLAIMS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("claim", CLAIMS, ids=[c["id"] for c in CLAIMS])
def test_claim_has_a_verdict_evidence_and_an_asserting_cell(claim):
    notebook = NOTEBOOKS / claim["notebook"]
    assert notebook.exists(), f"{claim['id']}: chapter notebook {claim['notebook']} is missing"
    assert claim["verdict"] in LEDGER["verdicts"], f"{claim['id']}: no verdict yet"
    assert claim["evidence"], f"{claim['id']}: no evidence"
    cells = claim_cells(notebook, claim["id"])
    assert cells, f"{claim['id']}: no cell in {claim['notebook']} is tagged claim:{claim['id']}"
    sources = ["".join(c["source"]) for c in cells]
    asserting = [
        s for s, c in zip(sources, cells)
        if "assert " in s or "raises-exception" in c["metadata"].get("tags", [])
    ]
    assert asserting, f"{claim['id']}: the tagged cells assert nothing"


@pytest.mark.parametrize("claim", CLAIMS, ids=[c["id"] for c in CLAIMS])
def test_claim_is_filed_under_its_chapters_notebook(claim):
    assert claim["notebook"].startswith(f"{claim['chapter']:02d}_"), claim


def test_the_notebooks_ledger_loader_reads_the_same_claims():
    from helpers.chapters import ch12_claims_ledger as ch12

    ledger = ch12.load_claims()
    assert [c.id for c in ledger.claims] == [c["id"] for c in CLAIMS]
    assert ledger.verdicts == LEDGER["verdicts"]
