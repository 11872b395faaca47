"""``ganzoo serve``: time from request to image, over real HTTP on the loopback interface.

The server is the real one (uvicorn in a thread, the app, the worker pool); the client keeps
one connection open, as a browser tab does, and asks for a grid of ``NUM_SAMPLES`` from a new
seed each round. Beside it, the same grid rendered in-process (``grid_png``, no HTTP, no
worker), so the report can give the server's overhead as a ratio. The generators are freshly
built (speed does not depend on what they learnt). Nothing here asserts a time.
"""

from __future__ import annotations

import http.client
import itertools
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytest.importorskip("starlette", reason="needs the serve extra: pip install 'ganzoo[serve]'")

from measure import Settings, model_name  # noqa: E402
from test_sampling import write_generator  # noqa: E402

from ganzoo.serve.app import ServeSettings, create_app  # noqa: E402
from ganzoo.serve.catalogue import Catalogue, generator_id  # noqa: E402
from ganzoo.serve.rendering import grid_png  # noqa: E402
from ganzoo.serve.server import ServerThread  # noqa: E402

SMOKE = Settings.from_environment().smoke
NUM_SAMPLES = 64
ROUNDS = 2 if SMOKE else 20
CASES = (("mlp", 32), ("dcgan", 32))


@pytest.mark.parametrize(("variant", "image_size"), CASES, ids=[model_name(v, s) for v, s in CASES])
def test_request_to_image(benchmark, record, settings: Settings, tmp_path: Path, variant: str,
                          image_size: int) -> None:
    path = write_generator(variant, image_size, tmp_path / "generator.safetensors")
    catalogue = Catalogue.load([path], device=settings.device)
    entry = catalogue.get(generator_id(path))
    seeds = itertools.count()
    server = ServerThread(create_app(catalogue, ServeSettings(samples_per_second=1e9, burst=10**9))).start()
    address = urlsplit(server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=120)
    served: list[float] = []

    def request() -> None:
        start = time.perf_counter()
        connection.request("GET", f"/api/generators/{entry.id}/grid.png?num={NUM_SAMPLES}&seed={next(seeds)}")
        response = connection.getresponse()
        body = response.read()
        served.append(time.perf_counter() - start)
        assert response.status == 200 and body.startswith(b"\x89PNG"), body[:200]

    try:
        benchmark.pedantic(request, rounds=ROUNDS, iterations=1, warmup_rounds=0 if SMOKE else 2)
    finally:
        connection.close()
        server.stop()
    rendered = []
    for seed in range(ROUNDS):
        start = time.perf_counter()
        grid_png(entry.generator, path, num=NUM_SAMPLES, seed=seed, label=None, truncation=1.0)
        rendered.append(time.perf_counter() - start)
    timed = sorted(served[-ROUNDS:])  # warm-up rounds left out
    request_s, render_s = timed[len(timed) // 2], sorted(rendered)[len(rendered) // 2]
    record(benchmark, kind="serve", workload=model_name(variant, image_size), num_samples=NUM_SAMPLES,
           request_s=request_s, render_s=render_s, overhead=request_s / render_s)
