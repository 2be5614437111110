"""Write the figures and the text/JSON summary of a set of probes."""
import json
from pathlib import Path
from typing import Dict, List, Sequence

from mmdynact.models.activations import PROBE_KINDS
from .figures import curve_pages, short_name, spread_figure
from .probe import LayerProbe
from .recorder import PROBES

DPI = 80


def write_report(probes: Sequence[LayerProbe], out_dir: str,
                 header: str) -> List[Path]:
    """Write PNGs, ``summary.txt`` and ``summary.json`` into ``out_dir``.

    Per section present (each probe kind's :attr:`~.LayerProbe.titles`, in
    the order of ``PROBE_KINDS``): ``<section>_curves[_<page>].png`` (one
    subplot per layer) and ``<section>_spread.png`` (the distribution per
    layer).

    Returns:
        The files written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for section, title in report_sections().items():
        group = [probe for probe in probes if probe.section == section]
        if not group:
            continue
        pages = curve_pages(group, title)
        for number, page in enumerate(pages, 1):
            suffix = f'_{number}' if len(pages) > 1 else ''
            written.append(out / f'{section}_curves{suffix}.png')
            page.savefig(written[-1], dpi=DPI, bbox_inches='tight')
        written.append(out / f'{section}_spread.png')
        spread_figure(group, group[0].spread_title).savefig(
            written[-1], dpi=DPI, bbox_inches='tight')
    written.append(out / 'summary.txt')
    written[-1].write_text(summary_text(probes, header))
    written.append(out / 'summary.json')
    written[-1].write_text(json.dumps(summary_json(probes, header), indent=1))
    return written


def report_sections() -> Dict[str, str]:
    """Section key -> title of its curve pages, in report order."""
    return {
        section: title
        for kind in PROBE_KINDS
        for section, title in PROBES[kind].titles.items()
    }


def summary_text(probes: Sequence[LayerProbe], header: str) -> str:
    """One line per layer: name, type, channels, its statistics."""
    width = max(len(short_name(probe.name)) for probe in probes)
    lines = [
        header, '(mean (5th..95th percentile) over channels and '
        'inputs)', ''
    ]
    for probe in probes:
        lines.append(f'{short_name(probe.name):<{width}}  '
                     f'{probe.type_name:<9} C={probe.channels:<5} '
                     f'{probe.summary_text()}')
    return '\n'.join(lines) + '\n'


def summary_json(probes: Sequence[LayerProbe], header: str) -> Dict:
    """The statistics of every layer, keyed by its full name."""
    return dict(
        header=header,
        layers=[
            dict(
                name=probe.name,
                type=probe.type_name,
                channels=probe.channels,
                inputs=probe.calls,
                **probe.summary()) for probe in probes
        ])
