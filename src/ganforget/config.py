"""Run configuration: typed sections, safe YAML, ``key=value`` overrides, one-line errors.

A config is a tree of dataclasses. Every field carries its allowed values or range in its
metadata, and :func:`validate` checks them all before training starts, so a typo or a bad
value fails with one line that names the key, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ganforget.errors import ConfigError


def opt(default, *, choices=None, ge=None, gt=None, le=None, help=""):
    """A config field with its allowed values (``choices``) or range (``ge``, ``gt``, ``le``)."""
    meta = {"choices": choices, "ge": ge, "gt": gt, "le": le, "help": help}
    if isinstance(default, list | dict):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class DataConfig:
    name: str = opt(
        "ring8", choices=("ring8", "grid25", "mnist", "cifar10", "folder"), help="dataset"
    )
    root: str | None = opt(None, help="directory of an image dataset (mnist, cifar10, folder)")
    batch_size: int = opt(64, ge=1, help="samples per batch, per seed")
    image_size: int | None = opt(None, ge=8, help="resize images to this size (None: native)")
    std: float | None = opt(None, gt=0, help="toy mode std (None: 0.02 ring8, 0.05 grid25)")
    radius: float = opt(1.0, gt=0, help="ring8 radius")


@dataclass
class ModelConfig:
    arch: str = opt("mlp", choices=("mlp", "dcgan"), help="network family")
    nz: int = opt(2, ge=1, help="latent dimension")
    hidden: int = opt(64, ge=1, help="MLP hidden width")
    depth: int = opt(2, ge=1, help="MLP hidden layers")
    act: str = opt("relu", choices=("relu", "leaky_relu", "tanh"), help="MLP activation")
    ngf: int = opt(64, ge=1, help="DCGAN generator width")
    ndf: int = opt(64, ge=1, help="DCGAN discriminator width")


@dataclass
class ObjectiveConfig:
    loss: str = opt("ns", choices=("ns", "wgan"), help="base loss of Table I")
    penalty: str | None = opt(None, choices=(None, "r1", "0gp", "1gp"), help="gradient penalty")
    weight: float = opt(0.0, ge=0, help="penalty weight λ")
    real_weight: float = opt(1.0, gt=0, help="imbalanced real-loss weight γ")


@dataclass
class OptimConfig:
    name: str = opt("sgd", choices=("sgd", "adam"), help="optimizer of both players")
    lr_d: float = opt(3e-3, gt=0, help="D learning rate")
    lr_g: float = opt(3e-3, gt=0, help="G learning rate")
    momentum: float = opt(0.0, ge=0, le=1, help="SGD momentum (a remedy of Section V)")
    betas: list[float] = opt([0.5, 0.99], help="Adam betas")
    n_critic: int = opt(1, ge=1, help="D steps per G step")


@dataclass
class TrainConfig:
    iterations: int = opt(20000, ge=1, help="G steps")
    seeds: list[int] = opt([0], help="seeds trained together as one vectorised ensemble")
    device: str = opt("auto", choices=("auto", "cpu", "cuda"), help="where to train")
    log_every: int = opt(100, ge=1, help="iterations between metrics.jsonl lines")
    sample_every: int = opt(5000, ge=1, help="iterations between sample figures")
    checkpoint_every: int = opt(5000, ge=1, help="iterations between checkpoints")
    keep_last: int = opt(3, ge=1, help="checkpoints kept (marked ones are always kept)")
    keep: list[int] = opt([], help="iterations whose checkpoints are kept forever")
    coverage_every: int = opt(1000, ge=1, help="iterations between mode-coverage records (toy)")
    coverage_samples: int = opt(2500, ge=1, help="samples for mode coverage")
    progress: bool = opt(True, help="show a progress bar")
    threads: int = opt(
        0, ge=0, help="CPU threads for torch (0: one for MLPs and penalties, else all cores)"
    )
    deterministic: bool = opt(True, help="ask PyTorch for deterministic kernels")
    on_divergence: str = opt(
        "stop", choices=("stop", "rollback"), help="on NaN/Inf: stop, or roll back with lower lr"
    )
    rollback_lr_factor: float = opt(0.5, gt=0, le=1, help="lr factor after a rollback")


@dataclass
class EWCConfig:
    weight: float = opt(0.0, ge=0, help="online EWC λ (0: off)")
    alpha: float = opt(0.5, gt=0, le=1, help="online EWC importance decay α")
    tau: int = opt(500, ge=1, help="iterations per task (chunk)")
    fisher_mode: str = opt(
        "batch", choices=("batch", "sample"), help="empirical Fisher: squared batch or sample grads"
    )


@dataclass
class ReplayConfig:
    capacity: int = opt(0, ge=0, help="replay buffer size in samples per seed (0: off)")
    fraction: float = opt(0.0, ge=0, le=1, help="fraction ρ of D's fake batch from the buffer")
    kind: str = opt("reservoir", choices=("reservoir", "fifo"), help="buffer policy")


@dataclass
class RemediesConfig:
    ewc: EWCConfig = field(default_factory=EWCConfig)
    replay: ReplayConfig = field(default_factory=ReplayConfig)


@dataclass
class ProbesConfig:
    forgetting_every: int = opt(500, ge=0, help="iterations between forgetting checks (0: off)")
    bank_every: int = opt(1000, ge=1, help="iterations between new banks of fixed fakes")
    bank_size: int = opt(64, ge=1, help="fakes per bank")
    forgetting_threshold: float = opt(0.5, ge=0, le=1, help="alarm when the index exceeds it")
    field_every: int = opt(
        500, ge=0, help="iterations between vector-field records (2-D data only; 0: off)"
    )
    field_threshold: float = opt(
        0.0, ge=-1, le=1, help="alarm when stability falls below it (0: the field reverses)"
    )
    landscape_every: int = opt(0, ge=0, help="iterations between landscape records (0: off)")
    landscape_anchors: int = opt(8, ge=1, help="real and fake anchors per landscape record")
    k_min: float = opt(-100.0, help="landscape: smallest step k")
    k_max: float = opt(100.0, help="landscape: largest step k")
    k_step: float = opt(1.0, gt=0, help="landscape: step between k values")


@dataclass
class Config:
    name: str = opt("run", help="run name")
    out: str | None = opt(None, help="run directory (default runs/<name>)")
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    remedies: RemediesConfig = field(default_factory=RemediesConfig)
    probes: ProbesConfig = field(default_factory=ProbesConfig)


# --------------------------------------------------------------------------------------------
# Dict <-> dataclass, with validation


def to_dict(cfg) -> dict:
    """Return the config as nested plain dicts (what ``config.yaml`` holds)."""
    return dataclasses.asdict(cfg)


def _fields(cls) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _suggest(key: str, known, prefix: str = "", cutoff: float = 0.6) -> str:
    near = difflib.get_close_matches(key, list(known), n=1, cutoff=cutoff)
    return f" Did you mean '{prefix}{near[0]}'?" if near else ""


INT_LIMIT = 2**31
MAX_SEEDS = 1024


def _show(value, limit: int = 60) -> str:
    """Return ``repr(value)`` on one line, shortened to about ``limit`` characters."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def _type_name(tp) -> str:
    return getattr(tp, "__name__", str(tp)).replace("typing.", "")


def _coerce(path: str, value, tp):
    """Return ``value`` converted to type ``tp`` or raise ConfigError naming ``path``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(path, value, inner[0])
    if origin is list:
        (inner,) = typing.get_args(tp)
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            raise ConfigError(f"{path}={_show(value)} must be a list of {_type_name(inner)}")
        return [_coerce(f"{path}[{i}]", v, inner) for i, v in enumerate(value)]
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{path}={_show(value)} must be true or false")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path}={_show(value)} must be an integer")
        if isinstance(value, float) and not value.is_integer():
            raise ConfigError(f"{path}={_show(value)} must be an integer")
        if not -INT_LIMIT < value < INT_LIMIT:
            raise ConfigError(
                f"{path}={_show(value)} is out of range; integers must lie strictly between "
                f"-{INT_LIMIT} and {INT_LIMIT}"
            )
        return int(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path}={_show(value)} must be a number")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise ConfigError(f"{path}={_show(value)} must be a finite number")
        return number
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}={_show(value)} must be a string")
        return value
    raise ConfigError(f"{path}: unsupported type {_type_name(tp)}")


def _check_range(path: str, value, meta) -> None:
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        shown = ", ".join("null" if c is None else str(c) for c in choices)
        near = _suggest(str(value), [str(c) for c in choices if c], cutoff=0.5)
        raise ConfigError(f"{path}={_show(value)} is not allowed; use one of: {shown}.{near}")
    if value is None or isinstance(value, list | str | bool):
        return
    if meta.get("ge") is not None and not value >= meta["ge"]:
        raise ConfigError(f"{path}={_show(value)} is out of range; it must be >= {meta['ge']}")
    if meta.get("gt") is not None and not value > meta["gt"]:
        raise ConfigError(f"{path}={_show(value)} is out of range; it must be > {meta['gt']}")
    if meta.get("le") is not None and not value <= meta["le"]:
        raise ConfigError(f"{path}={_show(value)} is out of range; it must be <= {meta['le']}")


def from_dict(data: dict | None, cls=Config, prefix: str = ""):
    """Return a validated ``cls`` built from nested dicts; unknown keys are errors."""
    data = {} if data is None else data
    if not isinstance(data, dict):
        where = prefix.rstrip(".") or "the config"
        raise ConfigError(
            f"{where}={_show(data)} must be a mapping of keys to values, "
            f"e.g. {prefix or 'train.'}KEY=VALUE"
        )
    fields, hints = _fields(cls), _hints(cls)
    kwargs = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if key not in fields:
            shown = path if isinstance(key, str) and key.isidentifier() else _show(path)
            hint = _suggest(str(key), fields, prefix) or f" Known keys: {', '.join(fields)}."
            raise ConfigError(f"unknown config key '{shown}'.{hint}")
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            kwargs[key] = from_dict(value, tp, prefix=f"{path}.")
        else:
            v = _coerce(path, value, tp)
            _check_range(path, v, fields[key].metadata)
            kwargs[key] = v
    return cls(**kwargs)


def validate(cfg: Config) -> Config:
    """Check the cross-field rules of a config; return it unchanged or raise ConfigError."""
    from_dict(to_dict(cfg))  # re-checks every field's type and range
    _check_path("name", cfg.name, plain=True)
    if cfg.out is not None:
        _check_path("out", cfg.out)
    if cfg.data.root is not None:
        _check_path("data.root", cfg.data.root)
    seeds = cfg.train.seeds
    if not seeds:
        raise ConfigError("train.seeds is empty; give at least one seed, e.g. train.seeds=[0]")
    if len(seeds) > MAX_SEEDS:
        raise ConfigError(f"train.seeds has {len(seeds)} seeds; at most {MAX_SEEDS} train together")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"train.seeds={_show(seeds)} repeats a seed; give distinct seeds")
    if any(s < 0 for s in seeds):
        raise ConfigError(f"train.seeds={_show(seeds)} has a negative seed; use seeds >= 0")
    if len(cfg.optim.betas) != 2 or not all(0 <= b < 1 for b in cfg.optim.betas):
        raise ConfigError(f"optim.betas={cfg.optim.betas} must be two numbers in [0, 1)")
    if cfg.objective.penalty is not None and cfg.objective.weight == 0:
        raise ConfigError(
            f"objective.penalty={cfg.objective.penalty} with objective.weight=0 does nothing; "
            "set objective.weight > 0 or objective.penalty=null"
        )
    if cfg.probes.k_min >= cfg.probes.k_max:
        raise ConfigError(
            f"probes.k_min={cfg.probes.k_min} >= probes.k_max={cfg.probes.k_max}; "
            "the k-range must run from low to high"
        )
    if not (cfg.probes.k_min <= 0 <= cfg.probes.k_max):
        raise ConfigError("the landscape k-range must contain k=0; set probes.k_min <= 0 <= k_max")
    if cfg.data.name in ("mnist", "cifar10", "folder") and not cfg.data.root:
        raise ConfigError(
            f"data.name={cfg.data.name} needs data.root=DIR, the directory holding the dataset"
        )
    if cfg.model.arch == "dcgan" and cfg.data.name in ("ring8", "grid25"):
        raise ConfigError("model.arch=dcgan needs image data; use model.arch=mlp for 2-D data")
    if (cfg.remedies.replay.capacity > 0) != (cfg.remedies.replay.fraction > 0):
        raise ConfigError(
            "replay needs both remedies.replay.capacity > 0 and remedies.replay.fraction > 0"
        )
    return cfg


def _check_path(key: str, value: str, plain: bool = False) -> None:
    """Reject an empty path or one holding NUL; ``plain``: also a path separator or dots."""
    bad = not value.strip() or "\x00" in value
    if plain:
        bad = bad or any(c in value for c in "/\\") or value in (".", "..")
    if bad:
        what = "a plain name without '/', e.g. my-run" if plain else "a folder path"
        raise ConfigError(f"{key}={_show(value)} is not allowed; give {what}")


# --------------------------------------------------------------------------------------------
# YAML and overrides


def load_yaml(path: str | Path) -> dict:
    """Return the mapping stored in a YAML file, read with the safe loader."""
    path = Path(path)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise ConfigError(f"config file '{path}' {what}; give a YAML file or --preset")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"config file '{path}' is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"config file '{path}' cannot be read ({exc.strerror})") from None
    except (yaml.YAMLError, RecursionError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config file '{path}' is not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file '{path}' must hold a mapping of keys to values")
    return data


def dump_yaml(cfg: Config) -> str:
    """Return the full resolved config as YAML text."""
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)


def save_yaml(cfg: Config, path: Path) -> None:
    """Write the full resolved config to ``path`` as YAML."""
    path.write_text(dump_yaml(cfg))


def merge(base: dict, update: dict) -> dict:
    """Return ``base`` with ``update`` merged in recursively (neither is modified)."""
    out = dict(base)
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def parse_override(text: str) -> dict:
    """Return the nested dict for one ``a.b.c=value`` override (value parsed as YAML)."""
    if "=" not in text:
        raise ConfigError(f"override {_show(text)} must look like key=value, e.g. optim.lr_d=1e-3")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part.isidentifier() for part in key.split(".")):
        raise ConfigError(f"override {_show(text)} has a bad key; use dotted names like optim.lr_d")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except (yaml.YAMLError, RecursionError, ValueError):
        value = raw
    if isinstance(value, str):
        value = _maybe_number(value)
    node: dict = {}
    cur = node
    parts = key.split(".")
    for p in parts[:-1]:
        cur[p] = {}
        cur = cur[p]
    cur[parts[-1]] = value
    return node


def _maybe_number(s: str):
    # YAML 1.1 reads "1e-3" as a string; users mean a number.
    try:
        return float(s) if any(c in s for c in ".eE") else int(s)
    except ValueError:
        return s


def parse_seeds(text: str) -> list[int]:
    """Return the seeds of ``"0-9"``, ``"0,3,5"`` or ``"4"`` (a count: seeds 0..3)."""
    text = text.strip()
    try:
        if "-" in text[1:]:
            a, b = text.split("-", 1)
            lo, hi = int(a), int(b)
            if hi < lo:
                raise ValueError
            if hi - lo >= MAX_SEEDS:
                raise OverflowError
            return list(range(lo, hi + 1))
        if "," in text:
            return [int(t) for t in text.split(",") if t.strip()]
        n = int(text)
        if n < 1:
            raise ValueError
        if n > MAX_SEEDS:
            raise OverflowError
        return list(range(n))
    except OverflowError:
        raise ConfigError(
            f"--seeds {_show(text)} gives more than {MAX_SEEDS} seeds; train fewer at once"
        ) from None
    except ValueError:
        raise ConfigError(
            f"--seeds {_show(text)} is not understood; use a range '0-9', a list '0,3,5' "
            "or a count '5'"
        ) from None


def resolve(base: dict, overrides: list[str], options: dict | None = None) -> Config:
    """Return the validated config of ``base`` (nested dict) with ``key=value`` overrides.

    ``options`` (a nested dict, e.g. from CLI options such as ``--out``) is merged last, as
    given: its values are not parsed as YAML.
    """
    data = dict(base)
    for o in overrides:
        data = merge(data, parse_override(o))
    if options:
        data = merge(data, options)
    return validate(from_dict(data))
