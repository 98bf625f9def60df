"""Doors the lab must keep shut: foreign hosts, secrets in the repository or in committed
notebook outputs, services reachable from other machines."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


async def test_a_foreign_host_header_is_refused(lab_server):
    async with httpx.AsyncClient() as client:
        response = await client.get(lab_server.url + "hello/", headers={"Host": "evil.example"})
    assert response.status_code == 400


async def test_a_state_changing_request_without_a_csrf_token_is_refused(lab_server):
    async with httpx.AsyncClient() as client:
        response = await client.post(lab_server.url + "greeting/", data={"name": "x"})
    assert response.status_code == 403


def tracked_files() -> list[Path]:
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [ROOT / name for name in listing.stdout.split("\0") if name and (ROOT / name).is_file()]


SECRET_PATTERNS = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "hard-coded Django secret key": re.compile(r"SECRET_KEY\s*=\s*['\"][^'\"]{20,}['\"]"),
    "password in a URL": re.compile(r"[a-z]+://[^/\s:@'\"]*:[^/\s@'\"*]{3,}@"),
    "AWS access key": re.compile(r"AKIA[0-9A-Z]{16}"),
    "GitHub token": re.compile(r"gh[pousr]_[A-Za-z0-9]{30,}"),
}


def test_no_secret_is_committed():
    generated_keys = [
        path.read_text().strip()
        for path in [ROOT / ".lab-data" / "secret_key", Path(settings.LAB.data_dir) / "secret_key"]
        if path.exists()
    ]
    findings = []
    for path in tracked_files():
        if path.suffix in {".png", ".lock"} or path.name == "uv.lock":
            continue
        text = path.read_text(errors="replace")
        findings += [f"{path.relative_to(ROOT)}: {name}" for name, pattern in SECRET_PATTERNS.items() if pattern.search(text)]
        findings += [f"{path.relative_to(ROOT)}: a generated secret key" for key in generated_keys if key and key in text]
    assert not findings, findings


def test_notebook_outputs_hold_no_secret_or_private_path():
    findings = []
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        outputs = json.dumps([c.get("outputs", []) for c in json.loads(notebook.read_text())["cells"]])
        findings += [f"{notebook.name}: {name}" for name, pattern in SECRET_PATTERNS.items() if pattern.search(outputs)]
        if settings.SECRET_KEY in outputs:
            findings.append(f"{notebook.name}: this run's SECRET_KEY")
    assert not findings, findings


def compose_services() -> dict:
    """The compose file as Docker resolves it when the client can, else as plain YAML."""
    docker = shutil.which("docker")
    if docker:
        result = subprocess.run(
            [docker, "compose", "config", "--format", "json"], cwd=ROOT, capture_output=True, text=True
        )
        if result.returncode == 0:
            return json.loads(result.stdout)["services"]
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


@pytest.mark.parametrize("service", ["redis", "postgres"])
def test_compose_binds_services_to_loopback_only(service):
    ports = compose_services()[service]["ports"]
    assert ports
    for port in ports:
        host_ip = port.get("host_ip") if isinstance(port, dict) else str(port).rsplit(":", 2)[0]
        assert host_ip == "127.0.0.1", f"{service} publishes {port} beyond this machine"


def test_compose_services_have_health_checks():
    for name, service in compose_services().items():
        assert "healthcheck" in service, f"{name} has no health check"
