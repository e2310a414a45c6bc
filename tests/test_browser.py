"""End to end in a real browser: JupyterLab, headless Chromium, the training panel.

The test starts JupyterLab on a free local port with a random token, opens
``tests/browser/training_panel.ipynb`` (copied into a temporary root folder) in Debian's
Chromium driven by Playwright, runs all cells from the Run menu, presses **Train** and
checks that the live curves appear and are redrawn while the progress bar advances,
then waits for the run to finish and saves a screenshot of the panel to
``docs/training_panel.png`` (the README shows it).

It needs ``playwright`` (the dev extra) and ``/usr/bin/chromium``: ``make test`` installs
Debian's ``chromium`` package when it is missing and it runs as root. Playwright's own
browser downloads are never used. Without either, the test is skipped with the reason.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "tests" / "browser" / "training_panel.ipynb"
SCREENSHOT = REPO / "docs" / "training_panel.png"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# JupyterLab settings for a quiet, reproducible session: no news or update toasts.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, timeout_s: float = 2.0) -> int:
    """HTTP status of a GET, or 0 if the server does not answer."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return int(response.status)
    except (urllib.error.URLError, ConnectionError, OSError):
        return 0


@pytest.fixture
def sync_playwright() -> Any:
    """Playwright's sync API, or a skip with the reason."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"Debian's chromium is not installed at {CHROMIUM}; `make test` installs it "
            "(apt-get install chromium) when it runs as root"
        )
    api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed: pip install -e '.[dev]'"
    )
    return api.sync_playwright


@pytest.fixture
def jupyterlab(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """JupyterLab serving a temporary folder holding the panel notebook.

    Yields (base URL, token); shuts the server (and its kernels) down afterwards.
    """
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    settings = tmp_path / "lab-settings"
    for name, values in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
        "IPYTHONDIR": str(tmp_path / "ipython"),
    }
    env.pop("MPLBACKEND", None)
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ServerApp.open_browser=False",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={tmp_path / 'lab-workspaces'}",
        # No extension manager: it would look extensions up on PyPI.
        "--LabApp.extension_manager=readonly",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and CI often run as root
    log = open(tmp_path / "jupyterlab.log", "w")  # noqa: SIM115 - closed in the finally
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60.0
        while _get(f"{base}/api/status?token={token}") != 200:
            if server.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(
                    "JupyterLab did not start:\n" + (tmp_path / "jupyterlab.log").read_text()
                )
            time.sleep(0.25)
        yield base, token
    finally:
        # The server's own shutdown stops its kernels too; terminate it if that fails.
        request = urllib.request.Request(f"{base}/api/shutdown?token={token}", method="POST")
        try:
            urllib.request.urlopen(request, timeout=5).close()
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        log.close()


def _status(page: Any) -> str:
    """The panel's status line (idle, training: update N of M, finished ...)."""
    labels = page.locator(".widget-label").all_inner_texts()
    found = [t for t in labels if re.match(r"(idle|training|finished|stopped|error)", t)]
    return found[-1] if found else ""


def _update(status: str) -> int:
    match = re.search(r"update (\d+) of", status)
    return int(match.group(1)) if match else 0


def _percent(bar: Any) -> float:
    """How full a progress bar is drawn (its width in %)."""
    return float(bar.evaluate("e => parseFloat(e.style.width) || 0"))


def _wait(condition: Any, timeout_s: float, what: str, page: Any) -> Any:
    """Poll ``condition()`` until it returns something truthy; fail with ``what``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        page.wait_for_timeout(100)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}; status: {_status(page)!r}")


def test_training_panel_trains_and_draws_live_curves(
    sync_playwright: Any, jupyterlab: tuple[str, str], tmp_path: Path
) -> None:
    base, token = jupyterlab
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1600},
        )
        page = context.new_page()
        page.set_default_timeout(60_000)
        try:
            page.goto(f"{base}/lab/tree/{NOTEBOOK.name}?token={token}")
            page.locator(".jp-Notebook .jp-Cell").first.wait_for()
            # Wait for the kernel, then Run > Run All Cells, as a student would.
            page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\| Idle$")).wait_for()
            page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
            page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
            select = page.locator(".jp-Dialog button", has_text="Select")
            page.wait_for_timeout(500)
            if select.is_visible():  # JupyterLab asks once if the kernel was still starting
                select.click()

            train = page.locator(".jupyter-widgets button", has_text="Train")
            train.wait_for(state="visible", timeout=40_000)
            assert _status(page) == "idle"
            train.click()

            curves = page.locator("img.widget-image").first
            curves.wait_for(state="visible", timeout=60_000)
            bar = page.locator(".widget-hprogress .progress-bar").first
            first_src = curves.get_attribute("src")
            first_png = curves.screenshot()
            first_update = _update(_status(page))
            first_width = _percent(bar)

            # The curves are redrawn (a new image) while the updates advance.
            _wait(
                lambda: (
                    curves.get_attribute("src") != first_src
                    and _update(_status(page)) > first_update
                ),
                60.0,
                "the curves to be redrawn",
                page,
            )
            assert curves.screenshot() != first_png, "the curves image did not change"
            _wait(
                lambda: _percent(bar) > first_width,
                30.0,
                "the progress bar to advance",
                page,
            )
            status = _wait(
                lambda: (s := _status(page)).startswith(("finished", "error", "stopped")) and s,
                90.0,
                "training to finish",
                page,
            )
            assert status.startswith("finished 30 updates"), status
            # The final comparison with the baselines is drawn as a second image.
            page.locator("img.widget-image").nth(1).wait_for(state="visible")
            panel = page.locator(".jp-OutputArea-output").filter(has=train).first
            SCREENSHOT.parent.mkdir(exist_ok=True)
            panel.screenshot(path=str(SCREENSHOT))
        except Exception:
            failure = tmp_path / "failure.png"
            page.screenshot(path=str(failure), full_page=True)
            print(f"screenshot of the page at the failure: {failure}")
            raise
        finally:
            context.close()
    assert SCREENSHOT.stat().st_size > 20_000
