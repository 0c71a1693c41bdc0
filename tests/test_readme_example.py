"""The README's bring-your-own-GAN example runs verbatim and its probes print numbers."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    own = [b for b in blocks if "ForgettingProbe(" in b]
    assert len(own) == 1, "the README must hold exactly one own-loop example"
    return own[0]


def test_own_loop_example_runs(capsys):
    code = _example()
    exec(compile(code, str(README), "exec"), {"__name__": "readme_example"})
    lines = capsys.readouterr().out.strip().splitlines()
    assert [int(line.split()[0]) for line in lines] == [100, 200, 300, 400, 500, 600]
    first, lastline = lines[0].split(), lines[-1].split()
    assert first[1] == "None"  # no bank older than the first check
    assert 0.0 <= float(lastline[1]) <= 1.0  # a forgetting index once old banks exist
    assert -1.0 <= float(lastline[2]) <= 1.0  # field stability is a cosine
    assert 0 <= int(lastline[4]) <= 8
