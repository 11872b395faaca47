"""``ganzoo serve`` in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``, which ``.ci/run`` installs) drives the page as a person would.

The server is the real one (uvicorn on a free loopback port, in a thread); the generator is a
real run trained for two steps. The test picks the generator, sets a seed, clicks generate and
checks the image the page shows: it decodes, has the grid's size, and changes with the seed.
A screenshot of the page is saved in the test's temporary folder.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

pytest.importorskip("starlette", reason="needs the serve extra: pip install 'ganzoo[serve]'")
webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (the test extra)")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

from ganzoo.io.images import GridLayout  # noqa: E402
from ganzoo.serve.app import create_app  # noqa: E402
from ganzoo.serve.catalogue import Catalogue, generator_id  # noqa: E402
from ganzoo.serve.server import ServerThread  # noqa: E402
from ganzoo.training.loop import train  # noqa: E402
from ganzoo.training.plan import RunPlan  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
NUM = 24
WAIT_SECONDS = 60

pytestmark = pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                                reason="no browser: needs /usr/bin/chromium and /usr/bin/chromedriver "
                                       "(apt-get install chromium chromium-driver; .ci/run does it)")

GRID_PICTURE = """
const image = document.getElementById(arguments[0]);
if (image.hidden || !image.complete || !image.naturalWidth) return null;
const canvas = document.createElement("canvas");
canvas.width = image.naturalWidth;
canvas.height = image.naturalHeight;
canvas.getContext("2d").drawImage(image, 0, 0);
return { width: image.naturalWidth, height: image.naturalHeight, seed: image.dataset.seed,
         data: canvas.toDataURL("image/png").split(",")[1] };
"""
"""The image as the browser decoded it, re-encoded through a canvas (the page's CSP lets no
script fetch the blob again, which is the point of it)."""


@pytest.fixture
def server(tiny_config: Callable[..., RunPlan], tmp_path: Path) -> Iterator[tuple[str, str]]:
    weights = train(tiny_config(run={"max_steps": 2})).generator_path
    thread = ServerThread(create_app(Catalogue.load([weights.parent], device="cpu"))).start()
    try:
        yield thread.url, generator_id(weights)
    finally:
        thread.stop()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def shown_grid(browser: Any, seed: str) -> dict[str, Any]:
    """Wait until the page shows the grid for ``seed``; its size, and the bytes behind it."""
    def loaded(driver: Any) -> dict[str, Any] | None:
        picture = driver.execute_script(GRID_PICTURE, "grid-main")
        return picture if picture and picture["seed"] == seed else None

    return WebDriverWait(browser, WAIT_SECONDS).until(loaded)


def test_the_page_generates_a_grid_and_a_new_seed_changes_it(server: tuple[str, str], browser: Any,
                                                              tmp_path: Path) -> None:
    url, generator = server
    browser.get(url)
    WebDriverWait(browser, WAIT_SECONDS).until(lambda driver: driver.find_element(By.TAG_NAME, "body")
                                               .get_attribute("data-ready") == "true")
    assert "mlp" in browser.find_element(By.ID, "generators").text
    shown_grid(browser, "0")  # the page draws seed 0 as soon as it has the list
    Select(browser.find_element(By.ID, "generator")).select_by_value(generator)
    for field, value in (("num", str(NUM)), ("seed", "11")):
        browser.find_element(By.ID, field).clear()
        browser.find_element(By.ID, field).send_keys(value)
    browser.find_element(By.ID, "generate").click()
    first = shown_grid(browser, "11")

    height, width, _ = GridLayout(NUM, (1, 16, 16), 8).shape
    assert (first["width"], first["height"]) == (width, height)
    decoded = Image.open(io.BytesIO(base64.b64decode(first["data"])))
    assert decoded.format == "PNG" and decoded.size == (width, height)
    assert browser.find_element(By.ID, "download-main").get_attribute("download") == f"mlp-seed11-n{NUM}.png"
    browser.save_screenshot(str(tmp_path / "serve.png"))

    browser.find_element(By.ID, "seed").clear()
    browser.find_element(By.ID, "seed").send_keys("12")
    browser.find_element(By.ID, "generate").click()
    second = shown_grid(browser, "12")
    assert (second["width"], second["height"]) == (width, height)
    assert second["data"] != first["data"]
    assert not browser.find_element(By.ID, "error-main").is_displayed()
    assert (tmp_path / "serve.png").stat().st_size > 0
