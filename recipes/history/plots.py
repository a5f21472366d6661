"""The figures of a history run; each experiment draws its own (`Experiment.plot`).

A plot function takes the experiment's records (as in `results["raw"]`), the
run directory and the config, writes PNG files atomically and returns their names.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from recipes import artifacts
from recipes.history.config import Config
from recipes.history.verdicts import THRESHOLDS
from seqzoo import registry


def _pyplot():
    import matplotlib.pyplot as plt

    return plt


def _length_axis(ax, lengths: Sequence[int]) -> None:
    """A log x axis labelled at the measured lengths."""
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    ax.set_xticks(list(lengths))
    ax.set_xticklabels([str(L) for L in lengths])
    ax.xaxis.set_minor_formatter(NullFormatter())


def long_range(records: list[dict[str, Any]], out: str, config: Config) -> list[str]:
    """`gradient_flow.png` (claim 1's probes) and `success_vs_length.png` (the sweep of claims 2-3)."""
    plt = _pyplot()
    written = []
    probes = [r for r in records if "gradient_init" in r]
    if probes:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
        for ax, phase in zip(axes, ("init", "trained")):
            for r in probes:
                g = np.maximum(np.asarray(r[f"gradient_{phase}"], "float64"), 1e-30)
                ax.semilogy(np.arange(len(g)), g, label=r["model"])
            when = "at initialisation" if phase == "init" else "after training"
            ax.set_title(f"adding problem, T={config.probe_len}: {when}")
            ax.set_xlabel("distance from the output (steps)")
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("mean |d loss / d x_t|")
        axes[1].legend()
        artifacts.save_figure_atomic(fig, os.path.join(out, "gradient_flow.png"), dpi=110)
        written.append("gradient_flow.png")

    sweep = [r for r in records if r["seq_len"] in config.lengths]
    if sweep:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
        for ax, task in zip(axes, ("adding", "recall")):
            for m in dict.fromkeys(r["model"] for r in sweep):
                pts = sorted((r["seq_len"], r["skill"]) for r in sweep if r["model"] == m and r["task"] == task)
                if pts:
                    ax.plot(*zip(*pts), marker="o", label=m)
            ax.axhline(THRESHOLDS["success_skill"], color="k", ls="--", lw=0.8, label="solved")
            ax.axhline(0.0, color="gray", ls=":", lw=0.8, label="trivial baseline")
            _length_axis(ax, config.lengths)
            ax.set_title(f"{task}: skill vs sequence length")
            ax.set_xlabel("sequence length T")
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("skill (0 = baseline, 1 = perfect)")
        axes[1].legend()
        artifacts.save_figure_atomic(fig, os.path.join(out, "success_vs_length.png"), dpi=110)
        written.append("success_vs_length.png")
    return written


def _time_plot(timings, out, name, title, kind, sequential_line=False) -> list[str]:
    """A log-log plot of training step time against T, one line per model; `kind(model)` gives
    `(label, solid)`: its legend label and whether it is drawn solid (else dashed)."""
    if not timings:
        return []
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for m, pts in timings.items():
        lengths = sorted(int(L) for L in pts)
        label, solid = kind(m)
        ax.loglog(lengths, [pts[str(L)] * 1000 for L in lengths], marker="o", ls="-" if solid else "--",
                  label=f"{m} ({label})")
    lengths = sorted({int(L) for pts in timings.values() for L in pts})
    if sequential_line:
        first = min(pts[str(lengths[0])] for pts in timings.values()) * 1000
        ax.loglog(lengths, [first * L / lengths[0] for L in lengths], color="gray", ls=":", lw=1,
                  label="~ T (sequential)")
    _length_axis(ax, lengths)
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("training step time (ms)")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    artifacts.save_figure_atomic(fig, os.path.join(out, name), dpi=110)
    return [name]


def step_time(timings: dict[str, dict[str, float]], out: str, config: Config) -> list[str]:
    """`step_time.png`: training step time against sequence length, log-log (claim 5)."""
    def family(m):
        return registry.get(m).family, registry.get(m).family == "recurrent"

    return _time_plot(timings, out, "step_time.png", f"training step time, batch {config.timing_batch}",
                      family, sequential_line=True)


def scan_step_time(timings: dict[str, dict[str, float]], out: str, config: Config) -> list[str]:
    """`scan_step_time.png`: step time against T, parallel scans (solid) vs gated cells (dashed) (claim 7)."""
    def kind(m):
        scan = "parallel_scan" in registry.get(m).tags
        return ("parallel scan" if scan else "gated cell"), scan

    return _time_plot(timings, out, "scan_step_time.png",
                      f"parallel scans vs gated cells, batch {config.timing_batch}", kind)


def depth(results: dict[str, dict[str, dict]], out: str, config: Config) -> list[str]:
    """`depth.png`: fit skill against the number of stacked layers (claim 6)."""
    if not results:
        return []
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for m, by_depth in results.items():
        depths = sorted(int(d) for d in by_depth)
        ax.plot(depths, [by_depth[str(d)]["skill"] for d in depths], marker="o", label=m)
    ax.axhline(THRESHOLDS["success_skill"], color="k", ls="--", lw=0.8)
    ax.set_xticks(list(config.depths))
    ax.set_xlabel("stacked layers")
    ax.set_ylabel("fit skill, random labels")
    ax.set_title(f"depth, T={config.depth_len}, {config.depth_units} units/layer")
    ax.grid(alpha=0.3)
    ax.legend()
    artifacts.save_figure_atomic(fig, os.path.join(out, "depth.png"), dpi=110)
    return ["depth.png"]
