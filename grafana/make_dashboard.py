"""Writes grafana/dashboards/pump.json: every panel's PromQL in one readable place.

Run `python grafana/make_dashboard.py` after changing a panel; a test checks the
committed JSON is what this script produces, and another runs every query against
a real Prometheus that scraped a real replay.
"""

from __future__ import annotations

import json
from pathlib import Path

DATASOURCE = {"type": "prometheus", "uid": "pump-prometheus"}
SEL = 'topic=~"$topic"'
SELM = 'topic=~"$topic", mode=~"$mode"'
RI = "$__rate_interval"

# (row title, [(panel title, panel type, unit, [(expr, legend), ...]), ...])
ROWS: list[tuple[str, list[tuple[str, str, str, list[tuple[str, str]]]]]] = [
    ("Input", [
        ("Lines read /s", "timeseries", "short", [
            (f"sum by (format) (rate(pump_input_lines_total{{{SEL}}}[{RI}]))", "{{format}}"),
        ]),
        ("Input read", "timeseries", "Bps", [(f"sum(rate(pump_input_read_bytes_total{{{SEL}}}[{RI}]))", "bytes/s")]),
        ("Input done", "gauge", "percent", [
            (f"100 * sum(pump_input_read_bytes_total{{{SEL}}}) / sum(pump_input_size_bytes{{{SEL}}})", "done"),
        ]),
        ("ETA", "stat", "s", [
            (
                f"(sum(pump_input_size_bytes{{{SEL}}}) - sum(pump_input_read_bytes_total{{{SEL}}}))"
                f" / sum(rate(pump_input_read_bytes_total{{{SEL}}}[{RI}]))",
                "eta",
            ),
        ]),
        ("Invalid lines /s by reason", "timeseries", "short", [
            (f"sum by (reason) (rate(pump_invalid_lines_total{{{SEL}}}[{RI}]))", "{{reason}}"),
        ]),
        ("Schema failures (a value that does not fit --schema or the registry's schema)", "stat", "none", [
            (f'sum(pump_invalid_lines_total{{{SEL}, reason="schema"}})', "schema"),
        ]),
    ]),
    ("Pipeline", [
        ("Queue depth vs capacity", "timeseries", "short", [
            (f"sum(pump_queue_depth_chunks{{{SEL}}})", "depth"),
            (f"sum(pump_queue_capacity_chunks{{{SEL}}})", "capacity"),
        ]),
        ("Records in flight", "timeseries", "short", [
            (f"sum by (mode) (pump_in_flight_records{{{SELM}}})", "in flight {{mode}}"),
            (f"sum by (mode) (pump_in_flight_limit_records{{{SELM}}})", "limit {{mode}}"),
        ]),
        ("Time blocked on backpressure", "timeseries", "percentunit", [
            (f"sum by (stage) (rate(pump_backpressure_seconds_total{{{SEL}}}[{RI}]))", "{{stage}}"),
        ]),
        ("Records per send (p50 / p99)", "timeseries", "short", [
            (f"histogram_quantile(0.5, sum by (le) (rate(pump_batch_records_bucket{{{SELM}}}[{RI}])))", "p50"),
            (f"histogram_quantile(0.99, sum by (le) (rate(pump_batch_records_bucket{{{SELM}}}[{RI}])))", "p99"),
        ]),
    ]),
    ("Output", [
        ("Acknowledged records /s", "timeseries", "short", [
            (f"sum by (topic, mode) (rate(pump_records_acknowledged_total{{{SELM}}}[{RI}]))", "{{topic}} {{mode}}"),
        ]),
        ("Acknowledged MB/s", "timeseries", "MBs", [
            (f"sum by (topic, mode) (rate(pump_acknowledged_bytes_total{{{SELM}}}[{RI}])) / 1e6", "{{topic}} {{mode}}"),
        ]),
        ("Failed records /s by reason", "timeseries", "short", [
            (f"sum by (reason) (rate(pump_records_failed_total{{{SELM}}}[{RI}]))", "{{reason}}"),
        ]),
        ("Timeouts (outcome unknown)", "timeseries", "short", [
            (f"sum(increase(pump_timeouts_total{{{SELM}}}[{RI}]))", "timeouts"),
        ]),
        ("Retries", "timeseries", "short", [(f"sum(increase(pump_retries_total{{{SELM}}}[{RI}]))", "retries")]),
        ("Dead letters /s by reason", "timeseries", "short", [
            (f"sum by (reason) (rate(pump_dead_letters_total{{{SEL}}}[{RI}]))", "{{reason}}"),
        ]),
    ]),
    ("Pacing (--rate, --speed)", [
        ("Records sent /s vs --rate", "timeseries", "short", [
            (f"sum(rate(pump_records_sent_total{{{SELM}}}[{RI}]))", "sent"),
            (f"max(pump_rate_limit_records_per_second{{{SEL}}}) > 0", "--rate"),
        ]),
        ("Pacing lag (how late paced pieces went)", "timeseries", "s", [
            (f"histogram_quantile({q}, sum by (le) (rate(pump_pacing_lag_seconds_bucket{{{SEL}}}[{RI}])))", f"p{int(q * 100)}")
            for q in (0.5, 0.99)
        ]),
        ("Late records and skipped gaps (--speed)", "timeseries", "short", [
            (f"sum(increase(pump_pacing_late_records_total{{{SEL}}}[{RI}]))", "late records"),
            (f"sum(increase(pump_pacing_skipped_gaps_total{{{SEL}}}[{RI}]))", "gaps skipped"),
        ]),
    ]),
    ("Live inputs (--follow, --watch)", [
        ("Bytes behind (followed files not read yet)", "timeseries", "bytes", [
            (f"sum(pump_input_behind_bytes{{{SEL}}})", "behind"),
        ]),
        ("Files pending and finished", "timeseries", "short", [
            (f"sum(pump_input_files_pending{{{SEL}}})", "pending"),
            (f"sum(pump_input_files_finished{{{SEL}}})", "finished"),
        ]),
        ("Since the last record", "stat", "s", [(f"max(pump_input_idle_seconds{{{SEL}}})", "idle")]),
        ("Truncated files read again", "stat", "none", [(f"sum(pump_input_truncations{{{SEL}}})", "truncations")]),
    ]),
    ("Exactly once (--exactly-once)", [
        ("Transactions /s by outcome", "timeseries", "short", [
            (f"sum by (outcome) (rate(pump_transactions_total{{{SEL}}}[{RI}]))", "{{outcome}}"),
        ]),
        ("Transaction duration (p50 / p99)", "timeseries", "s", [
            (f"histogram_quantile({q}, sum by (le) (rate(pump_transaction_duration_seconds_bucket{{{SEL}}}[{RI}])))",
             f"p{int(q * 100)}")
            for q in (0.5, 0.99)
        ]),
        ("Aborted transactions (records sent again)", "stat", "none", [
            (f'sum(increase(pump_transactions_total{{{SEL}, outcome="aborted"}}[{RI}]))', "aborted"),
        ]),
    ]),
    ("Latency", [
        ("Acknowledgement latency", "timeseries", "s", [
            (f"histogram_quantile({q}, sum by (le) (rate(pump_ack_latency_seconds_bucket{{{SELM}}}[{RI}])))", f"p{int(q * 100)}")
            for q in (0.5, 0.95, 0.99)
        ]),
        ("Acknowledgement latency heatmap", "heatmap", "s", [
            (f"sum by (le) (increase(pump_ack_latency_seconds_bucket{{{SELM}}}[{RI}]))", "{{le}}"),
        ]),
    ]),
    ("Process", [
        ("CPU", "timeseries", "percentunit", [('rate(process_cpu_seconds_total{job=~"pump.*"}[' + RI + "])", "{{instance}}")]),
        ("Resident memory", "timeseries", "bytes", [('process_resident_memory_bytes{job=~"pump.*"}', "{{instance}}")]),
        ("Replay finished", "stat", "none", [(f"max(pump_done{{{SELM}}})", "done")]),
    ]),
]  # fmt: skip


def build() -> dict:
    panels: list[dict] = []
    next_id = 1
    y = 0
    for row_title, row_panels in ROWS:
        row_pos = {"h": 1, "w": 24, "x": 0, "y": y}
        panels.append({"id": next_id, "type": "row", "title": row_title, "collapsed": False, "gridPos": row_pos})
        next_id += 1
        y += 1
        width = 24 // len(row_panels)
        for i, (title, kind, unit, targets) in enumerate(row_panels):
            panel: dict = {
                "id": next_id,
                "type": kind,
                "title": title,
                "datasource": DATASOURCE,
                "gridPos": {"h": 8, "w": width, "x": i * width, "y": y},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "options": {},
                "targets": [
                    {"refId": chr(ord("A") + n), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
                    | ({"format": "heatmap"} if kind == "heatmap" else {})
                    for n, (expr, legend) in enumerate(targets)
                ],
            }
            panels.append(panel)
            next_id += 1
        y += 8
    variable = {
        "type": "query",
        "datasource": DATASOURCE,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"text": "All", "value": "$__all"},
        "refresh": 2,
    }
    return {
        "uid": "pump-replay",
        "title": "pump replay",
        "tags": ["pump", "kafka"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "5s",
        "time": {"from": "now-15m", "to": "now"},
        "templating": {
            "list": [
                variable | {"name": "topic", "label": "topic", "query": "label_values(pump_records_sent_total, topic)"},
                variable | {"name": "mode", "label": "mode", "query": "label_values(pump_records_sent_total, mode)"},
            ]
        },
        "panels": panels,
    }


def render() -> str:
    return json.dumps(build(), indent=2) + "\n"


if __name__ == "__main__":
    (Path(__file__).resolve().parent / "dashboards" / "pump.json").write_text(render())
