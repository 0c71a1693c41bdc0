"""Training: the trainer, its callbacks, checkpoints and the run directory."""

from ganforget.train.rundir import RunDir
from ganforget.train.trainer import Trainer

__all__ = ["RunDir", "Trainer"]
