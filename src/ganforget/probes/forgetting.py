"""Catastrophic forgetting in D: does D_t still reject the fakes G produced long ago?

The probe keeps *banks* of fixed fakes G_s(z_fixed), taken at chosen iterations s, and a bank
of real points. At each check t it scores every bank with D_t. A fake of an older bank
(s < t) that D_t classifies as real is one D has forgotten (the paper's Fig. 11). The
*forgetting index* at t is the mean, over the older banks, of the fraction classified as
real; the *volatility* of a fixed fake is the standard deviation of its score over time.

Classified as real means score > threshold, with score = ``objective.score(D(x))``. The
threshold is 0.5 for ``ns`` (D(x) > 0) and, for ``wgan`` (whose logits have no fixed scale
or offset), the median score of the real bank under the same D_t: a fake counts as real when
D_t scores it above a typical real point. A fixed ``threshold`` overrides both rules.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ganforget.errors import CheckpointError, GanforgetError
from ganforget.probes.landscape import logits_in_batches

Discriminator = Callable[[torch.Tensor], torch.Tensor]
STATE_VERSION = 1


class ForgettingProbe:
    """Scores fixed banks of fakes (and a real bank) with D over training.

    ``objective`` supplies ``score`` and ``loss``; ``real`` is ``[n_real, *data_shape]``;
    ``threshold`` fixes the score threshold (default: 0.5 for ns, real median for wgan);
    D is called on chunks of at most ``batch_size`` points.
    """

    def __init__(
        self,
        objective,
        real: torch.Tensor,
        *,
        threshold: float | None = None,
        batch_size: int = 4096,
    ) -> None:
        if real.dim() < 2 or real.shape[0] == 0:
            raise GanforgetError(
                f"ForgettingProbe got real of shape {tuple(real.shape)}; pass [n_real, *shape]"
            )
        self.objective = objective
        self.threshold = None if threshold is None else float(threshold)
        self.batch_size = batch_size
        self.real = real.detach().clone()
        self.bank_iterations: list[int] = []
        self.banks: list[torch.Tensor] = []
        self._iterations: list[int] = []
        self._thresholds: list[float] = []
        self._real_scores: list[torch.Tensor] = []
        self._fake_scores: list[list[torch.Tensor]] = []

    # --- banks ------------------------------------------------------------------------------
    def add_bank(self, iteration: int, fakes: torch.Tensor) -> None:
        """Keep a copy of ``fakes`` ``[bank_size, *data_shape]`` as the bank of ``iteration``.

        Bank iterations must increase and all banks must have the same size (the fakes of one
        fixed z batch).
        """
        iteration = int(iteration)
        if tuple(fakes.shape[1:]) != tuple(self.real.shape[1:]) or fakes.shape[0] == 0:
            raise GanforgetError(
                f"bank of shape {tuple(fakes.shape)} does not match real points "
                f"{tuple(self.real.shape)}; pass [bank_size, *data_shape]"
            )
        if self.banks and fakes.shape[0] != self.banks[0].shape[0]:
            raise GanforgetError(
                f"bank of {fakes.shape[0]} fakes differs from the first bank's "
                f"{self.banks[0].shape[0]}; take every bank from the same fixed z"
            )
        if self.bank_iterations and iteration <= self.bank_iterations[-1]:
            raise GanforgetError(
                f"bank iteration {iteration} is not after the last bank "
                f"({self.bank_iterations[-1]}); add banks in training order"
            )
        self.bank_iterations.append(iteration)
        self.banks.append(fakes.detach().clone())

    # --- checks -----------------------------------------------------------------------------
    def _threshold_for(self, real_scores: torch.Tensor) -> float:
        if self.threshold is not None:
            return self.threshold
        if self.objective.loss == "ns":
            return 0.5
        return float(real_scores.double().quantile(0.5))

    def record(self, iteration: int, D: Discriminator) -> dict:
        """Score every bank with D (eval mode, no grad), store the scores, return a summary.

        Returns a JSON-ready dict: ``iteration``, ``threshold``, ``real_score_mean``,
        ``real_frac_real``, ``banks`` (per bank: ``iteration``, ``score_mean``,
        ``frac_real``, ``old`` = bank iteration < this iteration), ``n_old_banks`` and
        ``forgetting_index`` (mean ``frac_real`` over old banks; None without an old bank).
        """
        iteration = int(iteration)
        x = torch.cat([self.real, *self.banks]) if self.banks else self.real
        scores = self.objective.score(logits_in_batches(D, x, batch_size=self.batch_size))
        scores = scores.detach().cpu()
        n_real = self.real.shape[0]
        real_scores = scores[:n_real]
        fake_scores = list(scores[n_real:].split(self.banks[0].shape[0])) if self.banks else []
        self._iterations.append(iteration)
        self._real_scores.append(real_scores)
        self._fake_scores.append(fake_scores)
        self._thresholds.append(self._threshold_for(real_scores))
        return self._summary(-1)

    def _summary(self, r: int) -> dict:
        t, thr = self._iterations[r], self._thresholds[r]
        banks = []
        # a check sees only the banks added before it: zip stops at its own scores
        for s, sc in zip(self.bank_iterations, self._fake_scores[r], strict=False):
            banks.append(
                {
                    "iteration": s,
                    "score_mean": float(sc.double().mean()),
                    "frac_real": float((sc > thr).double().mean()),
                    "old": s < t,
                }
            )
        old = [b["frac_real"] for b in banks if b["old"]]
        real = self._real_scores[r]
        return {
            "iteration": t,
            "threshold": thr,
            "real_score_mean": float(real.double().mean()),
            "real_frac_real": float((real > thr).double().mean()),
            "banks": banks,
            "n_old_banks": len(old),
            "forgetting_index": float(np.mean(old)) if old else None,
        }

    def records(self) -> list[dict]:
        """Return the summary dict of every check so far, in call order."""
        return [self._summary(r) for r in range(len(self._iterations))]

    # --- arrays -----------------------------------------------------------------------------
    def history(self) -> dict[str, np.ndarray]:
        """Return every check as numpy arrays (ready for ``np.savez``).

        With T checks, B banks of n fakes and n_real real points:
        ``iterations`` [T], ``bank_iterations`` [B], ``thresholds`` [T],
        ``real_scores`` [T, n_real], ``fake_scores`` [T, B, n] (NaN where the bank was added
        after the check), ``frac_real`` [T, B] (NaN likewise) and ``forgetting_index`` [T]
        (NaN without an old bank).
        """
        t_count, b_count = len(self._iterations), len(self.banks)
        n = self.banks[0].shape[0] if self.banks else 0
        fake = np.full((t_count, b_count, n), np.nan)
        frac = np.full((t_count, b_count), np.nan)
        findex = np.full(t_count, np.nan)
        for r in range(t_count):
            for b, sc in enumerate(self._fake_scores[r]):
                fake[r, b] = sc.double().numpy()
            summary = self._summary(r)
            for b, entry in enumerate(summary["banks"]):
                frac[r, b] = entry["frac_real"]
            if summary["forgetting_index"] is not None:
                findex[r] = summary["forgetting_index"]
        n_real = self.real.shape[0]
        real = torch.stack(self._real_scores).double().numpy() if t_count else np.zeros((0, n_real))
        return {
            "iterations": np.asarray(self._iterations, dtype=np.int64),
            "bank_iterations": np.asarray(self.bank_iterations, dtype=np.int64),
            "thresholds": np.asarray(self._thresholds, dtype=np.float64),
            "real_scores": real,
            "fake_scores": fake,
            "frac_real": frac,
            "forgetting_index": findex,
        }

    def volatility(self) -> np.ndarray:
        """Return per fixed fake the std over checks of its score, as ``[B, n]``.

        Population std (ddof 0) over the checks at which the bank existed; NaN for a bank
        seen by fewer than two checks.
        """
        fake = self.history()["fake_scores"]
        seen = (~np.isnan(fake)).sum(axis=0)
        out = np.full(fake.shape[1:], np.nan)
        ok = seen >= 2
        if ok.any():
            with np.errstate(invalid="ignore"):
                out[ok] = np.nanstd(fake, axis=0)[ok]
        return out

    # --- checkpointing ----------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Return the probe's full state (tensors, lists and numbers only)."""
        return {
            "version": STATE_VERSION,
            "loss": self.objective.loss,
            "threshold": self.threshold,
            "real": self.real.clone(),
            "bank_iterations": list(self.bank_iterations),
            "banks": [b.clone() for b in self.banks],
            "iterations": list(self._iterations),
            "thresholds": list(self._thresholds),
            "real_scores": [s.clone() for s in self._real_scores],
            "fake_scores": [[s.clone() for s in row] for row in self._fake_scores],
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a state from :meth:`state_dict`; later records match an unbroken run."""
        keys = {
            "version", "loss", "threshold", "real", "bank_iterations", "banks",
            "iterations", "thresholds", "real_scores", "fake_scores",
        }  # fmt: skip
        if not isinstance(state, dict) or not keys <= set(state):
            missing = sorted(keys - set(state)) if isinstance(state, dict) else sorted(keys)
            raise CheckpointError(
                f"forgetting probe state lacks {missing}; the checkpoint is "
                "incomplete or from another tool"
            )
        if state["version"] != STATE_VERSION:
            raise CheckpointError(
                f"forgetting probe state version {state['version']} is not "
                f"{STATE_VERSION}; resume with the matching ganforget version"
            )
        if state["loss"] != self.objective.loss:
            raise CheckpointError(
                f"forgetting probe state is for loss '{state['loss']}' but "
                f"the objective is '{self.objective.loss}'; resume the same run"
            )
        per_check = {len(state[k]) for k in ("iterations", "thresholds", "real_scores")}
        per_check.add(len(state["fake_scores"]))
        if len(per_check) != 1 or len(state["banks"]) != len(state["bank_iterations"]):
            raise CheckpointError(
                "forgetting probe state has lists of different lengths; the checkpoint is corrupted"
            )
        self.threshold = state["threshold"]
        self.real = state["real"].clone()
        self.bank_iterations = [int(s) for s in state["bank_iterations"]]
        self.banks = [b.clone() for b in state["banks"]]
        self._iterations = [int(t) for t in state["iterations"]]
        self._thresholds = [float(v) for v in state["thresholds"]]
        self._real_scores = [s.clone() for s in state["real_scores"]]
        self._fake_scores = [[s.clone() for s in row] for row in state["fake_scores"]]
