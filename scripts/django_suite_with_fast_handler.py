"""Run Django's own tests against the lab's FastASGIHandler and LeanASGIHandler (and stock).

    uv run python scripts/django_suite_with_fast_handler.py              # stock+fast, stock+lean
    uv run python scripts/django_suite_with_fast_handler.py --only fast  # or lean, or stock

Django's test suite ships in its source distribution, not in the wheel we install. This script
downloads the sdist of the exact Django version installed here from the package registry,
unpacks its ``tests/`` into a temporary folder (nothing of Django's is kept in this repo), and
runs ``tests/runtests.py`` on each handler's test modules, first with Django's own classes
(stock), then with the lab's swapped in:

* fast (``asgi handlers``): ``FastASGIHandler`` replaces the ``ASGIHandler`` name in
  ``django.core.handlers.asgi`` and ``django.core.asgi`` before any test module imports it, so
  ``get_asgi_application()`` and the suite's own ``ASGIHandler`` subclasses get it.
* lean (``LEAN_LABELS``: the middleware, CSRF, sessions, messages, auth-middleware, handler,
  ASGI, signals and db-utils tests): right after ``django.setup()`` (the auth middleware module
  needs the app registry), ``LeanASGIHandler`` replaces ``ASGIHandler`` the same way and each
  bundled middleware class in ``LEAN_MIDDLEWARE`` is replaced, in its own module, by its lean
  subclass. Test modules import them afterwards, so the suite's direct middleware tests, the
  async test client (``AsyncClient`` builds its chain from ``MIDDLEWARE``) and the ASGI tests
  all run the lean code.

Exit status 0 only when every swapped run passes, served requests through the lab's code, and
ran as many tests as its stock twin.
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
FAST_LABELS = ["asgi", "handlers"]
LEAN_LABELS = [
    "middleware", "csrf_tests", "sessions_tests", "messages_tests", "auth_tests.test_middleware",
    "handlers", "asgi", "signals", "db_utils",
]  # fmt: skip
LABELS = {"fast": FAST_LABELS, "lean": LEAN_LABELS}

# Runs in the test process, before runtests.py: swap the handler in, and count what it serves.
BOOTSTRAP = r"""
import atexit, os, runpy, sys
if os.environ["LAB_SUITE_HANDLER"] == "lean":
    import django
    _django_setup = django.setup
    served, inline_chains = [], []
    def setup_then_swap(*args, **kwargs):
        _django_setup(*args, **kwargs)
        if getattr(setup_then_swap, "done", False):
            return
        setup_then_swap.done = True
        import importlib
        from django.core import asgi as core_asgi
        from django.core.handlers import asgi as handlers_asgi
        from lab_project.lean.handler import LeanASGIHandler
        from lab_project.lean.middleware import LEAN_MIDDLEWARE, InlineHooks
        handlers_asgi.ASGIHandler = LeanASGIHandler
        core_asgi.ASGIHandler = LeanASGIHandler
        for dotted, lean_class in LEAN_MIDDLEWARE.items():
            module_name, _, name = dotted.rpartition(".")
            setattr(importlib.import_module(module_name), name, lean_class)
        original_call = LeanASGIHandler.__call__
        async def counting_call(self, scope, receive, send):
            served.append(scope["type"])
            return await original_call(self, scope, receive, send)
        LeanASGIHandler.__call__ = counting_call
        original_acall = InlineHooks.__acall__
        async def counting_acall(self, request):
            inline_chains.append(type(self).__name__)
            return await original_acall(self, request)
        InlineHooks.__acall__ = counting_acall
    django.setup = setup_then_swap
    atexit.register(lambda: print(
        f"lab: LeanASGIHandler served {len(served)} ASGI calls; "
        f"lean middleware ran async {len(inline_chains)} times", file=sys.stderr))
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
    labels: str
    ran: int
    failed: int
    errors: int
    skipped: int
    ok: bool
    served: int | None
    lean_async_calls: int | None = None

    @property
    def passed(self) -> int:
        return self.ran - self.failed - self.errors - self.skipped

    def line(self) -> str:
        served = f", the {self.handler} handler served {self.served} ASGI calls" if self.served is not None else ""
        if self.lean_async_calls is not None:
            served += f", lean middleware ran async {self.lean_async_calls} times"
        return (
            f"{self.handler:>5} handler on {self.labels}: {self.ran} ran, {self.passed} passed, {self.failed} failed, "
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


def run_suite(tests_dir: Path, handler: str, labels: list[str], verbosity: int) -> SuiteResult:
    env = dict(os.environ)
    env["LAB_SUITE_HANDLER"] = handler
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("DJANGO_SETTINGS_MODULE", None)  # runtests.py picks its own test settings
    command = [sys.executable, "-c", BOOTSTRAP, *labels, "--parallel", "1", f"-v{verbosity}"]
    print(f"\n== Django's tests/{' tests/'.join(labels)} with the {handler} handler", flush=True)
    completed = subprocess.run(command, cwd=tests_dir, env=env, capture_output=True, text=True, check=False)
    output = completed.stdout + completed.stderr
    print(output.rstrip())
    return parse_result(handler, " ".join(labels), output, completed.returncode)


def parse_result(handler: str, labels: str, output: str, returncode: int) -> SuiteResult:
    ran = re.search(r"^Ran (\d+) tests?", output, re.MULTILINE)
    summary = re.search(r"^(OK|FAILED)(?: \((.*)\))?$", output, re.MULTILINE)
    counts = dict.fromkeys(("failures", "errors", "skipped"), 0)
    if summary and summary.group(2):
        for part in summary.group(2).split(","):
            key, _, value = part.strip().partition("=")
            if key in counts:
                counts[key] = int(value)
    served = re.search(r"(?:Fast|Lean)ASGIHandler served (\d+) ASGI calls", output)
    lean_calls = re.search(r"lean middleware ran async (\d+) times", output)
    return SuiteResult(
        handler=handler,
        labels=labels,
        lean_async_calls=int(lean_calls.group(1)) if lean_calls else None,
        ran=int(ran.group(1)) if ran else 0,
        failed=counts["failures"],
        errors=counts["errors"],
        skipped=counts["skipped"],
        ok=returncode == 0 and bool(summary) and summary.group(1) == "OK",
        served=int(served.group(1)) if served else None,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["stock", "fast", "lean"], help="run one handler only (stock: on both label sets)")
    parser.add_argument("--verbosity", type=int, default=1, choices=[0, 1, 2, 3])
    args = parser.parse_args()
    # (handler, labels) runs; each swapped run is compared with the stock run on its labels.
    swapped = [args.only] if args.only in ("fast", "lean") else (["fast", "lean"] if args.only is None else [])
    runs = [] if args.only in ("fast", "lean") else [("stock", name) for name in (swapped or ["fast", "lean"])]
    runs += [(name, name) for name in swapped]

    version = installed_django_version()
    with tempfile.TemporaryDirectory(prefix="lab-django-suite-") as folder:
        print(f"downloading the Django {version} sdist for its test suite ...", flush=True)
        tests_dir = download_tests(version, Path(folder))
        results = {(handler, labels): run_suite(tests_dir, handler, LABELS[labels], args.verbosity) for handler, labels in runs}

    print(f"\n== Django {version}'s own tests")
    for result in results.values():
        print(result.line())
    problems = []
    for (handler, labels), result in results.items():
        if handler == "stock":
            if not result.ok:
                problems.append(f"the stock run on {labels}'s labels failed (this environment, not the lab)")
            continue
        if not result.ok:
            problems.append(f"the run with the {handler} handler failed")
        if not result.served:
            problems.append(f"the {handler} handler served no request: the swap did not take effect")
        if handler == "lean" and not result.lean_async_calls:
            problems.append("no lean middleware ran its async path: the swap did not take effect")
        stock = results.get(("stock", labels))
        if stock is not None and result.ran != stock.ran:
            problems.append(f"the {handler} run ran {result.ran} tests, the stock run {stock.ran}")
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
