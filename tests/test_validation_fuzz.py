"""Every bad input fails before training with one clear line; fuzzing finds no traceback.

Explicit cases first (each bad value the issue names), then hypothesis over config override
strings, YAML config files, CLI argument lists (with ``--dry-run``, so nothing trains) and a
few tiny real runs with extreme but valid numbers. Each case must end in success or in
exactly one stderr line ``error: ...`` with exit code 2 (3 for a run that diverges).
"""

from __future__ import annotations

import collections
import dataclasses
import os
import string

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ganforget import config as C
from ganforget.cli import main
from ganforget.errors import ConfigError
from ganforget.presets import PRESETS, preset
from ganforget.train import session

TALLY: collections.Counter = collections.Counter()


@pytest.fixture(scope="module", autouse=True)
def _report_tally():
    # After this file's tests: how many cases were tried and how they ended (see with -s).
    yield
    total = sum(TALLY.values())
    print(f"\nfuzz cases: {total}: " + ", ".join(f"{k}={v}" for k, v in sorted(TALLY.items())))


def _keys(cls=C.Config, prefix="") -> list[str]:
    out = []
    for f in dataclasses.fields(cls):
        tp = C._hints(cls)[f.name]
        if dataclasses.is_dataclass(tp):
            out += _keys(tp, f"{prefix}{f.name}.")
        else:
            out.append(f"{prefix}{f.name}")
    return out


KEYS = _keys()
SECTIONS = sorted({k.split(".")[0] for k in KEYS if "." in k})


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run the CLI in-process; return (exit code, stdout, stderr) and check the error rule."""
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    cap = capsys.readouterr()
    assert "Traceback" not in cap.out + cap.err, (argv, cap.err)
    if code == 0:
        assert "error:" not in cap.err, (argv, cap.err)
    else:
        lines = [x for x in cap.err.splitlines() if x.strip()]
        assert code in (2, 3), (argv, code, cap.err)
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, cap.err)
    return code, cap.out, cap.err.strip()


# --- the named bad values ------------------------------------------------------------------
BAD = [
    # (argv after `train --dry-run`, pieces the one line must contain)
    (["optim.lr_d=-0.1"], ["optim.lr_d=-0.1", "out of range", "> 0"]),
    (["optim.lr_g=0"], ["optim.lr_g=0", "> 0"]),
    (["objective.penalty=r1", "objective.weight=-1"], ["objective.weight=-1", ">= 0"]),
    (["objective.real_weight=0"], ["objective.real_weight=0", "> 0"]),
    (["objective.real_weight=-2"], ["objective.real_weight=-2", "> 0"]),
    (["probes.k_min=5", "probes.k_max=-5"], ["probes.k_min=5", "probes.k_max=-5", "low to high"]),
    (["optim.n_critic=0"], ["optim.n_critic=0", ">= 1"]),
    (["optim.lr_dd=1e-3"], ["unknown config key 'optim.lr_dd'", "Did you mean 'optim.lr_d'"]),
    (["train.iteration=5"], ["'train.iteration'", "Did you mean 'train.iterations'"]),
    (["trian.iterations=5"], ["'trian'", "Did you mean 'train'"]),
    (["train.iterations=abc"], ["train.iterations='abc'", "must be an integer"]),
    (["train.iterations=2.5"], ["train.iterations=2.5", "must be an integer"]),
    (["train.iterations=1e12"], ["train.iterations=1000000000000.0", "out of range"]),
    (["optim.lr_d=nan"], ["optim.lr_d='nan'", "must be a number"]),
    (["optim.lr_d=.inf"], ["optim.lr_d=inf", "finite"]),
    (["optim.lr_d=1e999"], ["optim.lr_d=inf", "finite"]),
    (["objective.penalty=r2"], ["objective.penalty='r2'", "r1, 0gp, 1gp", "Did you mean 'r1'"]),
    (["train.progress=maybe"], ["train.progress='maybe'", "true or false"]),
    (["train.seeds=[0, 0]"], ["train.seeds=[0, 0]", "repeats a seed"]),
    (["optim.betas=[0.5, 1.5]"], ["optim.betas=[0.5, 1.5]", "[0, 1)"]),
    (["data=5"], ["data=5", "mapping"]),
    (["name=a/b"], ["name='a/b'", "plain name"]),
    (["lr=1"], ["unknown config key 'lr'", "Known keys"]),
    (["optim.lr_d=1", "nokey"], ["override 'nokey'", "key=value"]),
    (["--sed", "3"], ["No such option: --sed", "--seeds"]),
    (["--preset", "ring8-r2"], ["unknown preset 'ring8-r2'", "Did you mean 'ring8-r1'"]),
    (["--seeds", "5-2"], ["--seeds '5-2'", "range '0-9'"]),
    (["--seeds", "0-5000"], ["more than 1024 seeds"]),
    (["--device", "tpu"], ["train.device='tpu'", "auto, cpu, cuda"]),
    (["--out"], ["'--out' requires an argument"]),
    (["missing.yaml"], ["config file 'missing.yaml' does not exist"]),
    (["--preset", "demo", "--resume", "x"], ["--resume takes only the run directory", "--preset"]),
]


@pytest.mark.parametrize("argv,pieces", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_each_bad_input_gives_one_line_naming_key_value_and_what_is_allowed(
    argv, pieces, capsys, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(["train", "--dry-run", *argv], capsys)
    assert code == 2
    for piece in pieces:
        assert piece in err, (piece, err)
    assert list(tmp_path.iterdir()) == []  # nothing was written


def test_a_valid_dry_run_prints_the_resolved_config_and_writes_nothing(capsys, tmp_path):
    out = tmp_path / "a" / "b"
    code, text, _ = run_cli(
        ["train", "--dry-run", "-p", "ring8-r1", "--seeds", "0-2", "--out", str(out)], capsys
    )
    assert code == 0
    first, rest = text.split("\n", 1)
    assert first.startswith(f"would train 'ring8-r1' into '{out}'")
    cfg = C.from_dict(yaml.safe_load(rest))
    assert cfg.train.seeds == [0, 1, 2] and cfg.objective.penalty == "r1"
    assert cfg.out == str(out)
    assert not (tmp_path / "a").exists()


def test_option_values_are_not_reinterpreted_as_yaml(capsys, tmp_path):
    out = tmp_path / "run: 1 # x"
    code, text, _ = run_cli(["train", "--dry-run", "--out", str(out)], capsys)
    assert code == 0 and C.from_dict(yaml.safe_load(text.split("\n", 1)[1])).out == str(out)


def test_unknown_key_in_a_yaml_file_is_named_with_a_suggestion(capsys, tmp_path):
    p = tmp_path / "my.yaml"
    p.write_text("optim:\n  lr_d: 1.0e-3\n  momentun: 0.9\n")
    code, _, err = run_cli(["train", "--dry-run", str(p)], capsys)
    assert code == 2
    assert "unknown config key 'optim.momentun'. Did you mean 'optim.momentum'?" in err


# --- the run directory, up front -----------------------------------------------------------
def test_a_run_directory_under_a_file_is_refused_before_anything_is_built(
    tmp_path, monkeypatch, capsys
):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setattr(
        session, "build_trainer", lambda *a, **k: pytest.fail("built before the check")
    )
    code, _, err = run_cli(["train", "--no-progress", "--out", str(blocker / "run")], capsys)
    assert code == 2
    assert f"'{blocker}' is a file, not a folder" in err


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores chmod")
def test_a_read_only_parent_is_refused(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        code, _, err = run_cli(["train", "--dry-run", "--out", str(ro / "run")], capsys)
    finally:
        ro.chmod(0o755)
    assert code == 2 and "is not writable" in err


def test_a_folder_holding_a_different_or_the_same_run_is_detected(tmp_path, capsys):
    out = tmp_path / "run"
    over = ["train.iterations=3", "train.log_every=1", "train.coverage_samples=50"]
    base = ["train", "-p", "ring8-ns-sgd", "--no-progress", "--no-plot", "--out", str(out)]
    assert run_cli([*base, *over], capsys)[0] == 0
    code, _, err = run_cli([*base, *over, "--dry-run"], capsys)
    assert code == 2 and "holds this run already; use --resume RUN_DIR" in err
    code, _, err = run_cli([*base, *over, "optim.lr_d=1e-2"], capsys)
    assert code == 2 and "holds a different run; choose another out=DIR" in err
    # A folder with run files but no config.yaml is not silently reused either.
    (out / "config.yaml").unlink()
    code, _, err = run_cli([*base, *over], capsys)
    assert code == 2 and "holds files of a run but no config.yaml" in err


def test_a_failed_start_leaves_no_run_behind(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA to make the build fail")
    out = tmp_path / "run"
    argv = ["train", "-p", "ring8-ns-sgd", "--no-progress", "--out", str(out), "--device", "cuda"]
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and "no CUDA device" in err
    assert not (out / "config.yaml").exists()  # so fixing the config and retrying works


# --- fuzzing -------------------------------------------------------------------------------
def _typos(word: str) -> st.SearchStrategy[str]:
    i = st.integers(0, max(len(word) - 1, 0))
    return st.one_of(
        i.map(lambda k: word[:k] + word[k + 1 :]),  # drop a character
        i.map(lambda k: word[:k] + word[k : k + 2][::-1] + word[k + 2 :]),  # swap two
        st.tuples(i, st.sampled_from("aex_.1")).map(lambda t: word[: t[0]] + t[1] + word[t[0] :]),
        st.just(word.upper()),
    )


key_st = st.one_of(
    st.sampled_from(KEYS),
    st.sampled_from(KEYS).flatmap(_typos),
    st.sampled_from(SECTIONS),
    st.sampled_from(["", ".", "a..b", "1x", "train.", ".lr", "train.iterations.x", "é"]),
    st.text(string.ascii_letters + "._", min_size=1, max_size=12),
)
number_st = st.one_of(
    st.integers(-(10**40), 10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 2**31, 2**31 - 1, -(2**31), 10**400, 1e-320, -0.0]),
)
word_st = st.sampled_from(
    [
        "null",
        "~",
        "",
        "true",
        "no",
        "on",
        "nan",
        ".nan",
        "-.inf",
        "1e999",
        "0x1F",
        "0o17",
        "1_000",
        "2020-01-01",
        "[1, 2]",
        "[a, b]",
        "[]",
        "{a: 1}",
        "{}",
        "[[[[1]]]]",
        "!!python/object/apply:os.system ['touch pwned']",
        "!!binary aGVsbG8=",
        "&a [*a]",
        "'quoted'",
        "sgd",
        "adam",
        "ns",
        "wgan",
        "r1",
        "0gp",
        "1gp",
        "mlp",
        "dcgan",
        "ring8",
        "relu",
        "cpu",
        "cuda",
        "auto",
        "stop",
        "rollback",
        "reservoir",
        "fifo",
        "batch",
        "a\nb",
        "x\x00y",
        "\t",
        "ü",
        "- 1\n- 2",
        "key: value",
        "1e-3",
        "-1e-3",
        "3e-4",
    ]  # fmt: skip
)
value_st = st.one_of(number_st.map(str), word_st, st.text(max_size=20))


def _plausible(key: str) -> st.SearchStrategy[str]:
    """Values of the right kind for ``key``: in range or just outside, as a user types them."""
    section, _, name = key.rpartition(".")
    cls = C.Config
    for part in filter(None, section.split(".")):
        cls = C._hints(cls)[part]
    f = C._fields(cls)[name]
    tp, meta = C._hints(cls)[name], f.metadata
    if meta.get("choices"):
        return st.sampled_from(["null" if c is None else str(c) for c in meta["choices"]])
    if "bool" in str(tp):
        return st.sampled_from(["true", "false"])
    if "list" in str(tp):
        return st.lists(st.integers(0, 20), max_size=3).map(str)
    if "int" in str(tp):
        return st.integers(-2, 10**6).map(str)
    if "float" in str(tp):
        return st.one_of(st.floats(-1, 2), st.floats(1e-12, 1e12)).map(repr)
    return st.text(string.ascii_letters + "-_", min_size=1, max_size=10)


plausible_st = st.sampled_from(KEYS).flatmap(lambda k: _plausible(k).map(lambda v: f"{k}={v}"))
override_st = st.one_of(
    plausible_st,
    plausible_st,
    st.tuples(key_st, value_st).map(lambda kv: f"{kv[0]}={kv[1]}"),
    st.text(max_size=20),  # often no '=' at all
)


def _base(name: str) -> dict:
    """The preset ``name``, with a data.root where it needs one (checked only when training)."""
    base = preset(name)
    if base.get("data", {}).get("name") in ("mnist", "cifar10", "folder"):
        base = C.merge(base, {"data": {"root": "/data/somewhere"}})
    return base


wild_st = st.one_of(
    st.tuples(key_st, value_st).map(lambda kv: f"{kv[0]}={kv[1]}"), st.text(max_size=20)
)


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(
    st.lists(plausible_st, max_size=4),
    st.lists(wild_st, max_size=1),
    st.sampled_from(sorted(PRESETS)),
)
def test_fuzz_config_overrides(plausible, wild, name):
    overrides = [*plausible, *wild]
    try:
        cfg = C.resolve(_base(name), overrides)
    except ConfigError as exc:
        msg = str(exc)
        assert "\n" not in msg and msg.strip(), msg
        TALLY["overrides: one-line error"] += 1
        return
    assert isinstance(cfg, C.Config)
    C.validate(cfg)  # what resolve returned stays valid
    TALLY["overrides: valid config"] += 1


scalar_st = st.one_of(
    st.none(), st.booleans(), number_st, st.text(max_size=10), word_st,
)  # fmt: skip
yaml_key_st = st.one_of(
    st.sampled_from([k.split(".")[-1] for k in KEYS] + SECTIONS),
    st.sampled_from(KEYS).flatmap(_typos),
    st.integers(-3, 3),
    st.text(max_size=6),
)
tree_st = st.recursive(
    scalar_st,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(yaml_key_st, inner, max_size=4)
    ),
    max_leaves=12,
)
doc_st = st.dictionaries(st.sampled_from(SECTIONS + ["name", "out"]), tree_st, max_size=4)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(doc=doc_st, raw=st.one_of(st.none(), st.text(max_size=40)))
def test_fuzz_yaml_config_files(doc, raw, tmp_path, capsys):
    p = tmp_path / "fuzz.yaml"
    text = raw if raw is not None else yaml.safe_dump(doc, allow_unicode=True)
    p.write_text(text, encoding="utf-8", errors="surrogatepass")
    code, _, err = run_cli(["train", "--dry-run", str(p), f"out={tmp_path / 'run'}"], capsys)
    TALLY[f"yaml files: exit {code}"] += 1
    assert not (tmp_path / "run").exists()


OPTIONS = ["--preset", "-p", "--seeds", "--out", "-o", "--resume", "--device", "--no-progress",
           "--no-plot", "--sed", "--prest", "--devise", "-x", "--", "-", "--out=", "--seeds=3",
           "--preset=demo", "--dry-run"]  # fmt: skip
cli_token_st = st.one_of(
    st.sampled_from(OPTIONS),
    st.sampled_from(sorted(PRESETS)),
    st.sampled_from(sorted(PRESETS)).flatmap(_typos),
    st.sampled_from(["0-9", "3", "0,3,5", "5-2", "-1", "0,,1", "a", "0-99999999", "", " "]),
    st.sampled_from(["cpu", "cuda", "auto", "tpu", "missing.yaml", ".", "runs/x", "/dev/null"]),
    override_st,
    st.text(max_size=12),
)
# Whole option-value pairs, as users type them, so that many cases are valid.
cli_unit_st = st.one_of(
    st.tuples(st.sampled_from(["--preset", "-p"]), st.sampled_from(sorted(PRESETS))).map(list),
    st.tuples(st.just("--seeds"), st.sampled_from(["0-4", "3", "1,2", "7"])).map(list),
    st.tuples(st.sampled_from(["--out", "-o"]), st.sampled_from(["runs/a", "b c", "x/y/z"])).map(
        list
    ),
    st.tuples(st.just("--device"), st.sampled_from(["cpu", "auto"])).map(list),
    st.sampled_from([["--no-progress"], ["--no-plot"]]),
    plausible_st.map(lambda o: [o]),
    plausible_st.map(lambda o: [o]),
    cli_token_st.map(lambda t: [t]),
)


@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(units=st.lists(cli_unit_st, max_size=5))
def test_fuzz_cli_arguments(units, capsys, monkeypatch, tmp_path):
    tokens = [t for unit in units for t in unit]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(session, "train", lambda *a, **k: pytest.fail("--dry-run trained"))
    monkeypatch.setattr(session, "resume", lambda *a, **k: pytest.fail("--dry-run resumed"))
    code, _, _ = run_cli(["train", "--dry-run", *tokens], capsys)
    TALLY[f"cli: exit {code}"] += 1
    assert sorted(os.listdir(tmp_path)) == [], "a dry run wrote files"


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    lr=st.floats(-30, 30).map(lambda e: f"{10**e:.3g}"),
    std=st.floats(-30, 3).map(lambda e: f"{10**e:.3g}"),
    gamma=st.floats(-10, 10).map(lambda e: f"{10**e:.3g}"),
    opt=st.sampled_from(["sgd", "adam"]),
    loss=st.sampled_from(["ns", "wgan"]),
    penalty=st.sampled_from(["null", "r1", "0gp", "1gp"]),
    sizes=st.tuples(st.integers(1, 8), st.integers(1, 3), st.integers(1, 4), st.integers(1, 3)),
)
def test_fuzz_tiny_real_runs_end_cleanly(
    lr, std, gamma, opt, loss, penalty, sizes, tmp_path_factory, capsys
):
    hidden, depth, nz, n_critic = sizes
    out = tmp_path_factory.mktemp("fuzzrun") / "run"
    argv = ["train", "-p", "ring8-ns-sgd", "--no-progress", "--no-plot", "--out", str(out),
            "train.iterations=3", "train.coverage_samples=20", "train.log_every=1",
            f"optim.lr_d={lr}", f"optim.lr_g={lr}", f"data.std={std}", f"optim.name={opt}",
            f"objective.real_weight={gamma}", f"objective.loss={loss}",
            f"objective.penalty={penalty}", f"objective.weight={0 if penalty == 'null' else 10}",
            f"model.hidden={hidden}", f"model.depth={depth}", f"model.nz={nz}",
            f"optim.n_critic={n_critic}", "data.batch_size=4"]  # fmt: skip
    code, _, err = run_cli(argv, capsys)
    TALLY[f"tiny runs: exit {code}"] += 1
    if code == 3:
        assert "became NaN/Inf at iteration" in err
    else:
        assert code == 0, err
