"""Reports people look at: estimate histories with uncertainty and MPE bands, balance
residuals, flagged meters. PNG plots (matplotlib, Agg) on one static HTML page."""

from __future__ import annotations

import csv
import html
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from meterwatch.analysis import AreaAnalysis
from meterwatch.scoring import Score, Truth

DAY_S = 86_400


def write_estimates_csv(path: Path, analyses: list[AreaAnalysis]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(
            ["meter_id", "utility", "area", "date", "estimate_pct", "uncertainty_pct",
             "identifiable", "mpe_pct", "decision"]
        )  # fmt: skip
        for a in analyses:
            for e in a.latest().values():
                day = np.datetime64(e["window"]["end"] - DAY_S, "s").astype("datetime64[D]")
                out.writerow(
                    [e["meter"], a.utility, a.area, day, _fmt(e["estimate_pct"]),
                     _fmt(e["uncertainty_pct"]), int(e["identifiable"]), e["mpe_pct"],
                     e["decision"]]
                )  # fmt: skip


def plot_meter(path: Path, meter: str, history: list[dict[str, Any]], truth: Truth | None) -> None:
    days = np.array([e["window"]["end"] // DAY_S - 1 for e in history]).astype("datetime64[D]")
    est = np.array([np.nan if e["estimate_pct"] is None else e["estimate_pct"] for e in history])
    unc = np.array(
        [np.nan if e["uncertainty_pct"] is None else e["uncertainty_pct"] for e in history]
    )
    mpe = history[-1]["mpe_pct"]
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
    ax.fill_between(days, est - 2 * unc, est + 2 * unc, alpha=0.25, label="estimate ± 2u")
    ax.plot(days, est, lw=1.8, label="estimated error")
    ax.axhspan(-mpe, mpe, color="green", alpha=0.06, label=f"±MPE ({mpe:g} %)")
    ax.axhline(mpe, color="green", lw=0.8)
    ax.axhline(-mpe, color="green", lw=0.8)
    if truth is not None and meter in truth.meters:
        i = truth.meters.index(meter)
        ax.plot(truth.days.astype("datetime64[D]"), truth.error_pct[:, i], "k--", lw=1,
                label="true error")  # fmt: skip
    ordered = [d for d, e in zip(days, history, strict=True) if e["decision"] == "out_of_tolerance"]
    if ordered:
        ax.axvline(ordered[0], color="red", lw=1, label="out of tolerance")
    ax.set_title(f"meter {meter}")
    ax.set_ylabel("error, %")
    ax.legend(fontsize=7, loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_residuals(path: Path, analysis: AreaAnalysis) -> None:
    fig, ax = plt.subplots(figsize=(7, 2.6), dpi=100)
    for end, res in analysis.residuals:
        t = end - DAY_S + np.arange(len(res)) * (DAY_S / max(len(res), 1))
        ax.plot(t.astype("datetime64[s]"), res, lw=0.6, color="tab:blue")
    ax.axhline(0, color="k", lw=0.6)
    ax.set_title(f"area {analysis.area}: energy-balance residuals (master − model), Wh")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_report(
    out: Path,
    analyses: list[AreaAnalysis],
    *,
    title: str,
    score: Score | None = None,
    truth: Truth | None = None,
    extra: list[str] | None = None,
    max_meters: int = 6,
) -> Path:
    """estimates.csv, events.csv, PNG plots and report.html in ``out``; returns the page."""
    out.mkdir(parents=True, exist_ok=True)
    write_estimates_csv(out / "estimates.csv", analyses)
    events = [e for a in analyses for e in a.events]
    with (out / "events.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time", "type", "meter", "estimate_pct", "uncertainty_pct", "id"])
        for e in events:
            d = e["data"]
            writer.writerow([e["time"], e["type"], e["subject"], _fmt(d.get("estimate_pct")),
                             _fmt(d.get("uncertainty_pct")), e["id"]])  # fmt: skip
    histories: dict[str, list[dict[str, Any]]] = {}
    for a in analyses:
        for e in a.estimates:
            histories.setdefault(e["meter"], []).append(e)
    ordered = [e["subject"] for e in events if e["type"].endswith("out_of_tolerance.v1")]
    picked = list(dict.fromkeys(ordered))[:max_meters]
    images = []
    for meter in picked:
        name = f"meter_{meter}.png"
        plot_meter(out / name, meter, histories[meter], truth)
        images.append(name)
    for a in analyses[:4]:
        if a.residuals:
            name = f"residuals_{a.utility}_{a.area}.png"
            plot_residuals(out / name, a)
            images.append(name)
    rows = "".join(
        f"<tr><td>{html.escape(e['time'])}</td><td>{html.escape(e['type'])}</td>"
        f"<td>{html.escape(e['subject'])}</td><td>{_fmt(e['data'].get('estimate_pct'))}</td>"
        f"<td>{_fmt(e['data'].get('uncertainty_pct'))}</td></tr>"
        for e in events
        if not e["type"].endswith("register_decreased.v1")
    )
    summary = "\n".join((extra or []) + (score.lines() if score else []))
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:80em}}td,th{{padding:2px 8px}}
table{{border-collapse:collapse}}tr:nth-child(even){{background:#f4f4f4}}</style></head><body>
<h1>{html.escape(title)}</h1><pre>{html.escape(summary)}</pre>
<h2>Orders and candidates</h2><table><tr><th>time</th><th>event</th><th>meter</th>
<th>estimate %</th><th>u %</th></tr>{rows}</table>
<h2>Plots</h2>{"".join(f'<p><img src="{i}"></p>' for i in images)}
<p>Files: estimates.csv (each meter's latest estimate), events.csv.</p></body></html>"""
    page_path = out / "report.html"
    page_path.write_text(page, encoding="utf-8")
    return page_path


def _fmt(value: Any) -> str:
    return "" if value is None else f"{float(value):.3f}"
