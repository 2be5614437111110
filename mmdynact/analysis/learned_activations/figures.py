"""Matplotlib figures of the probes: curve pages and overviews."""
from typing import List, Sequence

import numpy as np
from matplotlib.figure import Figure

from .probe import LayerProbe

COLUMNS = 4
ROWS = 3
#: layers per page of curves
PER_PAGE = COLUMNS * ROWS
SPREAD_COLORS = ('tab:blue', 'tab:orange', 'tab:green', 'tab:red')


def short_name(name: str) -> str:
    """The layer name without the usual ``backbone.``/``.activate`` parts."""
    for prefix in ('backbone.', 'module.'):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name[:-len('.activate')] if name.endswith('.activate') else name


def curve_pages(probes: Sequence[LayerProbe], title: str) -> List[Figure]:
    """Pages of input -> output curves, one subplot per layer."""
    pages = []
    for start in range(0, len(probes), PER_PAGE):
        chunk = probes[start:start + PER_PAGE]
        rows = -(-len(chunk) // COLUMNS)
        columns = min(len(chunk), COLUMNS)
        figure = Figure(
            figsize=(3.4 * columns, 2.9 * rows + 0.6), layout='constrained')
        axes = np.atleast_1d(figure.subplots(rows, columns)).ravel()
        for ax, probe in zip(axes, chunk):
            probe.plot(ax)
            ax.set_title(
                f'{short_name(probe.name)}\n{probe.type_name}, '
                f'C={probe.channels}',
                fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            ax.set_xlabel('input x', fontsize=7)
            ax.set_ylabel('output y', fontsize=7)
        axes[0].legend(fontsize=6, loc='upper left')
        for ax in axes[len(chunk):]:
            ax.set_visible(False)
        pages_total = -(-len(probes) // PER_PAGE)
        suffix = (f' (page {start // PER_PAGE + 1}/{pages_total})'
                  if pages_total > 1 else '')
        figure.suptitle(title + suffix, fontsize=10)
        pages.append(figure)
    return pages


def spread_figure(probes: Sequence[LayerProbe], title: str) -> Figure:
    """Box plots, per layer, of each of the probes' :meth:`spread` values."""
    keys = list(probes[0].spread())
    width = 1.0 / (len(keys) + 1)
    longest = max(len(short_name(probe.name)) for probe in probes)
    figure = Figure(
        figsize=(max(6.0, 0.2 * len(probes) * len(keys) + 1.5),
                 3.5 + 0.08 * longest),
        layout='constrained')
    ax = figure.subplots()
    positions = np.arange(len(probes))
    for index, key in enumerate(keys):
        offset = (index - (len(keys) - 1) / 2) * width
        color = SPREAD_COLORS[index % len(SPREAD_COLORS)]
        boxes = ax.boxplot([probe.spread()[key] for probe in probes],
                           positions=positions + offset,
                           widths=width * 0.9,
                           whis=(5, 95),
                           showfliers=False,
                           patch_artist=True)
        for box in boxes['boxes']:
            box.set(facecolor=color, alpha=0.5)
        ax.plot([], [], color=color, lw=6, alpha=0.5, label=key)
    ax.set_xticks(positions)
    ax.set_xticklabels([short_name(probe.name) for probe in probes],
                       rotation=90,
                       fontsize=7)
    ax.grid(axis='y', alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f'{title}\n(boxes: quartiles, whiskers: 5-95%)', fontsize=10)
    return figure
