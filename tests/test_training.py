"""Training end to end on 8 Gaussians: coverage, run-directory layout, determinism."""

import json

import pytest
import torch

from ganforget.config import resolve
from ganforget.presets import preset
from ganforget.train import session
from ganforget.train.rundir import RunDir


def _train(tmp_path, name, overrides, sub="run"):
    cfg = resolve(preset(name), [f"out={tmp_path / sub}", "train.progress=false", *overrides])
    out = session.train(cfg, progress=False, log=lambda *_: None)
    assert out.status == "done", out.message
    return out.run


@pytest.mark.slow
def test_r1_adam_covers_most_modes(tmp_path):
    run = _train(
        tmp_path,
        "ring8-r1",
        [
            "optim.name=adam",
            "train.iterations=2000",
            "train.coverage_every=2000",
            "train.sample_every=2000",
            "train.checkpoint_every=2000",
            "train.seeds=[0]",
        ],
    )
    cov = [r for r in run.metrics() if "modes" in r][-1]
    assert cov["it"] == 2000
    assert cov["modes"][0] >= 6, cov


def test_ns_sgd_writes_the_run_layout(tmp_path):
    run = _train(
        tmp_path,
        "ring8-ns-sgd",
        [
            "train.iterations=300",
            "train.log_every=50",
            "train.coverage_every=100",
            "train.sample_every=150",
            "train.checkpoint_every=150",
            "train.seeds=[0,1]",
        ],
    )
    p = run.path
    assert (p / "config.yaml").is_file()
    assert RunDir(p).config().train.seeds == [0, 1]  # readable without the original config
    lines = [json.loads(x) for x in (p / "metrics.jsonl").read_text().splitlines()]
    losses = [r for r in lines if "d_loss" in r]
    assert [r["it"] for r in losses] == [50, 100, 150, 200, 250, 300]
    assert all(len(r["d_loss"]) == 2 and len(r["g_loss"]) == 2 for r in losses)
    assert [r["it"] for r in lines if "modes" in r] == [100, 200, 300]
    ckpts = sorted(x.name for x in (p / "checkpoints").iterdir())
    assert ckpts == ["ckpt-00000150.pt", "ckpt-00000300.pt"]
    assert sorted(x.name for x in (p / "samples").iterdir()) == ["it00000150.png", "it00000300.png"]


def test_same_config_and_seed_give_identical_metrics(tmp_path):
    over = [
        "train.iterations=200",
        "train.log_every=20",
        "train.coverage_every=100",
        "objective.penalty=0gp",
        "objective.weight=1",
    ]
    a = _train(tmp_path, "ring8-ns-sgd", over, "a")
    b = _train(tmp_path, "ring8-ns-sgd", over, "b")
    assert a.metrics_path.read_bytes() == b.metrics_path.read_bytes()
    c = _train(tmp_path, "ring8-ns-sgd", [*over, "train.seeds=[1]"], "c")
    assert a.metrics_path.read_bytes() != c.metrics_path.read_bytes()


def test_existing_run_directory_is_refused(tmp_path):
    over = ["train.iterations=20", "train.log_every=10"]
    _train(tmp_path, "ring8-ns-sgd", over)
    cfg = resolve(preset("ring8-ns-sgd"), [f"out={tmp_path / 'run'}", *over])
    with pytest.raises(Exception, match="already"):
        session.train(cfg, progress=False)
    cfg2 = resolve(preset("ring8-r1"), [f"out={tmp_path / 'run'}", *over])
    with pytest.raises(Exception, match="different run"):
        session.train(cfg2, progress=False)


def test_five_seed_run_draws_samples(tmp_path):
    # More members than sample panels (4): every member still runs, four are drawn.
    run = _train(
        tmp_path,
        "ring8-ns-sgd",
        ["train.iterations=20", "train.log_every=10", "train.seeds=[0,1,2,3,4]"],
    )
    assert (run.path / "samples" / "it00000020.png").stat().st_size > 5000


def test_mnist_mlp_trains_on_real_data(tmp_path, shared_data):
    run = _train(
        tmp_path,
        "mnist-mlp-ns-adam",
        [
            f"data.root={shared_data / 'mnist'}",
            "train.iterations=20",
            "train.log_every=10",
            "model.hidden=64",
            "train.seeds=[0,1]",
        ],
    )
    assert [r["it"] for r in run.metrics() if "d_loss" in r] == [10, 20]
    assert (run.path / "samples" / "it00000020.png").exists()


def test_dcgan_trains_on_an_image_folder(tmp_path):
    from PIL import Image

    folder = tmp_path / "faces"
    folder.mkdir()
    g = torch.Generator().manual_seed(0)
    for k in range(12):
        arr = (torch.rand(50, 40, 3, generator=g) * 255).to(torch.uint8).numpy()
        Image.fromarray(arr).save(folder / f"{k:03d}.png")
    run = _train(
        tmp_path,
        "celeba-dcgan",
        [
            f"data.root={folder}",
            "model.ngf=4",
            "model.ndf=4",
            "model.nz=8",
            "data.batch_size=4",
            "train.iterations=4",
            "train.log_every=2",
            "objective.penalty=r1",
            "objective.weight=1",
            "train.seeds=[0,1]",
        ],
    )
    assert [r["it"] for r in run.metrics() if "d_loss" in r] == [2, 4]
    assert run.config().data.image_size == 64
