"""The two data paths on one synthetic folder: in memory (decoded once) vs streamed (decoded by
DataLoader workers every epoch) vs streamed from the ``data.cache_dir`` array.

Each case loads the dataset and reads one epoch of batches in ``epoch_order``, as the run loop
does, and records the time to load, the images per second through the batches, and the main
process's peak resident memory above where it started (sampled from ``/proc/self/statm``; the
workers' own memory is not in it). Nothing is trained: this is the data path alone.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from measure import Settings
from PIL import Image

from ganzoo.core.options import DataConfig
from ganzoo.data.dataset import epoch_order
from ganzoo.training.build import load_dataset

SMOKE = Settings.from_environment().smoke
NUM_IMAGES = 256 if SMOKE else 4096
IMAGE_SIZE, BATCH_SIZE, WORKERS = 32, 64, 2
CASES = {"in-memory": {"stream": False}, "streamed": {"stream": True, "workers": WORKERS},
         "streamed-cached": {"stream": True, "workers": WORKERS, "cache_dir": "cache"}}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``NUM_IMAGES`` 48x40 RGB PNGs in ten class folders, resized to 32x32 when read."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for index in range(NUM_IMAGES):
        target = root / f"class_{index % 10}"
        target.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(target / f"{index:05d}.png")
    load_dataset(DataConfig(name="image-folder", root=root, image_size=IMAGE_SIZE, limit=8))  # imports, warm
    return root


@contextmanager
def peak_rss_growth() -> Iterator[list[int]]:
    """Yields a list that holds, after the block, the peak growth of this process's resident memory."""
    page = os.sysconf("SC_PAGE_SIZE")

    def resident() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * page

    start, peak, done = resident(), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], resident() - start)
            done.wait(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    result: list[int] = []
    try:
        yield result
    finally:
        done.set()
        sampler.join()
        result.append(max(peak[0], resident() - start))


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="resident memory is read from /proc (Linux)")
@pytest.mark.parametrize("path", list(CASES))
def test_data_path_memory_and_throughput(benchmark, record, tmp_path: Path, folder: Path, path: str) -> None:
    settings = {key: (str(tmp_path / value) if key == "cache_dir" else value) for key, value in CASES[path].items()}
    config = DataConfig(name="image-folder", root=folder, image_size=IMAGE_SIZE, **settings)
    if "cache_dir" in settings:
        load_dataset(config)  # the cache is written once; what is measured is reading it
    measured: dict[str, float] = {}

    def load_and_read_one_epoch() -> None:
        with peak_rss_growth() as growth:
            start = time.perf_counter()
            dataset = load_dataset(config)
            loaded = time.perf_counter()
            order = epoch_order(len(dataset), seed=0, epoch=0)
            count = sum(len(batch.images) for batch in dataset.batches(order, start=0, batch_size=BATCH_SIZE))
            finished = time.perf_counter()
        measured.update(load_s=loaded - start, epoch_s=finished - loaded, images=count, rss_growth=growth[0])

    benchmark.pedantic(load_and_read_one_epoch, rounds=1, iterations=1)
    record(benchmark, kind="data", workload=f"{path} {NUM_IMAGES}x3x{IMAGE_SIZE}x{IMAGE_SIZE}",
           load_s=measured["load_s"], epoch_s=measured["epoch_s"],
           images_per_s=measured["images"] / measured["epoch_s"], peak_rss_growth_bytes=measured["rss_growth"],
           workers=config.workers)
