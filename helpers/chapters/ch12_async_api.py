"""The async API inventory: Django's public async API, row by row, and the notebook cell that calls each.

``notebooks/async_api.json`` holds one row per API (the rows of
``shared/research/django61_async_surface.md``, re-checked against the installed Django). A row names

* ``coroutines``: the Django ``async def`` functions it covers, as ``module:qualname`` (``<locals>``
  for the related managers Django builds inside factory functions, exactly as ``__qualname__`` has it);
* ``objects``: other Django objects it covers (classes, decorators, exceptions), which only have to exist;
* ``source``: ``django/…py:line`` of each of them in the installed Django (checked, so a moved line shows);
* ``calls``: what proves a notebook calls it. Each entry is a regular expression, or
  ``{"call": regex, "in_cell_with": regex, "raw": bool}``; **every** entry must match some code cell.
  Matching runs on the cell's code with string literals and comments blanked out (so a
  ``hasattr(qs, "aget")`` list or a printed label never counts), unless the entry says ``"raw": true``
  (for names that only ever appear as strings: a setting, an environment variable, a middleware path).
  ``in_cell_with`` must match the same cell, to tell apart methods that share a name
  (``QuerySet.aget``, ``cache.aget``, ``session.aget``);
* ``via_app`` (optional): when the call sits in lab code a cell drives — ``{"file": path,
  "calls": [regex], "driven_by": [regex], "raw": bool}`` — the file must contain every call
  (strings blanked unless ``raw``) and some code cell must match every ``driven_by`` (raw text: a
  URL path is a string). Such a row counts as "called via lab code", not as "called";
* ``not_called_because`` (optional): why no notebook can call it.

``tests/chapters/test_12_async_api.py`` fails when a listed object is gone, when the installed Django
has a public ``async def`` the inventory neither lists nor ignores (``not_in_inventory`` says why
each ignored one is left out), or when a row is neither called nor explained.
"""

from __future__ import annotations

import ast
import html
import importlib
import inspect
import io
import json
import re
import tokenize
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "AsyncDef",
    "Cell",
    "Inventory",
    "Row",
    "RowCoverage",
    "django_async_defs",
    "django_definitions",
    "load_inventory",
    "notebook_code_cells",
    "update_sources",
    "visible_code",
]

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
INVENTORY = NOTEBOOKS / "async_api.json"


# --- the installed Django, read as source ------------------------------------------------------


@dataclass(frozen=True)
class AsyncDef:
    module: str
    qualname: str
    path: str  # relative to site-packages: django/…
    line: int

    @property
    def name(self) -> str:
        return f"{self.module}:{self.qualname}"


def _django_root() -> Path:
    import django

    return Path(django.__file__).resolve().parent


def _walk_definitions(tree: ast.AST):
    """(qualname, node, parent kind) for every def and class, qualnames spelled as ``__qualname__``."""

    def walk(node: ast.AST, prefix: str, parent: str):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                qualname = prefix + child.name
                yield qualname, child, parent
                if isinstance(child, ast.ClassDef):
                    yield from walk(child, qualname + ".", "class")
                else:
                    yield from walk(child, qualname + ".<locals>.", "function")
            else:
                yield from walk(child, prefix, parent)

    yield from walk(tree, "", "module")


_DEFINITIONS: dict[str, tuple[str, int, bool, str]] | None = None


def django_definitions() -> dict[str, tuple[str, int, bool, str]]:
    """``module:qualname`` → (path, line of the ``def``/``class``, is ``async def``, parent kind)
    for every function and class in the installed Django (cached: the install does not change)."""
    global _DEFINITIONS
    if _DEFINITIONS is None:
        root = _django_root()
        found: dict[str, tuple[str, int, bool, str]] = {}
        for path in sorted(root.rglob("*.py")):
            relative = path.relative_to(root.parent)
            module = ".".join(relative.with_suffix("").parts)
            module = module.removesuffix(".__init__")
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for qualname, node, parent in _walk_definitions(tree):
                found[f"{module}:{qualname}"] = (
                    relative.as_posix(), node.lineno, isinstance(node, ast.AsyncFunctionDef), parent
                )
        _DEFINITIONS = found
    return _DEFINITIONS


def django_async_defs() -> list[AsyncDef]:
    """Every ``async def`` Django declares at module or class level (a closure inside a function —
    a decorator's ``_view_wrapper`` — is not API). Private names (``_x``) are left out, dunders kept."""
    found = []
    for name, (path, line, is_async, parent) in django_definitions().items():
        module, qualname = name.split(":")
        leaf = qualname.rsplit(".", 1)[-1]
        if not is_async or parent == "function":
            continue
        if leaf.startswith("_") and not (leaf.startswith("__") and leaf.endswith("__")):
            continue
        found.append(AsyncDef(module, qualname, path, line))
    return found


def _ensure_django_apps() -> None:
    """Models (``django.contrib.auth.models``) import only once the app registry is ready."""
    from django.apps import apps

    if not apps.ready:
        import os

        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lab_project.settings")
        django.setup()


def _resolve(name: str):
    """Import ``module:qualname`` and walk to the object (``<locals>`` names cannot be imported)."""
    _ensure_django_apps()
    module, qualname = name.split(":")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


# --- the notebooks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    notebook: str
    index: int  # nb["cells"] index, markdown cells included
    raw: str  # the source as written
    code: str  # the source with strings and comments blanked out

    @property
    def where(self) -> str:
        return f"{self.notebook[:2]} cell {self.index}"


def visible_code(source: str) -> str:
    """The cell's code with string literals reduced to ``""`` and comments dropped, so that a name
    in a ``hasattr`` list, a printed label or a comment does not count as a call. IPython lines
    (``%magic``, ``!shell``) are dropped; if the cell does not tokenize, strings are removed by regex."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    text = "\n".join(lines) + "\n"
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return _strip_strings_by_regex(text)
    out: list[tokenize.TokenInfo] = []
    for token in tokens:
        if token.type == tokenize.COMMENT:
            continue
        if token.type == tokenize.STRING:
            token = token._replace(string='""')
        elif token.type == getattr(tokenize, "FSTRING_MIDDLE", -1):
            token = token._replace(string="")
        out.append(token)
    try:
        return tokenize.untokenize(out)
    except ValueError:
        return _strip_strings_by_regex(text)


def _strip_strings_by_regex(text: str) -> str:
    # Cruder than the tokenizer (a "#" inside a string cuts the line short), but never lets a string through.
    text = re.sub(r"(?s)('''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\\n])*'|\"(?:\\.|[^\"\\\n])*\")", '""', text)
    return re.sub(r"#.*", "", text)


def notebook_code_cells(folder: Path = NOTEBOOKS) -> list[Cell]:
    cells = []
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        notebook = json.loads(path.read_text())
        for index, cell in enumerate(notebook.get("cells", [])):
            if cell.get("cell_type") != "code":
                continue
            source = "".join(cell.get("source", []))
            cells.append(Cell(path.name, index, source, visible_code(source)))
    return cells


# --- the inventory ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    id: str
    section: str
    api: str
    added_in: str
    coroutines: list[str] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)
    source: list[str] = field(default_factory=list)
    calls: list = field(default_factory=list)
    via_app: dict | None = None
    not_called_because: str | None = None
    note: str | None = None

    def expected_source(self) -> list[str]:
        """``django/…py:line`` of each listed object, read from the installed Django now."""
        definitions = django_definitions()
        found = []
        for name in [*self.coroutines, *self.objects]:
            if name in definitions:
                path, line, _, _ = definitions[name]
                found.append(f"{path}:{line}")
        return found

    def missing_objects(self) -> list[str]:
        """Listed names the installed Django no longer has (or no longer has as ``async def``)."""
        definitions = django_definitions()
        missing = []
        for name in self.coroutines:
            if name not in definitions:
                missing.append(f"{name}: not defined")
            elif not definitions[name][2]:
                missing.append(f"{name}: no longer an async def")
            elif "<locals>" not in name and not _is_async_callable(_resolve(name)):
                missing.append(f"{name}: neither a coroutine nor an async generator function at run time")
        for name in self.objects:
            if name in definitions:
                continue
            try:
                _resolve(name)
            except (ImportError, AttributeError) as error:
                missing.append(f"{name}: {error}")
        return missing


def _is_async_callable(obj) -> bool:
    # ``async def`` with ``yield`` (AsyncPaginator.__aiter__, QuerySet.aiterator) is an async generator.
    return inspect.iscoroutinefunction(obj) or inspect.isasyncgenfunction(obj)


def _entry(entry) -> tuple[re.Pattern, re.Pattern | None, bool]:
    if isinstance(entry, str):
        return re.compile(entry), None, False
    context = entry.get("in_cell_with")
    return re.compile(entry["call"]), re.compile(context) if context else None, bool(entry.get("raw"))


def _label(entry) -> str:
    if isinstance(entry, str):
        return entry
    context = entry.get("in_cell_with")
    return entry["call"] + (f" (in a cell with {context})" if context else "")


@dataclass
class RowCoverage:
    row: Row
    cells: dict[str, list[Cell]]  # call entry → the cells that match it
    app_ok: bool | None  # via_app satisfied (None: the row has no via_app)
    app_cells: list[Cell]

    @property
    def missing_calls(self) -> list[str]:
        return [entry for entry, cells in self.cells.items() if not cells]

    @property
    def called(self) -> bool:
        """Every call entry matches a notebook code cell."""
        return bool(self.cells) and not self.missing_calls

    @property
    def status(self) -> str:
        if self.called:
            return "called"
        if self.app_ok:
            return "called via lab code"
        if self.row.not_called_because:
            return "not called (reason given)"
        return "not called"

    @property
    def where(self) -> list[str]:
        seen: dict[str, None] = {}
        for cells in (self.cells.values() if self.called else [self.app_cells]):
            for cell in cells:
                seen.setdefault(cell.where, None)
        return sorted(seen, key=lambda w: (w[:2], int(w.split()[-1])))


def _readable(pattern: str) -> str:
    """``\\.aget\\(|…`` → ``.aget()``: the method names a pattern looks for, for people to read."""
    names = re.findall(r"\\\.(\w+)\\\(", pattern) or re.findall(r"(?<![\\\w])([A-Za-z_]\w{3,})\\\(", pattern)
    if names:
        return "/".join(f"`{name}()`" for name in dict.fromkeys(names))
    return f"`{pattern}`"


def _shorten(where: list[str], keep: int = 6) -> str:
    return ", ".join(where[:keep]) + (f" (+{len(where) - keep} more)" if len(where) > keep else "")


class Inventory:
    def __init__(self, rows: list[Row], ignored: list[dict], path: Path) -> None:
        self.rows = rows
        self.ignored = ignored
        self.path = path

    def __len__(self) -> int:
        return len(self.rows)

    def coverage(self, cells: list[Cell] | None = None) -> list[RowCoverage]:
        cells = notebook_code_cells(self.path.parent) if cells is None else cells
        report = []
        for row in self.rows:
            matched: dict[str, list[Cell]] = {}
            for entry in row.calls:
                pattern, context, raw = _entry(entry)
                matched[_label(entry)] = [
                    cell for cell in cells
                    if pattern.search(cell.raw if raw else cell.code)
                    and (context is None or context.search(cell.raw))
                ]
            app_ok, app_cells = None, []
            if row.via_app:
                path = ROOT / row.via_app["file"]
                text = path.read_text() if path.exists() else ""
                code = text if row.via_app.get("raw") else visible_code(text)
                in_code = all(re.search(p, code) for p in row.via_app["calls"])
                drivers = [[c for c in cells if re.search(p, c.raw)] for p in row.via_app["driven_by"]]
                app_cells = sorted({c for found in drivers for c in found}, key=lambda c: (c.notebook, c.index))
                app_ok = in_code and all(drivers)
            report.append(RowCoverage(row, matched, app_ok, app_cells))
        return report

    def uninventoried(self) -> list[AsyncDef]:
        """Public ``async def`` in the installed Django that no row lists and no ignore rule covers."""
        listed = {name for row in self.rows for name in row.coroutines}
        rules = [re.compile(rule["pattern"]) for rule in self.ignored]
        return [
            d for d in django_async_defs()
            if d.name not in listed and not any(rule.fullmatch(d.name) for rule in rules)
        ]

    def counts(self, coverage: list[RowCoverage] | None = None) -> Counter:
        return Counter(c.status for c in (coverage or self.coverage()))

    def by_section(self, coverage: list[RowCoverage] | None = None) -> str:
        """A markdown table: per section, how many rows are called, called through lab code, explained, open."""
        coverage = coverage or self.coverage()
        columns = ["called", "called via lab code", "not called (reason given)", "not called"]
        rows = ["| section | rows | " + " | ".join(columns) + " |", "|---|---|" + "---|" * len(columns)]
        sections: dict[str, list[RowCoverage]] = {}
        for c in coverage:
            sections.setdefault(c.row.section, []).append(c)
        for section, items in sections.items():
            tally = Counter(c.status for c in items)
            rows.append(f"| {section} | {len(items)} | " + " | ".join(str(tally[k]) for k in columns) + " |")
        total = Counter(c.status for c in coverage)
        rows.append(f"| **all** | **{len(coverage)}** | " + " | ".join(f"**{total[k]}**" for k in columns) + " |")
        return "\n".join(rows)

    def markdown(self, coverage: list[RowCoverage] | None = None, only: set[str] | None = None) -> str:
        """One line per row: the API, where Django defines it, and the cells that call it (or why none)."""
        coverage = coverage or self.coverage()
        lines = ["| id | API | added in | status | where |", "|---|---|---|---|---|"]
        for c in coverage:
            if only is not None and c.status not in only:
                continue
            where = _shorten(c.where) if c.where else (c.row.not_called_because or "no cell calls " + ", ".join(_readable(m) for m in c.missing_calls))
            cells = [c.row.id, c.row.api, c.row.added_in, c.status, where]
            lines.append("| " + " | ".join(str(x).replace("|", "\\|").replace("\n", " ") for x in cells) + " |")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colour = {"called": "#d8f0d8", "called via lab code": "#e6f2d8", "not called (reason given)": "#f7ecc8", "not called": "#f6d6d6"}
        rows = []
        for c in self.coverage():
            where = _shorten(c.where) if c.where else (c.row.not_called_because or "no cell calls " + ", ".join(_readable(m) for m in c.missing_calls))
            rows.append(
                f"<tr><td><code>{html.escape(c.row.id)}</code></td><td style='text-align:left'>{html.escape(c.row.api)}</td>"
                f"<td>{html.escape(c.row.added_in)}</td><td style='background:{colour[c.status]}'>{c.status}</td>"
                f"<td style='text-align:left'>{html.escape(where)}</td></tr>"
            )
        head = "".join(f"<th style='text-align:left'>{h}</th>" for h in ("id", "API", "added in", "status", "where"))
        return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"

    def __repr__(self) -> str:
        return f"<Inventory {len(self.rows)} rows, {dict(sorted(self.counts().items()))}>"


def load_inventory(path: str | Path | None = None) -> Inventory:
    """Read ``notebooks/async_api.json`` (or ``path``); notebooks are looked up beside it."""
    path = Path(path) if path is not None else INVENTORY
    data = json.loads(path.read_text())
    fields = Row.__dataclass_fields__
    rows = [Row(**{key: value for key, value in entry.items() if key in fields}) for entry in data["rows"]]
    return Inventory(rows, list(data.get("not_in_inventory", [])), path)



def update_sources(path: Path = INVENTORY) -> list[str]:
    """Rewrite each row's ``source`` from the installed Django (after an upgrade moved lines);
    returns the ids that changed. Run it, then read the diff: a moved line is fine, a vanished object is not."""
    data = json.loads(path.read_text())
    inventory = load_inventory(path)
    changed = []
    for entry, row in zip(data["rows"], inventory.rows):
        expected = row.expected_source()
        if entry.get("source") != expected:
            entry["source"] = expected
            changed.append(row.id)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    return changed


def main(argv: list[str] | None = None) -> int:
    """``python -m helpers.chapters.ch12_async_api [--open] [--update-sources]``: the coverage report."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--open", action="store_true", help="list only the rows no cell calls")
    parser.add_argument("--update-sources", action="store_true", help="rewrite source lines from the installed Django")
    args = parser.parse_args(argv)
    if args.update_sources:
        print("sources updated:", ", ".join(update_sources()) or "none")
    inventory = load_inventory()
    coverage = inventory.coverage()
    print(inventory.by_section(coverage), end="\n\n")
    only = {"not called", "not called (reason given)"} if args.open else None
    print(inventory.markdown(coverage, only=only))
    unlisted = inventory.uninventoried()
    if unlisted:
        print("\npublic async def in Django that no row lists:", ", ".join(d.name for d in unlisted))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
