"""End to end in a real browser: JupyterLab, headless Chromium, the three widgets.

The test starts JupyterLab on a free local port with a random token, opens
``tests/browser/widgets.ipynb`` (copied into a temporary root folder) in Debian's
Chromium driven by Playwright and runs all cells from the Run menu. The notebook shows
the training panel, the behaviour explorer and the grid playground, one per cell. For
each widget the test

- measures it in the page: no part of it (figures included) reaches past the output
  area, nothing scrolls sideways, no label is cut off, sliders have room to move, no
  text is smaller than 9 px, and figures are shown at their own size (not shrunk);
- changes a control and checks that the page changes: the explorer's agent and time
  step, the playground's demand slider, the panel's Train button (the live curves are
  redrawn while the progress bar advances, then the final comparison appears);
- saves a screenshot to ``docs/`` (``training_panel.png``, ``behaviour_explorer.png``,
  ``grid_playground.png``; the README shows them).

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
NOTEBOOK = REPO / "tests" / "browser" / "widgets.ipynb"
DOCS = REPO / "docs"
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
# A window in which JupyterLab's notebook output area is about 1,000 px wide (the file
# browser open beside it), as on a common laptop screen.
VIEWPORT = {"width": 1400, "height": 1000}
# JupyterLab settings for a quiet, reproducible session: no news or update toasts.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}
# The smallest text a student should have to read, and the least room a slider needs.
MIN_FONT_PX = 9.0
MIN_SLIDER_PX = 150.0

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
    """JupyterLab serving a temporary folder holding the widgets' notebook.

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


# What a widget takes of its output area, measured in the page (CSS pixels).
_MEASURE = """
(output) => {
  const area = output.getBoundingClientRect();
  const root = output.querySelector('.jupyter-widgets');
  const box = root.getBoundingClientRect();
  let right = box.right, widest = '';
  let smallest = Infinity, smallestText = '';
  const cut = [];
  for (const el of root.querySelectorAll('*')) {
    const b = el.getBoundingClientRect();
    if (b.width === 0 || b.height === 0) continue;
    if (b.right > right + 0.5) { right = b.right; widest = el.className || el.tagName; }
    if (el.tagName === 'BUTTON' && el.scrollWidth > el.clientWidth + 1) {
      const icon = el.querySelector('i');
      cut.push(`button ${el.title || el.textContent.trim() || (icon ? icon.className : '')}`);
    }
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (own) {
      const size = parseFloat(getComputedStyle(el).fontSize);
      if (size < smallest) { smallest = size; smallestText = el.textContent.trim(); }
      if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'auto') {
        cut.push(el.textContent.trim());
      }
    }
  }
  const sliders = [...root.querySelectorAll('.slider-container')]
    .map(s => s.getBoundingClientRect().width);
  const images = [...root.querySelectorAll('img')]
    .filter(i => i.getBoundingClientRect().width > 0)
    .map(i => ({shown: i.getBoundingClientRect().width, natural: i.naturalWidth}));
  return {
    output: area.width, outputRight: area.right, widget: box.width, right, widest,
    scrollWidth: output.scrollWidth, clientWidth: output.clientWidth,
    smallest, smallestText, cut, sliders, images,
  };
}
"""


def _check_fits(output: Any, name: str) -> dict[str, Any]:
    """Assert that the widget in ``output`` fits it and reads well; returns the numbers."""
    output.scroll_into_view_if_needed()
    m = output.evaluate(_MEASURE)
    assert m["output"] >= 900, f"{name}: the output area is only {m['output']:.0f} px wide"
    assert m["widget"] <= m["output"] + 1, f"{name}: {m['widget']:.0f} px wide in {m}"
    assert m["right"] <= m["outputRight"] + 1, f"{name}: {m['widest']} reaches past the output"
    assert m["scrollWidth"] <= m["clientWidth"] + 1, f"{name}: the output scrolls sideways"
    assert m["smallest"] >= MIN_FONT_PX, f"{name}: {m['smallestText']!r} at {m['smallest']} px"
    assert not m["cut"], f"{name}: labels cut off: {m['cut']}"
    assert all(w >= MIN_SLIDER_PX for w in m["sliders"]), f"{name}: sliders {m['sliders']}"
    for image in m["images"]:  # a figure shown at its size keeps its text readable
        assert image["shown"] >= 0.97 * image["natural"], f"{name}: figure shrunk: {image}"
    return m


def _screenshot(page: Any, output: Any, name: str) -> None:
    """Save the whole output area to ``docs/<name>.png``: the window is made tall enough
    for it first, since only what JupyterLab lays out in the window is drawn."""
    height = float(output.evaluate("e => e.getBoundingClientRect().height"))
    page.set_viewport_size({"width": VIEWPORT["width"], "height": int(height) + 400})
    page.wait_for_timeout(500)
    output.scroll_into_view_if_needed()
    output.screenshot(path=str(DOCS / f"{name}.png"))
    page.set_viewport_size(VIEWPORT)


def _output_of(page: Any, text: str) -> Any:
    """The output area of the cell whose widget shows ``text``."""
    return page.locator(".jp-OutputArea-output").filter(has_text=text).first


def _src(image: Any) -> str:
    return image.get_attribute("src") or ""


def _run_all_cells(page: Any, base: str, token: str) -> None:
    """Open the notebook and run every cell from the Run menu, as a student would."""
    page.goto(f"{base}/lab/tree/{NOTEBOOK.name}?token={token}")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\| Idle$")).wait_for()
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    select = page.locator(".jp-Dialog button", has_text="Select")
    page.wait_for_timeout(500)
    if select.is_visible():  # JupyterLab asks once if the kernel was still starting
        select.click()


def _explore(page: Any) -> None:
    """The explorer: a new agent redraws its day, a step later redraws the grid."""
    output = _output_of(page, "test day")
    images = output.locator("img.widget-image")
    images.nth(1).wait_for(state="visible", timeout=60_000)
    _check_fits(output, "behaviour explorer")
    info = output.locator(".widget-html").first
    grid_src, agent_src = _src(images.nth(0)), _src(images.nth(1))
    agent = output.locator(".widget-dropdown", has_text="agent").locator("select")
    agent.select_option(label="battery_3 (battery)")
    _wait(lambda: _src(images.nth(1)) != agent_src, 30.0, "the agent's day redrawn", page)
    assert _src(images.nth(0)) == grid_src  # the grid did not change with the agent
    handle = output.locator(".widget-slider", has_text="step").locator(".noUi-handle")
    handle.focus()
    for _ in range(3):
        handle.press("ArrowRight")
    _wait(lambda: "03:00-04:00" in info.inner_text(), 30.0, "the step to move to 03:00", page)
    _wait(lambda: _src(images.nth(0)) != grid_src, 30.0, "the grid redrawn at 03:00", page)
    _check_fits(output, "behaviour explorer")
    _screenshot(page, output, "behaviour_explorer")


def _play(page: Any) -> None:
    """The playground: five times the demand of a load changes the power flow."""
    output = _output_of(page, "Change the grid, see the power flow")
    image = output.locator("img.widget-image")
    image.wait_for(state="visible", timeout=60_000)
    _check_fits(output, "grid playground")
    results = output.locator(".widget-html").filter(has_text="voltages")
    before, before_src = results.inner_text(), _src(image)
    handle = output.locator(".widget-slider", has_text="x base demand").locator(".noUi-handle")
    handle.focus()
    handle.press("End")  # the slider's maximum: five times the base demand
    _wait(lambda: results.inner_text() != before, 30.0, "the power flow to change", page)
    _wait(lambda: _src(image) != before_src, 30.0, "the diagram redrawn", page)
    _check_fits(output, "grid playground")
    _screenshot(page, output, "grid_playground")


def _train(page: Any) -> None:
    """The panel: Train redraws the live curves while the progress bar advances."""
    train = page.locator(".jupyter-widgets button", has_text="Train")
    output = page.locator(".jp-OutputArea-output").filter(has=train).first
    output.scroll_into_view_if_needed()  # JupyterLab renders only the cells in view
    _check_fits(output, "training panel")
    _wait(lambda: _status(page) == "idle", 30.0, "the panel's idle status line", page)
    train.click()
    curves = output.locator("img.widget-image").first
    curves.wait_for(state="visible", timeout=60_000)
    bar = output.locator(".widget-hprogress .progress-bar").first
    first_src = _src(curves)
    first_png = curves.screenshot()
    first_update = _update(_status(page))
    first_width = _percent(bar)
    # The curves are redrawn (a new image) while the updates advance.
    _wait(
        lambda: _src(curves) != first_src and _update(_status(page)) > first_update,
        60.0,
        "the curves to be redrawn",
        page,
    )
    assert curves.screenshot() != first_png, "the curves image did not change"
    _wait(lambda: _percent(bar) > first_width, 30.0, "the progress bar to advance", page)
    status = _wait(
        lambda: (s := _status(page)).startswith(("finished", "error", "stopped")) and s,
        90.0,
        "training to finish",
        page,
    )
    assert status.startswith("finished 30 updates"), status
    # The final comparison with the baselines is drawn as a second image.
    output.locator("img.widget-image").nth(1).wait_for(state="visible")
    _check_fits(output, "training panel")
    _screenshot(page, output, "training_panel")


def test_widgets_fit_the_notebook_and_respond(
    sync_playwright: Any, jupyterlab: tuple[str, str], tmp_path: Path
) -> None:
    base, token = jupyterlab
    DOCS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=VIEWPORT,
        )
        page = context.new_page()
        page.set_default_timeout(60_000)
        try:
            _run_all_cells(page, base, token)
            _explore(page)
            _play(page)
            _train(page)
        except Exception:
            failure = tmp_path / "failure.png"
            page.screenshot(path=str(failure), full_page=True)
            print(f"screenshot of the page at the failure: {failure}")
            raise
        finally:
            context.close()
    for name in ("training_panel", "behaviour_explorer", "grid_playground"):
        assert (DOCS / f"{name}.png").stat().st_size > 20_000, name
