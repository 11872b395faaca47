"""DDP on CPU: two gloo ranks stay identical and reproduce one process with the global batch.

Tolerance: after each step every weight of the 2-rank run equals the single-process run's
within atol 1e-5 + rtol 1e-4. Float sums in another order differ by about 1e-6 here; one SGD
step moves the weights by about 1e-3, so a wrong shard, duplicated noise or a gradient that
is not averaged fails by two orders of magnitude.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch
from safetensors.torch import load_file

from ganzoo.runtime.distributed import Cluster, without_nproc
from ganzoo.training.loop import train

WORKER = Path(__file__).with_name("distributed_worker.py")
STEPS, PER_RANK = 3, 16


def torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def worker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("distributed_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_two_ranks_hold_identical_weights_and_match_one_process(tmp_path):
    torchrun(str(WORKER), str(tmp_path), str(PER_RANK), str(STEPS), cwd=tmp_path)
    rank0, rank1 = torch.load(tmp_path / "rank-0.pt"), torch.load(tmp_path / "rank-1.pt")
    (tmp_path / "single").mkdir()
    worker().main(tmp_path / "single", 2 * PER_RANK, STEPS)
    reference = torch.load(tmp_path / "single" / "rank-0.pt")
    assert len(rank0) == len(rank1) == len(reference) == STEPS
    worker().assert_ranks_agree_with_one_process(rank0, rank1, reference)


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason="KNOWN DEFECT, open: since the run-claim change (0eaafcd) rank 1 of a "
                   "`--nproc 2 --resume` sometimes aborts at exit ('terminate called without an active exception'), "
                   "about 2 runs in 5; 0 in 6 before it. Kept running so that it shows as XFAIL/XPASS until fixed.")
def test_nproc_trains_resumes_and_only_rank_0_writes(tmp_path, run_cli):
    common = ["train", "mlp", "--device", "cpu", "--limit", "256", "--image-size", "8", "--batch-size", str(PER_RANK),
              "--out", "ddp", "--set", "model.batch_norm=false", "--set", "run.log_every_steps=1"]
    first = run_cli(*common, "--max-steps", "2", "--nproc", "2", env={"OMP_NUM_THREADS": "1"})
    assert first.returncode == 0, first.stderr[-3000:]
    assert "global batch 32 = 16 per rank x 2" in first.stdout + first.stderr
    second = run_cli(*common, "--max-steps", "4", "--nproc=2", "--resume", "--quiet", env={"OMP_NUM_THREADS": "1"})
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stdout.count("trained mlp for 4 steps (128 images") == 1  # rank 0 reports, once

    lines = [json.loads(line) for line in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines if line["kind"] == "step"] == [1, 2, 3, 4]

    from ganzoo.core.registry import get_registry
    from ganzoo.training.plan import make_plan
    reference = make_plan([{"variant": "mlp", "model": {"batch_norm": False},
                               "data": {"limit": 256, "image_size": 8},
                               "run": {"device": "cpu", "batch_size": 2 * PER_RANK, "max_steps": 4,
                                       "out_dir": str(tmp_path / "single"), "log_every_steps": 1}}], get_registry())
    single = train(reference)
    ddp_weights, single_weights = load_file(tmp_path / "ddp" / "generator.safetensors"), load_file(single.generator_path)
    for name, value in single_weights.items():
        torch.testing.assert_close(ddp_weights[name], value, atol=1e-5, rtol=1e-4)


def test_shards_cover_each_global_batch_once_in_order():
    order = torch.randperm(70)
    shards = [Cluster(rank=r, world_size=3, backend="gloo").shard(order, batch_size=4) for r in range(3)]
    assert all(len(shard) == 20 for shard in shards)  # 70 // 12 = 5 global batches of 3 x 4
    for j in range(5):
        rebuilt = torch.cat([shard[4 * j:4 * (j + 1)] for shard in shards])
        assert torch.equal(rebuilt, order[12 * j:12 * (j + 1)])


def test_nproc_is_taken_out_of_the_relaunched_command():
    assert without_nproc(["train", "mlp", "--nproc", "2", "--epochs", "1"]) == ["train", "mlp", "--epochs", "1"]
    assert without_nproc(["train", "--nproc=4", "mlp"]) == ["train", "mlp"]
