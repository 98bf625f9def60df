"""Chapter 18: the playground itself is tested in tests/library/test_playground.py; here, what the
chapter promises about the other notebooks — each earlier chapter has a "try it yourself" cell that
mounts a view of its own on the running server, before the server stops."""

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
WITH_A_TRY_CELL = ["00", "01", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "14", "15", "16"]


@pytest.mark.parametrize("number", WITH_A_TRY_CELL)
def test_each_chapter_has_a_try_it_yourself_cell_before_the_server_stops(number):
    [path] = NOTEBOOKS.glob(f"{number}_*.ipynb")
    cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    tries = [i for i, c in enumerate(cells) if c.source.startswith("# try it yourself")]
    assert len(tries) == 1, f"{path.name}: expected one 'try it yourself' cell"
    source = cells[tries[0]].source
    assert "@server.view(" in source or "@server.consumer(" in source
    stops = [i for i, c in enumerate(cells) if "await server.stop()" in c.source and i != tries[0]]
    assert all(tries[0] < i for i in stops), f"{path.name}: the try cell must run before the server stops"
