"""Static HTML reports: one page per experiment (claims + figures) or per run (config + figures).

The pages link to the PNGs beside them and embed nothing else, so they open anywhere.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import yaml

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;
text-align:left;vertical-align:top;font-size:14px}.pass{background:#d8f5d0}.fail{background:#fbd5d5}
img{max-width:100%;border:1px solid #eee;margin:0.5em 0}code{background:#f4f4f4;padding:1px 4px}
"""


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape(str(v))


def _page(title: str, body: list[str]) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n"
    )


def experiment_report(out: Path, doc: dict) -> Path:
    """Write ``out/report.html`` for a claims document ``doc``; return its path."""
    out = Path(out)
    body = [
        f"<h1>{html.escape(doc['experiment'])}: claims</h1>",
        f"<p>Command: <code>{html.escape(doc['command'])}</code><br>Scale: "
        f"{html.escape(doc['scale'])}, seeds: {doc['seeds']}</p>",
        "<table><tr><th>id</th><th>claim</th><th>measure</th><th>verdict</th>"
        "<th>per-seed values</th></tr>",
    ]
    for c in doc["claims"]:
        cls = "pass" if c["pass"] else "fail"
        vals = "<br>".join(
            f"<b>{html.escape(k)}</b>: {', '.join(_fmt(x) for x in v)}"
            for k, v in c["values"].items()
        )
        body.append(
            f"<tr class='{cls}'><td>{c['id']}</td><td>{html.escape(c['statement'])}</td>"
            f"<td>{html.escape(c['measure'])}</td><td><b>{cls.upper()}</b><br>"
            f"{html.escape(c['why'])}</td><td>{vals}</td></tr>"
        )
    body.append("</table>")
    if "table" in doc:
        body.append("<h2>Table</h2>" + _table(doc["table"]))
    for fig in doc.get("figures", []):
        body.append(f"<h3>{html.escape(fig)}</h3><img src='{html.escape(fig)}'>")
    path = out / "report.html"
    path.write_text(_page(f"{doc['experiment']} claims", body))
    return path


def _table(table: dict) -> str:
    cols: list[str] = []
    for row in table.values():
        cols += [k for k in row if k not in cols]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    rows = []
    for name, row in table.items():
        cells = []
        for c in cols:
            v = row.get(c)
            if isinstance(v, dict) and "mean" in v:
                cells.append(f"{_fmt(v['mean'])} ± {_fmt(v['std'])}")
            else:
                cells.append(_fmt(v))
        rows.append(
            f"<tr><td>{html.escape(name)}</td>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
        )
    return f"<table><tr><th></th>{head}</tr>{''.join(rows)}</table>"


def run_report(run_dir: Path, figures: list[Path]) -> Path:
    """Write ``RUN_DIR/report.html``: config, last metrics per seed, and the figures."""
    run_dir = Path(run_dir)
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    body = [
        f"<h1>Run {html.escape(str(cfg.get('name')))}</h1>",
        f"<p>Seeds: {cfg['train']['seeds']}</p>",
    ]
    summary = run_dir / "summary.json"
    if summary.exists():
        body.append(
            "<h2>Summary</h2><pre>"
            + html.escape(json.dumps(json.loads(summary.read_text()), indent=1))
            + "</pre>"
        )
    for f in figures:
        rel = Path(f).resolve().relative_to(run_dir.resolve())
        body.append(f"<h3>{html.escape(rel.name)}</h3><img src='{html.escape(str(rel))}'>")
    body.append(
        "<h2>Config</h2><pre>" + html.escape(yaml.safe_dump(cfg, sort_keys=False)) + "</pre>"
    )
    path = run_dir / "report.html"
    path.write_text(_page(f"run {cfg.get('name')}", body))
    return path
