import matplotlib.image as mpimg
import numpy as np
import pytest
import torch

from ganforget.errors import GanforgetError
from ganforget.objectives import Objective
from ganforget.plots.probes import plot_field, plot_forgetting, plot_landscapes
from ganforget.probes.field import grid, integral_curves, vector_field

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def check_png(path):
    assert path.exists() and path.read_bytes()[:8] == PNG_MAGIC
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    # something was drawn: many distinct colours, not a blank canvas
    rgb = np.round(img[..., :3] * 255).astype(np.int64)
    codes = rgb[..., 0] * 65536 + rgb[..., 1] * 256 + rgb[..., 2]
    assert len(np.unique(codes)) > 20
    return img


def test_plot_landscapes_real_and_fake_anchors(tmp_path):
    ks = torch.linspace(-10, 10, 41)
    curves = torch.stack([-(ks**2) + i for i in range(3)] + [ks * (i + 1) for i in range(3)])
    out = plot_landscapes(
        curves,
        ks,
        tmp_path / "land.png",
        title="landscapes",
        ncols=3,
        is_real=[True] * 3 + [False] * 3,
    )
    img = check_png(out)
    # both the real (blue) and fake (red) colours appear
    rgb = img[..., :3]
    blue = np.array([0x1F, 0x77, 0xB4]) / 255
    red = np.array([0xD6, 0x27, 0x28]) / 255
    assert (np.abs(rgb - blue).sum(-1) < 0.05).sum() > 50
    assert (np.abs(rgb - red).sum(-1) < 0.05).sum() > 50


def test_plot_landscapes_with_several_directions(tmp_path):
    ks = np.linspace(-5, 5, 11)
    curves = np.random.default_rng(0).normal(size=(4, 3, 11))
    check_png(plot_landscapes(curves, ks, tmp_path / "sub" / "land.png"))  # makes the folder


def test_plot_field_like_fig1(tmp_path):
    c = torch.tensor([[1.0, 1.0], [-1.0, -1.0]])

    def D(x):
        return -torch.cdist(x, c).pow(2).min(dim=1).values

    obj = Objective("wgan")
    pts = grid(n=15)
    fakes = torch.tensor([[0.0, 1.5], [1.5, -0.5], [-1.5, 0.2]])
    curves = integral_curves(D, obj, fakes, 20, 0.05)
    out = plot_field(
        pts,
        vector_field(D, obj, pts),
        tmp_path / "field.png",
        real=c,
        fakes=fakes,
        curves=curves,
        box=(0.5, 1.5, 0.5, 1.5),
        title="field",
    )
    check_png(out)


def test_plot_forgetting_like_fig11(tmp_path):
    it = np.arange(0, 1000, 50)
    scores = np.random.default_rng(1).uniform(size=(len(it), 8))
    check_png(plot_forgetting(it, scores, tmp_path / "f.png", bank_iteration=200, threshold=0.5))
    check_png(
        plot_forgetting(
            it, scores, tmp_path / "g.png", bank_iteration=200, threshold=np.linspace(0, 1, len(it))
        )
    )


def test_plot_bad_shapes_raise(tmp_path):
    with pytest.raises(GanforgetError):
        plot_landscapes(np.zeros((2, 5)), np.zeros(4), tmp_path / "x.png")
    with pytest.raises(GanforgetError):
        plot_field(np.zeros((3, 2)), np.zeros((4, 2)), tmp_path / "y.png")
    with pytest.raises(GanforgetError):
        plot_forgetting(np.arange(3), np.zeros((4, 2)), tmp_path / "z.png", bank_iteration=0)
