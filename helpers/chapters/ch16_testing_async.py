"""Run chapter 16's example tests in a separate process and read back what they saw.

Django's test runner creates (and destroys) a test database and rewires settings for the whole
process; a notebook kernel that also serves the lab's own database should not host that. So
each run gets a process of its own, a throw-away data folder (its SQLite test database lives
there) and its own Redis key prefix. The tests append their observations to a JSON-lines file
(``lab_project/testing_async/observations.py``), which comes back with the verdicts.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from lab_project.testing_async.observations import OBSERVATIONS_ENV

__all__ = [
    "DJANGO_EXAMPLES",
    "PYTEST_EXAMPLES",
    "TestRun",
    "django_results",
    "pytest_results",
    "run_django_tests",
    "run_pytest",
]

ROOT = Path(__file__).resolve().parents[2]
DJANGO_EXAMPLES = "lab_project.testing_async.example_tests"
PYTEST_EXAMPLES = "lab_project/testing_async/example_pytest.py"

# "test_x (package.module.Class.test_x) ... ok" (Django's runner at -v 2)
_DJANGO_LINE = re.compile(r"^(test\w*) \([\w.]+\.(\w+)\.\1\)(?:\n.*?)? \.\.\. (ok|FAIL|ERROR|skipped.*|expected failure|unexpected success)$", re.M)
# "path.py::test_x PASSED [ 50%]" (pytest -v)
_PYTEST_LINE = re.compile(r"::(test\w*) (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)")


@dataclass
class TestRun:
    """One run of a test command: each test's verdict, the observations, the full output."""

    __test__ = False  # a result, not a test class: pytest must not collect it

    command: list[str]
    returncode: int
    output: str
    seconds: float
    results: dict[str, str] = field(default_factory=dict)  # "Class.test" or "test" -> verdict
    observations: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and bool(self.results) and all(v in {"ok", "PASSED"} for v in self.results.values())

    def report(self) -> str:
        return "\n".join(f"{verdict:<6} {name}" for name, verdict in self.results.items())

    def observed(self, test: str) -> dict:
        """The observation recorded under ``test`` (its label, see observations.observe)."""
        matches = [o for o in self.observations if o["test"] == test]
        if len(matches) != 1:
            raise LookupError(f"{len(matches)} observations named {test!r}; have {[o['test'] for o in self.observations]}")
        return {k: v for k, v in matches[0].items() if k != "test"}


async def _run(command: list[str], *, timeout: float) -> TestRun:
    with tempfile.TemporaryDirectory(prefix="lab-ch16-") as folder:
        observations = Path(folder) / "observations.jsonl"
        env = {
            **os.environ,
            "LAB_DATA_DIR": folder,  # the test database goes here, never next to the lab's own
            "LAB_REDIS_PREFIX": f"labch16x{os.getpid()}",
            OBSERVATIONS_ENV: str(observations),
            "DJANGO_SETTINGS_MODULE": "lab_project.settings",
        }
        env.pop("DATABASE_URL", None)  # always the throw-away SQLite file: a run must not touch a shared server
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            *command, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise TimeoutError(f"{' '.join(command)} did not finish in {timeout:g} s") from None
        lines = observations.read_text().splitlines() if observations.exists() else []
        return TestRun(
            command=command,
            returncode=process.returncode,
            output=output.decode(errors="replace"),
            seconds=time.perf_counter() - started,
            observations=[json.loads(line) for line in lines],
        )


def django_results(output: str) -> dict[str, str]:
    """Each test's verdict from Django's runner output at ``-v 2``, keyed "Class.test"."""
    return {f"{cls}.{test}": verdict for test, cls, verdict in _DJANGO_LINE.findall(output)}


def pytest_results(output: str) -> dict[str, str]:
    """Each test's verdict from ``pytest -v`` output, keyed by the test's name."""
    return dict(_PYTEST_LINE.findall(output))


async def run_django_tests(label: str = DJANGO_EXAMPLES, *, timeout: float = 240) -> TestRun:
    """``python -m django test <label> -v 2`` in a fresh process; results keyed "Class.test"."""
    run = await _run([sys.executable, "-m", "django", "test", label, "-v", "2", "--noinput"], timeout=timeout)
    run.results = django_results(run.output)
    return run


async def run_pytest(path: str = PYTEST_EXAMPLES, *, timeout: float = 240) -> TestRun:
    """``python -m pytest <path> -v`` in a fresh process (the lab's pytest settings apply)."""
    run = await _run([sys.executable, "-m", "pytest", path, "-v", "--color=no"], timeout=timeout)
    run.results = pytest_results(run.output)
    return run
