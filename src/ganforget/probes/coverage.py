"""Mode coverage of samples from a mixture of Gaussians (the VEEGAN / PacGAN protocol).

Each sample is assigned to its nearest mode centre. A sample is *high quality* when it lies
within ``sigmas`` standard deviations of that centre; a mode is *covered* when at least one
high-quality sample is assigned to it. ``reverse_kl`` compares the histogram of high-quality
samples over the modes with the uniform distribution over the modes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from ganforget.errors import GanforgetError


@dataclass(frozen=True)
class ModeCoverage:
    """Mode coverage of one sample set.

    * ``modes``: number of covered modes (0..K).
    * ``high_quality``: fraction of samples within ``sigmas·std`` of their nearest centre.
    * ``reverse_kl``: KL(p_gen ‖ uniform over the K modes) in nats, where p_gen is the
      histogram of high-quality samples over their nearest modes (0·log 0 = 0). It lies in
      [0, log K]; it is ``inf`` when no sample is of high quality (p_gen does not exist, and
      "no mode at all" is worse than any collapse onto one mode, whose value is log K).
    * ``counts``: number of high-quality samples per mode, in the order of ``centers``.
    """

    modes: int
    high_quality: float
    reverse_kl: float
    counts: list[int]

    def to_dict(self) -> dict:
        """Return the fields as a plain dict (``reverse_kl`` may be ``inf``)."""
        return asdict(self)


def mode_coverage(
    samples: torch.Tensor, centers: torch.Tensor, std: float, *, sigmas: float = 3.0
) -> ModeCoverage:
    """Return the :class:`ModeCoverage` of ``samples`` ``[N, d]`` w.r.t. ``centers`` ``[K, d]``.

    ``std`` is the standard deviation of each mixture component (same units as the data);
    a sample is high quality when its Euclidean distance to the nearest centre is at most
    ``sigmas * std``. Ties in the nearest centre go to the first centre.
    """
    if samples.dim() < 2 or samples.shape[0] == 0:
        raise GanforgetError(
            f"mode_coverage got samples of shape {tuple(samples.shape)}; pass a non-empty [N, d]"
        )
    if centers.dim() < 2 or centers.shape[0] == 0:
        raise GanforgetError(
            f"mode_coverage got centers of shape {tuple(centers.shape)}; pass a non-empty [K, d]"
        )
    x = samples.detach().reshape(samples.shape[0], -1)
    c = centers.detach().reshape(centers.shape[0], -1).to(x)
    if x.shape[1] != c.shape[1]:
        raise GanforgetError(
            f"mode_coverage: samples have {x.shape[1]} dims but centers have {c.shape[1]}; "
            "pass centres of the same data space"
        )
    if not (std > 0 and sigmas > 0):
        raise GanforgetError(f"mode_coverage needs std > 0 and sigmas > 0, got {std}, {sigmas}")
    k = c.shape[0]
    dist = torch.cdist(x, c)  # [N, K]
    nearest_dist, nearest = dist.min(dim=1)
    hq = nearest_dist <= sigmas * std
    counts = torch.bincount(nearest[hq], minlength=k)
    n_hq = int(counts.sum())
    if n_hq == 0:
        kl = math.inf
    else:
        p = counts.double() / n_hq
        nz = p > 0
        kl = float((p[nz] * torch.log(p[nz] * k)).sum())
    return ModeCoverage(
        modes=int((counts > 0).sum()),
        high_quality=float(hq.double().mean()),
        reverse_kl=kl,
        counts=[int(v) for v in counts.tolist()],
    )
