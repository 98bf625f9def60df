"""Run Django's own ASGI and handler tests against the lab's FastASGIHandler (and stock).

    uv run python scripts/django_suite_with_fast_handler.py            # stock, then fast
    uv run python scripts/django_suite_with_fast_handler.py --only fast

Django's test suite ships in its source distribution, not in the wheel we install. This script
downloads the sdist of the exact Django version installed here from the package registry,
unpacks its ``tests/`` into a temporary folder (nothing of Django's is kept in this repo), and
runs ``tests/runtests.py asgi handlers`` twice: with Django's ASGIHandler, then with
``FastASGIHandler`` swapped in for it. The swap replaces the ``ASGIHandler`` name in
``django.core.handlers.asgi`` and ``django.core.asgi`` before any test module imports it, so
``get_asgi_application()`` and the suite's own ``class TestASGIHandler(ASGIHandler)``
subclasses both get the faster handler.

Exit status 0 only when the fast run passes and ran as many tests as the stock run.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_LABELS = ["asgi", "handlers"]

# Runs in the test process, before runtests.py: swap the handler in, and count what it serves.
BOOTSTRAP = r"""
import atexit, os, runpy, sys
if os.environ["LAB_SUITE_HANDLER"] == "fast":
    import django.core.asgi, django.core.handlers.asgi
    from lab_project.where_the_time_goes.fast_handler import FastASGIHandler
    django.core.handlers.asgi.ASGIHandler = FastASGIHandler
    django.core.asgi.ASGIHandler = FastASGIHandler
    served = []
    original_call = FastASGIHandler.__call__
    async def counting_call(self, scope, receive, send):
        served.append(scope["type"])
        return await original_call(self, scope, receive, send)
    FastASGIHandler.__call__ = counting_call
    atexit.register(lambda: print(f"lab: FastASGIHandler served {len(served)} ASGI calls", file=sys.stderr))
sys.argv = ["runtests.py", *sys.argv[1:]]
runpy.run_path("runtests.py", run_name="__main__")
"""


@dataclass
class SuiteResult:
    handler: str
    ran: int
    failed: int
    errors: int
    skipped: int
    ok: bool
    served: int | None

    @property
    def passed(self) -> int:
        return self.ran - self.failed - self.errors - self.skipped

    def line(self) -> str:
        served = f", the fast handler served {self.served} ASGI calls" if self.served is not None else ""
        return (
            f"{self.handler:>5} handler: {self.ran} ran, {self.passed} passed, {self.failed} failed, "
            f"{self.errors} errors, {self.skipped} skipped{served}"
        )


def installed_django_version() -> str:
    import django

    return django.__version__


def pip_download_command() -> list[str]:
    """pip from this environment if it has one, else a throw-away one through uv."""
    try:
        import pip  # noqa: F401

        return [sys.executable, "-m", "pip"]
    except ImportError:
        return ["uv", "run", "--no-sync", "--with", "pip", "python", "-m", "pip"]


def download_tests(version: str, into: Path) -> Path:
    """Fetch Django's sdist and unpack only its tests/ folder; return that folder."""
    command = [*pip_download_command(), "download", f"django=={version}", "--no-binary", ":all:", "--no-deps",
               "--quiet", "-d", str(into)]  # fmt: skip
    subprocess.run(command, cwd=ROOT, check=True)
    (archive,) = into.glob("[Dd]jango-*.tar.gz")
    prefix = f"{archive.name.removesuffix('.tar.gz')}/tests/"
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
        tar.extractall(into, members=members, filter="data")
    return into / prefix


def run_suite(tests_dir: Path, handler: str, verbosity: int) -> SuiteResult:
    env = dict(os.environ)
    env["LAB_SUITE_HANDLER"] = handler
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("DJANGO_SETTINGS_MODULE", None)  # runtests.py picks its own test settings
    command = [sys.executable, "-c", BOOTSTRAP, *TEST_LABELS, "--parallel", "1", f"-v{verbosity}"]
    print(f"\n== Django's tests/{' tests/'.join(TEST_LABELS)} with the {handler} handler", flush=True)
    completed = subprocess.run(command, cwd=tests_dir, env=env, capture_output=True, text=True, check=False)
    output = completed.stdout + completed.stderr
    print(output.rstrip())
    return parse_result(handler, output, completed.returncode)


def parse_result(handler: str, output: str, returncode: int) -> SuiteResult:
    ran = re.search(r"^Ran (\d+) tests?", output, re.MULTILINE)
    summary = re.search(r"^(OK|FAILED)(?: \((.*)\))?$", output, re.MULTILINE)
    counts = dict.fromkeys(("failures", "errors", "skipped"), 0)
    if summary and summary.group(2):
        for part in summary.group(2).split(","):
            key, _, value = part.strip().partition("=")
            if key in counts:
                counts[key] = int(value)
    served = re.search(r"FastASGIHandler served (\d+) ASGI calls", output)
    return SuiteResult(
        handler=handler,
        ran=int(ran.group(1)) if ran else 0,
        failed=counts["failures"],
        errors=counts["errors"],
        skipped=counts["skipped"],
        ok=returncode == 0 and bool(summary) and summary.group(1) == "OK",
        served=int(served.group(1)) if served else None,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["stock", "fast"], help="run one handler only")
    parser.add_argument("--verbosity", type=int, default=1, choices=[0, 1, 2, 3])
    args = parser.parse_args()
    handlers = [args.only] if args.only else ["stock", "fast"]

    version = installed_django_version()
    with tempfile.TemporaryDirectory(prefix="lab-django-suite-") as folder:
        print(f"downloading the Django {version} sdist for its test suite ...", flush=True)
        tests_dir = download_tests(version, Path(folder))
        results = {handler: run_suite(tests_dir, handler, args.verbosity) for handler in handlers}

    print(f"\n== Django {version} tests/{' + tests/'.join(TEST_LABELS)}")
    for result in results.values():
        print(result.line())
    fast = results.get("fast")
    stock = results.get("stock")
    problems = []
    if fast is not None:
        if not fast.ok:
            problems.append("the run with FastASGIHandler failed")
        if not fast.served:
            problems.append("FastASGIHandler served no request: the swap did not take effect")
        if stock is not None and fast.ran != stock.ran:
            problems.append(f"the fast run ran {fast.ran} tests, the stock run {stock.ran}")
    if stock is not None and not stock.ok:
        problems.append("the run with Django's own handler failed (this environment, not the lab)")
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
