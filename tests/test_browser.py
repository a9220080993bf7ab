"""The notebooks as a student meets them: JupyterLab in a real (headless) browser.

JupyterLab runs on 127.0.0.1 in the quick profile, with scratch data, runs and cache folders and
copies of the notebooks, and Playwright drives Debian's chromium (installed by
``tests/install_chromium.sh``; nothing is downloaded by Playwright). For each notebook the test
runs every cell the way the "Run All" menu does, saves it and fails on any error output or on
"Error displaying widget". Then it moves one control of the notebook's widget, as a student
would, and checks that the displayed picture changed. Screenshots are kept under
``build/browser/``.

A browser that cannot be installed makes the test fail with the reason, never skip.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[1]
SHOTS = REPO / "build" / "browser"
NOTEBOOKS = ("02_label_validation.ipynb", "03_augmentation.ipynb")
#: JupyterLab settings for a test: every cell stays in the page (no windowing, so the widget
#: cells can be found), and no pop-up asks about news.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
}


@pytest.fixture(scope="module")
def chromium() -> str:
    script = REPO / "tests" / "install_chromium.sh"
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        pytest.fail(f"chromium could not be installed, so the browser test cannot run: "
                    f"{done.stderr.strip()[-2000:]}", pytrace=False)
    return done.stdout.strip().splitlines()[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 over a scratch folder holding copies of the notebooks;
    yields (base URL with token, the folder)."""
    base = tmp_path_factory.mktemp("lab")
    work = base / "notebooks"
    work.mkdir()
    for name in NOTEBOOKS:
        shutil.copy(REPO / "notebooks" / name, work / name)
    settings = base / "settings"
    for name, value in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "SEGUTILS_PROFILE": "quick",
           "SEGUTILS_DATA": str(base / "data"), "SEGUTILS_RUNS": str(base / "runs"),
           "SEGUTILS_CACHE": str(base / "cache"),
           "MPLBACKEND": "module://matplotlib_inline.backend_inline",
           "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTER_CONFIG_DIR": str(base / "config"),
           "JUPYTER_RUNTIME_DIR": str(base / "runtime")}
    log = open(base / "lab.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={work}", "--ServerApp.allow_root=True",
         "--LabApp.expose_app_in_browser=True"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not start: "
                                + (base / "lab.log").read_text()[-2000:], pytrace=False)
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}", token, work
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def page(chromium, lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield browser.new_page(viewport={"width": 1280, "height": 900})
        browser.close()


#: Runs every cell as the "Run All" menu does, waits for the last one, then saves the notebook.
RUN_ALL = """async () => {
    const app = window.jupyterapp;
    const panel = app.shell.currentWidget;
    await panel.context.ready;
    await panel.sessionContext.ready;
    const ok = await app.commands.execute('notebook:run-all-cells');
    await app.commands.execute('docmanager:save');
    return ok;
}"""


def notebook_panel(page):
    """The notebook on show (other tabs stay in the page, hidden)."""
    return page.locator(".jp-NotebookPanel:visible")


def open_and_run(page, lab, name: str) -> dict:
    """Open notebook ``name`` in JupyterLab, run all its cells, save it; returns the saved
    notebook as JSON."""
    url, token, work = lab
    page.goto(f"{url}/lab/tree/{name}?reset&token={token}")  # reset: no tabs of earlier tests
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           " && document.querySelector('.jp-Notebook .jp-Cell')",
                           timeout=120_000)
    started = time.monotonic()
    page.evaluate(RUN_ALL)
    print(f"{name}: all cells ran in {time.monotonic() - started:.0f} s")
    page.wait_for_timeout(1000)  # let the last outputs render
    return json.loads((work / name).read_text())


def errors_of(notebook: dict) -> list[str]:
    found = []
    for k, cell in enumerate(notebook["cells"]):
        for out in cell.get("outputs", []):
            if out["output_type"] == "error":
                found.append(f"cell {k}: {out['ename']}: {out['evalue']}")
    return found


def picture(page, locator) -> np.ndarray:
    """What the browser shows of ``locator``, as pixels."""
    from PIL import Image

    locator.scroll_into_view_if_needed()
    return np.asarray(Image.open(io.BytesIO(locator.screenshot())).convert("RGB"))


def check_page(page, notebook: dict, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{Path(name).stem}-ran.png"), full_page=True)
    assert not errors_of(notebook), f"{name} has error outputs: {errors_of(notebook)}"
    body = notebook_panel(page).inner_text()
    assert "Error displaying widget" not in body, f"{name}: a widget failed to display"
    never_ran = [k for k, c in enumerate(notebook["cells"])
                 if c["cell_type"] == "code" and c["source"] and c["execution_count"] is None]
    assert not never_ran, f"{name}: cells {never_ran} did not run"


def shown(page, image):
    """``image`` (a locator) once the browser displays a decoded picture in it."""
    image.wait_for(state="visible", timeout=60_000)
    page.wait_for_function("el => el.complete && el.naturalWidth > 0",
                           arg=image.element_handle(), timeout=60_000)
    return image


def changed_after(page, widget, image, act, shot: str) -> float:
    """Share of the pixels of ``image`` (a locator inside ``widget``) that differ after
    ``act()``; the widget, controls and all, is kept as screenshot ``shot``."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    before = picture(page, image)
    src = image.get_attribute("src")
    act()
    try:
        page.wait_for_function("([el, src]) => el.getAttribute('src') !== src",
                               arg=[image.element_handle(), src], timeout=60_000)
    except PlaywrightTimeout:
        widget.screenshot(path=str(SHOTS / shot))
        pytest.fail(f"the widget did not redraw its picture within 60 s (see {SHOTS / shot})",
                    pytrace=False)
    page.wait_for_timeout(500)
    after = picture(page, image)
    widget.screenshot(path=str(SHOTS / shot))
    if before.shape != after.shape:
        return 1.0
    return float(np.any(before != after, axis=-1).mean())


def slider(widget, label: str):
    """The handle of the slider called ``label`` inside ``widget``."""
    return widget.locator(".widget-slider").filter(
        has=widget.page.locator(".widget-label", has_text=label)).locator(".noUi-handle")


def test_label_validation_runs_and_the_dataset_browser_reacts(page, lab):
    name = NOTEBOOKS[0]
    notebook = open_and_run(page, lab, name)
    check_page(page, notebook, name)
    browser = notebook_panel(page).locator(".jupyter-widgets.widget-vbox").filter(
        has=page.locator(".widget-image")).last
    image = shown(page, browser.locator(".widget-image").first)

    def next_pair():  # the index slider, one step with the keyboard (back if at the end)
        handle = slider(browser, "index")
        at_end = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
        handle.focus()
        handle.press("ArrowLeft" if at_end else "ArrowRight")

    share = changed_after(page, browser, image, next_pair, "02-dataset-browser-moved.png")
    assert share > 0.05, f"moving the index slider changed only {share:.1%} of the picture"


def test_augmentation_runs_and_the_playground_reacts(page, lab):
    name = NOTEBOOKS[1]
    notebook = open_and_run(page, lab, name)
    check_page(page, notebook, name)
    playground = notebook_panel(page).locator(".jupyter-widgets.widget-vbox").filter(
        has=page.locator("select")).filter(has=page.locator(".widget-image")).last
    image = shown(page, playground.locator(".widget-image").first)

    def ticked() -> set[str]:
        return set(playground.locator(".widget-checkbox").filter(
            has=page.locator("input:checked")).all_inner_texts())

    assert {t.strip() for t in ticked()} == {"flip", "crop", "brightness", "contrast"}

    def heavy():
        playground.locator(".widget-dropdown select").first.select_option("heavy")

    share = changed_after(page, playground, image, heavy, "03-playground-heavy.png")
    assert share > 0.05, f"choosing the heavy preset changed only {share:.1%} of the picture"
    # the boxes ticked are the preset's steps, rotation and shear included
    from segutils.augment import PRESET_STEPS

    assert {t.strip() for t in ticked()} == set(PRESET_STEPS["heavy"])
