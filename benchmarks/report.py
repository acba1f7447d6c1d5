"""docs/performance.md, docs/performance.png and docs/performance.json from one run's rows.

The JSON keeps the last runs (newest last), so each report shows this run's figures beside the
previous run's: a change's before and after are two runs of ``make bench``.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after the backend is chosen

DOCS = Path(__file__).resolve().parents[1] / "docs"
HISTORY, REPORT, PLOT = DOCS / "performance.json", DOCS / "performance.md", DOCS / "performance.png"
KEPT_RUNS = 10


@dataclass
class Row:
    """A figure of the report: rate and latencies, what it is compared with, its target."""

    name: str
    tool: str
    rate: float | None
    p50_ms: float | None
    p99_ms: float | None
    driver_cpu: float | None = None
    platform_cpu: float | None = None
    baseline: str | None = None  # the row whose rate this one is divided by
    target: str = ""
    met: bool | None = None
    note: str = ""


def machine() -> dict[str, Any]:
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "system": platform.platform(),
    }


def ratio(row: Row, rows: dict[str, Row]) -> float | None:
    base = rows.get(row.baseline or "")
    if base is None or not base.rate or row.rate is None:
        return None
    return row.rate / base.rate


def _num(value: float | None, unit: str = "", digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}{unit}"


def _table(rows: dict[str, Row], previous: dict[str, Any]) -> list[str]:
    lines = [
        "| path | tool | req/s | p50 | p99 | baseline | ratio | target | met | load gen CPU"
        " | platform CPU | previous run (req/s, p99, ratio) | notes |",
        "|---|---|---:|---:|---:|---|---:|---|---|---:|---:|---|---|",
    ]
    for row in rows.values():
        r = ratio(row, rows)
        before = previous.get(row.name)
        was = (
            "-"
            if before is None
            else f"{_num(before.get('rate'))}, {_num(before.get('p99_ms'), ' ms', 1)}, "
            f"{_num(before.get('ratio'), '', 2)}"
        )
        met = "-" if row.met is None else ("yes" if row.met else "**no**")
        lines.append(
            f"| {row.name} | {row.tool} | {_num(row.rate)} | {_num(row.p50_ms, ' ms', 1)}"
            f" | {_num(row.p99_ms, ' ms', 1)} | {row.baseline or '-'} | {_num(r, '', 2)}"
            f" | {row.target or '-'} | {met} | {_num(row.driver_cpu, ' cores', 2)}"
            f" | {_num(row.platform_cpu, ' cores', 2)} | {was} | {row.note} |"
        )
    return lines


def write(rows: dict[str, Row], *, extra: list[str], analysis: str) -> None:
    """Append this run to the history, then write the report and the plot from it."""
    history: list[dict[str, Any]] = (
        json.loads(HISTORY.read_text())["runs"] if HISTORY.exists() else []
    )
    run: dict[str, Any] = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "extra": extra,
        "rows": {name: {**vars(row), "ratio": ratio(row, rows)} for name, row in rows.items()},
    }
    history = [*history, run][-KEPT_RUNS:]
    HISTORY.write_text(json.dumps({"runs": history}, indent=1) + "\n")
    render(history, analysis=analysis)


def render(history: list[dict[str, Any]], *, analysis: str) -> None:
    """docs/performance.md and .png: the last run of ``history``, the one before beside it."""
    run = history[-1]
    rows = {
        name: Row(**{k: v for k, v in row.items() if k != "ratio"})
        for name, row in run["rows"].items()
    }
    previous: dict[str, Any] = history[-2]["rows"] if len(history) > 1 else {}
    _plot(rows, previous)
    m: dict[str, Any] = run["machine"]
    lines = [
        "# Performance",
        "",
        f"Written by `make bench` ({run['generated']}), on {m['cores']} cores ({m['cpu']}),"
        f" {m['python']}, {m['system']}. The platform runs exactly as `make dev` runs it"
        " (one process per service, uvicorn with its defaults: uvloop and httptools when"
        " installed), and the baselines run in the same run on the same machine: a bare"
        " FastAPI endpoint under the services' own uvicorn command line, and a raw JetStream"
        " round trip on the platform's NATS. The load generator shares the 2 cores with what"
        " it measures: its own CPU is in the table (a driver near 1 core bounds its row).",
        "",
        "wrk rows: `wrk -t2 -c32 -d10s` on the service's own port (the gateway has a row of"
        " its own). asyncio rows: httpx from one Python process, the concurrency given;"
        " the flash sale's buyers: plain asyncio sockets, a connection each (`burst.py`).",
        "Ratios divide a row's req/s by its baseline's, measured with the same tool.",
        "Earlier runs: `docs/performance.json` (the previous run is in the table).",
        "",
        *_table(rows, previous),
        "",
        *run.get("extra", []),
        "",
        "![Latency, this run and the previous](performance.png)",
        "",
        analysis,
        "",
    ]
    REPORT.write_text("\n".join(lines))


def _plot(rows: dict[str, Row], previous: dict[str, Any]) -> None:
    shown = [row for row in rows.values() if row.p99_ms]
    names = [row.name for row in shown]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(shown) + 1.5))
    y = range(len(shown))
    ax.barh([i + 0.2 for i in y], [r.p99_ms or 0 for r in shown], 0.4, label="p99, this run")
    ax.barh([i + 0.2 for i in y], [r.p50_ms or 0 for r in shown], 0.4, label="p50, this run")
    before = [previous.get(n, {}).get("p99_ms") or 0 for n in names]
    if any(before):
        ax.barh([i - 0.2 for i in y], before, 0.4, label="p99, previous run", color="#bbb")
    ax.set_yticks(list(y), names)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log scale)")
    ax.legend(loc="lower right")
    ax.set_title("make bench: latency per path")
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)
    plt.close(fig)


if __name__ == "__main__":  # re-render from the history, e.g. after merging two runs' JSON
    render(
        json.loads(HISTORY.read_text())["runs"],
        analysis=(Path(__file__).with_name("analysis.md")).read_text(),
    )
