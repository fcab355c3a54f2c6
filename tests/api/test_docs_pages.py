"""The API's documentation pages in a real browser (Debian's chromium, headless) that can reach
nothing but the API: Swagger UI and ReDoc must be served by the API itself, since a city's
network need not reach the CDN that FastAPI's own pages load them from."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from cityledger.testing.api import PREFIX, ApiServer

CHROMIUM = "chromium"
OFFLINE = "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
"""Host resolver rules: every name but the API's address fails to resolve."""


def _render(url: str, profile: Path) -> str:
    """The page's DOM after its scripts ran (``--virtual-time-budget`` lets them finish)."""
    binary = shutil.which(CHROMIUM)
    if binary is None:
        pytest.skip("Debian's chromium is not installed: apt-get install -y chromium")
    done = subprocess.run(
        [
            binary,
            "--headless",
            "--no-sandbox",  # CI runs as root
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--host-resolver-rules={OFFLINE}",
            "--virtual-time-budget=20000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_swagger_ui_renders_every_route_offline(api: ApiServer, tmp_path: Path) -> None:
    schema = httpx.get(api.url + "/openapi.json").json()
    dom = _render(api.url + "/docs", tmp_path / "profile")

    assert re.search(r'<h1 class="title">\s*CityLedger API', dom), dom[:2000]
    rendered = set(re.findall(r'data-path="([^"]+)"', dom))
    assert rendered == set(schema["paths"]), set(schema["paths"]) ^ rendered
    assert f"{PREFIX}/invoices" in rendered
    assert "cdn." not in httpx.get(api.url + "/docs").text


def test_redoc_renders_the_operations_offline(api: ApiServer, tmp_path: Path) -> None:
    schema = httpx.get(api.url + "/openapi.json").json()
    dom = _render(api.url + "/redoc", tmp_path / "profile")

    assert re.search(r"<h1[^>]*>\s*CityLedger API", dom), dom[:2000]
    summaries = {
        operation["summary"]
        for path in schema["paths"].values()
        for operation in path.values()
        if "summary" in operation
    }
    missing = {summary for summary in summaries if summary not in dom}
    assert not missing, sorted(missing)[:10]
    assert "cdn." not in httpx.get(api.url + "/redoc").text
