"""The notebook library's public surface, pinned (as httpx's tests/test_exported_members.py does).

``helpers.__all__`` is what several chapters share; each concern package lists its own. A name
added or dropped without updating ``__all__`` fails here, so the surface only changes on purpose.
"""

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import helpers

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["helpers", "helpers.server", "helpers.clients", "helpers.measure", "helpers.testing"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_unique_and_importable(name):
    package = importlib.import_module(name)
    exported = package.__all__
    assert exported == sorted(exported), f"{name}.__all__ is not sorted"
    assert len(exported) == len(set(exported))
    for member in exported:
        assert hasattr(package, member), f"{name}.__all__ names {member!r}, which {name} does not define"


@pytest.mark.parametrize("name", PACKAGES)
def test_every_public_name_of_a_package_is_in_its_all(name):
    package = importlib.import_module(name)
    public = {
        member for member, value in vars(package).items()
        if not member.startswith("_") and not isinstance(value, type(helpers))  # sub-modules aside
    }
    assert public == set(package.__all__)


def test_the_top_level_api_stays_small():
    assert len(helpers.__all__) <= 30, "helpers/__init__ exports what several chapters share; chapter code goes to helpers.chapters"


def test_every_module_declares_its_all():
    for module in pkgutil.walk_packages(helpers.__path__, "helpers."):
        if module.name.endswith(".__main__"):
            continue  # running it is the point of it
        loaded = importlib.import_module(module.name)
        assert hasattr(loaded, "__all__") or module.ispkg and module.name in ("helpers.chapters", "helpers.bench"), module.name


def test_chapter_modules_are_named_after_their_notebook():
    """``chNN_<name>.py`` belongs to ``notebooks/NN_<name>.ipynb``; a chapter with a second module
    (chapter 12's ledger and its async-API inventory) keeps the number and says what it holds."""
    notebooks = {p.stem[:2]: p.stem for p in (ROOT / "notebooks").glob("*.ipynb")}
    for module in (ROOT / "helpers" / "chapters").glob("ch*.py"):
        number = module.stem[2:4]
        assert number in notebooks, f"{module.name}: there is no notebook {number}_*.ipynb"
        notebook = (ROOT / "notebooks" / f"{notebooks[number]}.ipynb").read_text()
        assert module.stem in notebook, f"{notebooks[number]}.ipynb never names {module.stem}: link or import it"


def test_tests_import_only_public_names():
    private = re.compile(r"^\s*(from|import) helpers(\.\w+)*\._\w+", re.M)
    offenders = [
        str(path.relative_to(ROOT)) for path in [*ROOT.glob("tests/**/*.py"), ROOT / "conftest.py"]
        if private.search(path.read_text())
    ]
    assert offenders == []
