"""Paper figures and tables as registered experiments (`ganforget reproduce NAME`)."""

from ganforget.experiments.registry import EXPERIMENTS, Experiment, get, register

__all__ = ["EXPERIMENTS", "Experiment", "get", "register"]
