"""``pump bench --html F``: one self-contained page, the table and two charts drawn by matplotlib as inline SVG
(throughput by combination with its spread; latency percentiles by combination). matplotlib is an optional
extra (``pump[charts]``); ``require()`` says so in one line before any run.
"""

from __future__ import annotations

import html
import io
from typing import Any

from pump.errors import UsageError


def require() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError("--html draws its charts with matplotlib: pip install 'pump[charts]'") from None


def _svg(figure: Any) -> str:
    out = io.StringIO()
    figure.savefig(out, format="svg", bbox_inches="tight")
    text = out.getvalue()
    return text[text.index("<svg") :]  # the XML prolog and doctype do not belong inside a page


def _charts(rows: list[dict[str, Any]], labels: list[str]) -> tuple[str, str]:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "none"  # text stays text: searchable, and smaller
    n = len(rows)
    height = max(2.5, 0.45 * n + 1.2)
    ys = list(range(n))[::-1]
    rates = [r["records_per_s"] for r in rows]
    medians = [r["median"] for r in rates]
    spread = [
        [m - r["min"] for m, r in zip(medians, rates, strict=True)],
        [r["max"] - m for m, r in zip(medians, rates, strict=True)],
    ]
    fig, ax = plt.subplots(figsize=(9, height))
    ax.barh(ys, medians, xerr=spread, color="#3b7dd8", ecolor="#333333", capsize=3)
    ax.set_yticks(ys, labels)
    ax.set_xlabel("records/s acknowledged (median; bars: min..max over the runs)")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:,.0f}"))
    ax.set_title("Throughput by combination")
    ax.grid(axis="x", alpha=0.3)
    throughput = _svg(fig)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(9, height))
    width = 0.27
    for i, (key, color) in enumerate((("p50", "#59a14f"), ("p95", "#edc948"), ("p99", "#e15759"))):
        ax.barh([y + (1 - i) * width for y in ys], [r["latency_ms"][key] for r in rows], height=width, color=color, label=key)
    ax.set_yticks(ys, labels)
    values = [r["latency_ms"][k] for r in rows for k in ("p50", "p99") if r["latency_ms"][k] > 0]
    wide = bool(values) and max(values) / min(values) > 50  # sync's seconds beside batch's milliseconds
    if wide:
        ax.set_xscale("log")
    ax.set_xlabel("latency per record, send to acknowledgement, ms (medians over the runs" + ("; log scale)" if wide else ")"))
    ax.set_title("Latency percentiles by combination")
    ax.legend(loc="lower right")
    ax.grid(axis="x", alpha=0.3, which="both")
    latency = _svg(fig)
    plt.close(fig)
    return throughput, latency


def page(report: dict[str, Any], labels: list[str], table_text: str) -> str:
    rows = report["combinations"]
    throughput, latency = _charts(rows, labels)
    esc = html.escape
    heads = ["combination", "records/s (median)", "min", "max", "MB/s", "avg ms", "p50", "p95", "p99", "max ms", "CPU s",
             "RSS MB", "vs best"]  # fmt: skip
    body = []
    for row, label in zip(rows, labels, strict=True):
        r, lat = row["records_per_s"], row["latency_ms"]
        cells = [label + (" *" if row["time_boxed"] else ""), f"{r['median']:,.0f}", f"{r['min']:,.0f}", f"{r['max']:,.0f}",
                 f"{row['mb_per_s']:.2f}", *(f"{lat[k]:.1f}" for k in ("avg", "p50", "p95", "p99", "max")), f"{row['cpu_s']:.1f}",
                 f"{row['rss_mb']:.0f}", f"{row['vs_fastest']:.2f}x"]  # fmt: skip
        body.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
    note = (
        "<p>* time-boxed by --max-seconds: its figures cover what it sent in that time.</p>"
        if any(row["time_boxed"] for row in rows)
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pump bench: {esc(report["topic"])}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:right}}td:first-child,th:first-child{{text-align:left}}
figure{{margin:1.5em 0}}pre{{background:#f6f6f6;padding:1em;overflow:auto}}</style></head>
<body><h1>pump bench</h1>
<p>{esc(report["bootstrap"])}, topic {esc(report["topic"])}, {esc(report["input"])}; {report["repeat"]} runs of each
combination, interleaved. Latency is per record, from its send to its acknowledgement; warm-up: {esc(report["warm_up"])}.</p>
<table id="figures"><thead><tr>{"".join(f"<th>{esc(h)}</th>" for h in heads)}</tr></thead><tbody>{"".join(body)}</tbody></table>
{note}
<figure id="throughput">{throughput}</figure>
<figure id="latency">{latency}</figure>
<details><summary>as printed</summary><pre>{esc(table_text)}</pre></details>
</body></html>
"""
