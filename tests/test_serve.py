"""``ganzoo serve`` through its HTTP API (Starlette's TestClient) and its real command line.

The generators are real: two runs trained for two steps (an MLP and a conditional MLP, so the
run files are the ones training writes), a truncated file, and a hand-made MLP whose weights
overflow to NaN for some latents but pass ``load_generator``'s probe. Every control is checked
against what the CLI makes from the same seed, and every bad input gets one JSON line.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("starlette", reason="needs the serve extra: pip install 'ganzoo[serve]'")
from starlette.testclient import TestClient  # noqa: E402

from ganzoo.cli import main as ganzoo_main  # noqa: E402
from ganzoo.core.registry import get_registry  # noqa: E402
from ganzoo.core.sampling import (
    seeded_inputs,  # noqa: E402
    truncate_latents,  # noqa: E402
)
from ganzoo.generators.weights import save_generator  # noqa: E402
from ganzoo.io.images import GridLayout  # noqa: E402
from ganzoo.serve.app import ServeSettings, create_app  # noqa: E402
from ganzoo.serve.catalogue import Catalogue, GeneratorEntry, generator_id  # noqa: E402
from ganzoo.serve.server import is_loopback  # noqa: E402
from ganzoo.serve.worker import Busy, SampleWorker  # noqa: E402
from ganzoo.training.loop import train  # noqa: E402
from ganzoo.training.plan import make_plan  # noqa: E402

LOCAL = "http://127.0.0.1"
TOO_BIG_SEED = str(2**63)


# -- the generators ------------------------------------------------------------------------------


def _train(variant: str, out: Path) -> Path:
    """A real run directory from two steps of training (what ``tiny_config`` builds)."""
    plan = make_plan([{"variant": variant, "data": {"name": "mnist-embedded", "image_size": 16, "limit": 256},
                       "run": {"out_dir": str(out), "max_steps": 2, "batch_size": 32, "device": "cpu",
                               "log_every_steps": 2, "num_fixed_samples": 16}}], get_registry())
    return train(plan).generator_path


def _nan_for_large_latents(path: Path) -> float:
    """An MLP whose first hidden unit overflows to inf (and so every pixel to NaN, through a zero
    weight) when latent coordinate 0 exceeds the largest one of the load probe's latents by 5%;
    returns that threshold."""
    variant = get_registry().get("variant", "mlp")
    options = variant.spec.config_model(latent_dim=8, generator_widths=[16], discriminator_widths=[16])
    torch.manual_seed(0)
    generator = variant.spec.build_generator(options, (1, 8, 8), None)
    probe = generator.sample_latents(16, generator=torch.Generator().manual_seed(0), device="cpu")
    threshold = float(probe[:, 0].abs().max()) * 1.05
    with torch.no_grad():
        first, last = generator.net[0], generator.net[2]
        first.weight[0] = 0.0
        first.weight[0, 0] = torch.finfo(torch.float32).max / threshold
        first.bias[0] = 0.0
        last.weight[:, 0] = 0.0
    save_generator(generator, path, variant="mlp", model_config=options.model_dump(mode="json"), plugin=variant.plugin)
    return threshold


class Served:
    """The generators under one folder, and the catalogue the server builds from it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.mlp = _train("mlp", root / "runs" / "mlp")
        self.cgan = _train("cgan-mlp", root / "runs" / "cgan")
        self.nan_threshold = _nan_for_large_latents(root / "hand" / "nan.safetensors")
        self.nan = root / "hand" / "nan.safetensors"
        self.damaged = root / "hand" / "damaged.safetensors"
        self.damaged.write_bytes(self.mlp.read_bytes()[:5000])
        self.catalogue = Catalogue.load([root / "runs", root / "hand"], device="cpu")

    def entry(self, path: Path) -> GeneratorEntry:
        return self.catalogue.get(generator_id(path))

    def url(self, path: Path, picture: str = "grid", query: str = "") -> str:
        return f"/api/generators/{generator_id(path)}/{picture}.png" + (f"?{query}" if query else "")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    return Served(tmp_path_factory.mktemp("served"))


@pytest.fixture
def client(served: Served) -> Iterator[TestClient]:
    """The app with a rate limit far above what the tests ask for (its own test sets a low one)."""
    settings = ServeSettings(samples_per_second=1e6, burst=10**6)
    with TestClient(create_app(served.catalogue, settings), base_url=LOCAL) as test_client:
        yield test_client


def png(response) -> np.ndarray:  # noqa: ANN001 - an httpx response
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.content)))


def assert_one_line_error(response, status: int, *fragments: str) -> str:  # noqa: ANN001
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    message = response.json()["error"]
    assert set(response.json()) == {"error"} and "\n" not in message and "Traceback" not in message
    for fragment in fragments:
        assert fragment in message
    return message


# -- the catalogue -------------------------------------------------------------------------------


def test_the_list_shows_each_generator_with_its_runs_facts(served: Served, client: TestClient) -> None:
    listed = {entry["source"]: entry for entry in client.get("/api/generators").json()["generators"]}
    assert set(listed) == {str(served.mlp), str(served.cgan), str(served.nan), str(served.damaged)}  # no checkpoints
    mlp = listed[str(served.mlp)]
    assert (mlp["variant"], mlp["plugin"], mlp["image_shape"], mlp["class_names"]) == ("mlp", "ganzoo-mlp",
                                                                                      [1, 16, 16], None)
    assert mlp["id"] == generator_id(served.mlp) and re.fullmatch(r"[0-9a-f]{12}", mlp["id"])
    run = mlp["run"]
    assert (run["data"], run["loss"], run["step"]) == ("mnist-embedded", "non-saturating", 2)
    assert run["training_seconds"] > 0 and {"d_loss", "g_loss"} <= set(run["last_metrics"])
    cgan = listed[str(served.cgan)]
    assert cgan["variant"] == "cgan-mlp" and cgan["class_names"] == [str(digit) for digit in range(10)]
    assert listed[str(served.nan)]["run"] is None  # a file outside any run directory: still listed


def test_a_damaged_file_is_listed_with_the_line_the_cli_prints(served: Served, client: TestClient,
                                                               tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listed = {entry["source"]: entry for entry in client.get("/api/generators").json()["generators"]}
    error = listed[str(served.damaged)]["error"]
    assert ganzoo_main(["sample", str(served.damaged), "--out", str(tmp_path / "x.png"), "--device", "cpu"]) == 2
    assert capsys.readouterr().err.strip() == f"error: {error}"
    assert_one_line_error(client.get(served.url(served.damaged)), 422, error)
    assert listed[str(served.mlp)]["error"] is None


def test_the_page_and_its_assets_are_served_offline(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    texts = [page.text]
    for name, kind in (("page.js", "text/javascript"), ("page.css", "text/css")):
        asset = client.get(f"/static/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind)
        texts.append(asset.text)
    for text in texts:  # nothing from another host: no CDN, no web font, no analytics
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/|@import|(?<![\w.])url\(", text, re.IGNORECASE)
    assert 'src="/static/page.js"' in page.text and 'href="/static/page.css"' in page.text


# -- the controls --------------------------------------------------------------------------------


def test_a_grid_is_the_image_ganzoo_sample_writes(served: Served, client: TestClient, tmp_path: Path) -> None:
    served_png = client.get(served.url(served.mlp, query="seed=5&num=20"))
    assert ganzoo_main(["sample", str(served.mlp), "--num", "20", "--seed", "5", "--out", str(tmp_path / "s.png"),
                        "--device", "cpu"]) == 0
    assert served_png.content == (tmp_path / "s.png").read_bytes()
    assert png(served_png).shape == GridLayout(20, (1, 16, 16), 8).shape[:2]


def test_seed_and_num_choose_the_samples(served: Served, client: TestClient) -> None:
    first = client.get(served.url(served.mlp, query="seed=1&num=8")).content
    assert client.get(served.url(served.mlp, query="seed=1&num=8")).content == first
    assert client.get(served.url(served.mlp, query="seed=2&num=8")).content != first
    assert png(client.get(served.url(served.mlp, query="num=1"))).shape == (16, 16)  # one image, no padding
    assert png(client.get(served.url(served.mlp, query="num=256"))).shape == GridLayout(256, (1, 16, 16)).shape[:2]
    defaults = client.get(served.url(served.mlp))
    assert defaults.content == client.get(served.url(served.mlp, query="seed=0&num=16&truncation=1")).content


def test_class_by_name_or_number_for_a_conditional_generator(served: Served, client: TestClient) -> None:
    by_name = client.get(served.url(served.cgan, query="seed=3&num=8&class=7")).content
    names = served.entry(served.cgan).class_names
    assert names is not None and client.get(served.url(served.cgan, query=f"seed=3&num=8&class={names[7]}")).content == by_name
    assert client.get(served.url(served.cgan, query="seed=3&num=8&class=2")).content != by_name
    random_classes = client.get(served.url(served.cgan, query="seed=3&num=8"))
    assert random_classes.content == client.get(served.url(served.cgan, query="seed=3&num=8&class=")).content
    assert_one_line_error(client.get(served.url(served.cgan, query="class=10")), 400, "'10'", "0 to 9")
    assert_one_line_error(client.get(served.url(served.cgan, query="class=cat")), 400, "not one of")
    assert_one_line_error(client.get(served.url(served.mlp, query="class=1")), 400, "unconditional")


def test_truncation_pulls_samples_towards_the_average(served: Served, client: TestClient) -> None:
    def spread(psi: float) -> float:
        grid = png(client.get(served.url(served.mlp, query=f"seed=0&num=64&truncation={psi}"))).astype(float)
        tiles = [grid[top:top + 16, left:left + 16] for top, left in
                 (GridLayout(64, (1, 16, 16)).origin(index) for index in range(64))]
        return float(np.std(tiles, axis=0).mean())

    assert spread(0.05) < spread(0.5) < spread(1.0)
    assert client.get(served.url(served.mlp, query="truncation=1.0")).content == client.get(served.url(served.mlp)).content


def test_truncated_latents_are_the_central_mass_of_the_prior() -> None:
    latents = torch.randn(20_000, 16, generator=torch.Generator().manual_seed(0))
    assert truncate_latents(latents, 1.0) is latents
    half = truncate_latents(latents, 0.5)
    bound = float(torch.special.ndtri(torch.tensor(0.75, dtype=torch.float64)))
    assert float(half.abs().max()) <= bound + 1e-5
    assert abs(float((latents.abs() < bound).float().mean()) - 0.5) < 0.01  # psi = the mass kept
    inside = latents.abs() <= bound
    assert torch.equal(half[inside], latents[inside])  # only the entries outside are redrawn


def test_a_truncated_grid_is_what_ganzoo_sample_draws(served: Served) -> None:
    from ganzoo.generators.weights import load_generator
    from ganzoo.serve.rendering import grid_png

    generator = load_generator(served.mlp, device="cpu")
    latents, _ = seeded_inputs(generator, 8, 5, None, 0.6)
    images = generator.sample(8, seed=5, truncation=0.6)
    assert torch.equal(images, generator.sample(8, latents=latents))
    assert grid_png(generator, served.mlp, num=8, seed=5, label=None, truncation=0.6) != grid_png(
        generator, served.mlp, num=8, seed=5, label=None, truncation=1.0)


def test_a_walk_goes_from_one_seed_to_the_other(served: Served, client: TestClient) -> None:
    strip = png(client.get(served.url(served.mlp, "walk", "seed=4&to_seed=9&steps=6")))
    layout = GridLayout(6, (1, 16, 16), 6)
    assert strip.shape == layout.shape[:2]
    tile = lambda image, index: image[layout.origin(index)[0]:][:16, layout.origin(index)[1]:][:, :16]  # noqa: E731
    assert np.array_equal(tile(strip, 0), png(client.get(served.url(served.mlp, query="seed=4&num=1"))))
    assert np.array_equal(tile(strip, 5), png(client.get(served.url(served.mlp, query="seed=9&num=1"))))
    linear = png(client.get(served.url(served.mlp, "walk", "seed=4&to_seed=9&steps=6&mode=linear")))
    assert np.array_equal(tile(linear, 0), tile(strip, 0)) and not np.array_equal(linear, strip)
    conditional = client.get(served.url(served.cgan, "walk", "seed=4&to_seed=9&steps=3&class=5"))
    assert png(conditional).shape == GridLayout(3, (1, 16, 16), 3).shape[:2]


# -- bad input -----------------------------------------------------------------------------------

BAD_QUERIES = [
    ("grid", "seed=-1", "seed"), ("grid", f"seed={TOO_BIG_SEED}", "less than or equal"), ("grid", "seed=1e3", "digits"),
    ("grid", "seed=%201", "digits"), ("grid", "seed=+1", "digits"), ("grid", "seed=", "digits"),
    ("grid", "num=0", "num"), ("grid", "num=257", "256"), ("grid", "num=2.5", "digits"),
    ("grid", "truncation=0", "greater than 0"), ("grid", "truncation=1.5", "less than or equal to 1"),
    ("grid", "truncation=nan", "finite"), ("grid", "truncation=inf", "finite"), ("grid", "truncation=-0.1", "truncation"),
    ("grid", "steps=4", "unknown parameter 'steps'"), ("grid", "sead=1", "unknown parameter 'sead'"),
    ("grid", "seed=1&seed=2", "twice"), ("grid", "path=/etc/passwd", "unknown parameter 'path'"),
    ("walk", "steps=1", "steps"), ("walk", "steps=33", "32"), ("walk", "mode=cubic", "mode"),
    ("walk", f"to_seed={TOO_BIG_SEED}", "to_seed"), ("walk", "num=4", "unknown parameter 'num'"),
    # traversal attempts through every parameter: each is just a bad value
    ("grid", "seed=../../etc/passwd", "digits"), ("grid", "num=%2e%2e%2f%2e%2e", "digits"),
    ("grid", "truncation=/etc/passwd", "truncation"), ("walk", "mode=../../../etc/passwd", "mode"),
    ("walk", "to_seed=%2Fetc%2Fpasswd", "digits"),
]


@pytest.mark.parametrize(("picture", "query", "fragment"), BAD_QUERIES, ids=[f"{p}?{q}" for p, q, _ in BAD_QUERIES])
def test_a_bad_parameter_is_one_line_and_400(served: Served, client: TestClient, picture: str, query: str,
                                             fragment: str) -> None:
    assert_one_line_error(client.get(served.url(served.mlp, picture, query)), 400, fragment)


@pytest.mark.parametrize("value", ["../../etc/passwd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/etc/passwd",
                                   "%2Fetc%2Fpasswd", "..", "%2e%2e", "runs/mlp/generator.safetensors"])
def test_a_class_that_looks_like_a_path_is_an_unknown_class(served: Served, client: TestClient, value: str) -> None:
    assert_one_line_error(client.get(served.url(served.cgan, query=f"class={value}")), 400, "not one of")


@pytest.mark.parametrize("path", [
    "/api/generators/000000000000/grid.png", "/api/generators/%2e%2e/grid.png",
    "/api/generators/%2e%2e%2f%2e%2e%2fetc%2fpasswd/grid.png", "/api/generators/%2Fetc%2Fpasswd/walk.png",
    "/api/generators/..%2F..%2Fhand%2Fnan.safetensors/grid.png", "/static/%2e%2e/app.py", "/static/..%2fapp.py",
    "/static/%2e%2e%2fcatalogue.py", "/static/page.html", "/api/generators/x/../../static/page.js/grid.png",
    "/api/nothing", "/etc/passwd",
])
def test_unknown_generators_and_paths_are_404_with_one_line(client: TestClient, path: str) -> None:
    assert_one_line_error(client.get(path), 404)


def test_only_get_is_served(served: Served, client: TestClient) -> None:
    assert_one_line_error(client.post(served.url(served.mlp)), 405, "GET")


def test_nan_images_are_refused_with_one_line(served: Served, client: TestClient) -> None:
    seed = next(seed for seed in range(1000) if float(torch.randn(
        16, 8, generator=torch.Generator().manual_seed(seed))[:, 0].abs().max()) > served.nan_threshold * 1.01)
    assert png(client.get(served.url(served.nan, query="seed=0&num=16"))).shape  # the probe's own latents are fine
    assert_one_line_error(client.get(served.url(served.nan, query=f"seed={seed}&num=16")), 422, "NaN or Inf")
    assert png(client.get(served.url(served.nan, query=f"seed={seed}&num=16&truncation=0.5"))).shape  # inside the probe's range


def test_the_rate_limit_answers_429_with_retry_after(served: Served) -> None:
    with TestClient(create_app(served.catalogue, ServeSettings(samples_per_second=1.0)), base_url=LOCAL) as client:
        assert client.get(served.url(served.mlp, query="num=256")).status_code == 200
        assert client.get(served.url(served.mlp, query="num=200")).status_code == 200  # a burst of two grids
        refused = client.get(served.url(served.mlp, query="num=200"))
        assert_one_line_error(refused, 429, "at most 1 per second")
        assert int(refused.headers["retry-after"]) >= 100
        assert client.get("/api/generators").status_code == 200  # listing costs no samples


def test_a_full_queue_refuses_more_work() -> None:
    release = threading.Event()

    async def scenario() -> None:
        worker = SampleWorker(workers=1, max_pending=2)
        waiting = [asyncio.ensure_future(worker.run(release.wait)) for _ in range(2)]
        await asyncio.sleep(0.05)
        assert worker.pending == 2
        with pytest.raises(Busy, match="busy"):
            await worker.run(lambda: None)
        release.set()
        assert await asyncio.gather(*waiting) == [True, True]
        assert worker.pending == 0
        worker.close()

    asyncio.run(scenario())


def test_a_host_header_from_elsewhere_is_refused(served: Served) -> None:
    settings = ServeSettings(allowed_hosts=("127.0.0.1", "localhost"))
    with TestClient(create_app(served.catalogue, settings), base_url=LOCAL) as client:
        assert client.get("/api/generators").status_code == 200
        refused = client.get("/api/generators", headers={"host": "rebound.example:8765"})
        assert_one_line_error(refused, 400, "only to 127.0.0.1, localhost", "'rebound.example:8765'")
        assert client.get("/api/generators", headers={"host": "localhost:8765"}).status_code == 200


# -- several tabs at once ------------------------------------------------------------------------


def test_concurrent_requests_get_the_bytes_sequential_ones_do(served: Served, client: TestClient) -> None:
    urls = [served.url(path, picture, f"seed={seed}&{extra}") for seed in range(4)
            for path, picture, extra in ((served.mlp, "grid", "num=64"), (served.cgan, "grid", "num=32&class=3"),
                                         (served.mlp, "walk", "to_seed=7&steps=8"),
                                         (served.mlp, "grid", "num=16&truncation=0.7"))]
    sequential = [client.get(url).content for url in urls]
    with ThreadPoolExecutor(8) as pool:
        concurrent = list(pool.map(lambda url: client.get(url).content, urls * 2))
    assert concurrent == sequential * 2
    assert len(set(sequential)) == len(urls)


def test_the_event_loop_answers_while_a_picture_renders(served: Served, tmp_path: Path) -> None:
    variant = get_registry().get("variant", "dcgan")
    options = variant.spec.config_model()
    slow = tmp_path / "dcgan.safetensors"
    save_generator(variant.spec.build_generator(options, (1, 32, 32), None), slow, variant="dcgan",
                   model_config=options.model_dump(mode="json"), plugin=variant.plugin)
    app = create_app(Catalogue.load([slow], device="cpu"), ServeSettings(workers=1))
    with TestClient(app, base_url=LOCAL) as client:
        grids = [threading.Thread(target=client.get, args=(f"/api/generators/{generator_id(slow)}/grid.png"
                                                           f"?num=256&seed={seed}",)) for seed in range(3)]
        for grid in grids:
            grid.start()
        while app.state.worker.pending < 3 and all(grid.is_alive() for grid in grids):
            time.sleep(0.001)
        assert client.get("/api/generators").status_code == 200
        assert app.state.worker.pending >= 1  # answered while grids were still in the making (one worker: in turn)
        for grid in grids:
            grid.join()


# -- the command ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_ganzoo_serve_serves_the_page_and_a_grid_until_ctrl_c(served: Served) -> None:
    env = {**os.environ, "COLUMNS": "200"}
    process = subprocess.Popen([sys.executable, "-m", "ganzoo", "serve", str(served.root / "runs"), "--port", "0",
                                "--device", "cpu"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]  # the two runs, then the URL
        url = re.search(r"at (http://127\.0\.0\.1:\d+/)", lines[-1])
        assert url and lines[0].strip().endswith(": ok"), lines
        with urllib.request.urlopen(url.group(1), timeout=30) as page:
            assert b"ganzoo serve" in page.read()
        with urllib.request.urlopen(url.group(1) + served.url(served.mlp)[1:], timeout=30) as image:
            assert image.headers["content-type"] == "image/png" and image.read().startswith(b"\x89PNG")
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Traceback" not in err and err.strip() == ""


def test_ganzoo_serve_without_the_extra_says_how_to_install_it(run_cli, tmp_path: Path) -> None:  # noqa: ANN001
    blocker = tmp_path / "blocked"
    for name in ("starlette", "uvicorn"):
        (blocker / name).mkdir(parents=True)
        (blocker / name / "__init__.py").write_text("raise ImportError('not installed')\n")
    result = run_cli("serve", env={"PYTHONPATH": str(blocker)})
    assert result.returncode == 2
    assert result.stderr.strip() == "error: ganzoo serve needs the serve extra: pip install 'ganzoo[serve]'"


def test_ganzoo_serve_refuses_a_busy_port_a_missing_path_and_nothing_to_serve(run_cli, served: Served,  # noqa: ANN001
                                                                              tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = run_cli("serve", str(served.root / "runs"), "--port", str(port))
    assert busy.returncode == 2 and f"port {port} on 127.0.0.1 is in use" in busy.stderr
    missing = run_cli("serve", "nowhere", "--port", str(_free_port()))
    assert missing.returncode == 2 and "'nowhere' does not exist" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = run_cli("serve", "empty", "--port", str(_free_port()))
    assert empty.returncode == 2 and "no .safetensors files under 'empty'" in empty.stderr
    assert "Traceback" not in busy.stderr + missing.stderr + empty.stderr


def test_a_host_ganzoo_cannot_listen_on_is_one_error_line_and_no_warning(run_cli) -> None:  # noqa: ANN001
    """The beyond-this-machine warning comes once the socket is bound; a host that is not this
    machine's, or does not resolve, is one error line and nothing else."""
    for host, problem in (("192.0.2.1", "cannot listen on 192.0.2.1"),  # TEST-NET-1: never this machine
                          ("nonexistent.invalid", "--host 'nonexistent.invalid' is not an address of this machine")):
        result = run_cli("serve", "--host", host, "--port", str(_free_port()))
        assert result.returncode == 2 and result.stdout == "", result.stdout
        assert problem in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr


def test_ganzoo_serve_warns_once_it_listens_beyond_this_machine(run_cli, tmp_path: Path) -> None:  # noqa: ANN001
    (tmp_path / "empty").mkdir()  # nothing to serve: it stops right after binding, having warned
    result = run_cli("serve", "empty", "--host", "0.0.0.0", "--port", str(_free_port()))
    assert result.stdout.startswith("warning: listening on 0.0.0.0, not 127.0.0.1: anyone who can reach")
    assert result.returncode == 2 and "no .safetensors files under 'empty'" in result.stderr
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")


def test_a_damaged_metrics_log_still_lists_its_generator(served: Served) -> None:
    """NaN or infinite metrics in a damaged log never break the listing (JSON has no NaN)."""
    log = served.mlp.parent / "metrics.jsonl"
    original = log.read_text()
    try:
        log.write_text(original + '{"kind": "step", "step": 3, "elapsed_s": 1.0, "d_loss": NaN, "g_loss": Infinity}\n'
                       + "not json\n")
        entry = Catalogue.load([served.mlp]).get(generator_id(served.mlp))
        assert entry.run is not None and entry.run.step == 3 and entry.run.last_metrics == {}
        json.dumps(entry.to_json(), allow_nan=False)
    finally:
        log.write_text(original)
