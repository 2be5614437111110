"""The papers' configs, as the model index lists them, and their sizes as
tools/analysis_tools/get_flops.py counts them (same functions, same default
input sizes), computed once per test session.

The paper folders are those of the metafiles that ``model-index.yml``
imports (``configs/<paper>/metafile.yml``); the configs are the files in
those folders.
"""
from functools import lru_cache
from pathlib import Path
from typing import Dict, FrozenSet, List, NamedTuple

import yaml
from mmengine.analysis import parameter_count
from mmengine.config import Config
from modelindex import load
from torch import nn

from mmdynact.analysis import count, model_for_analysis
from mmdynact.models.activations import ChannelActivation

REPO = Path(__file__).resolve().parents[1]
INDEX_FILE = REPO / 'model-index.yml'
#: the model index, read with the ``model-index`` package as mim does
INDEX = load(str(INDEX_FILE))
#: the metafiles model-index.yml imports, one per paper
METAFILES = [
    REPO / path for path in yaml.safe_load(INDEX_FILE.read_text())['Import']
]
FAMILIES = tuple(path.parent.name for path in METAFILES)
CONFIGS = sorted(
    p for family in FAMILIES for p in (REPO / 'configs' / family).glob('*.py'))


class Built(NamedTuple):
    """What a config's model holds."""
    parameters: int
    #: class names of its mmdynact activations
    activations: FrozenSet[str]
    #: class name of its backbone
    backbone: str


_BUILT: Dict[str, Built] = {}


def config_id(path: Path) -> str:
    return f'{path.parent.name}/{path.stem}'


def relative(path: Path) -> str:
    """``configs/<family>/<name>.py``, as the model index writes it."""
    return path.relative_to(REPO).as_posix()


def _model(config: str):
    return model_for_analysis(Config.fromfile(str(REPO / config)))


def _remember(config: str, model: nn.Module) -> Built:
    if config not in _BUILT:
        _BUILT[config] = Built(
            parameter_count(model)[''],
            frozenset(
                type(module).__name__ for module in model.modules()
                if isinstance(module, ChannelActivation)),
            type(model.model.backbone).__name__)
    return _BUILT[config]


def built(config: str) -> Built:
    """Facts of the config's model (``config`` relative to the repo)."""
    if config not in _BUILT:
        _remember(config, _model(config)[0])
    return _BUILT[config]


def parameters(config: str) -> int:
    """Parameters of the config's model (``config`` relative to the repo)."""
    return built(config).parameters


@lru_cache(maxsize=None)
def flops(config: str) -> int:
    """FLOPs of the config's model at the toolbox's default input size."""
    model, inputs = _model(config)
    _remember(config, model)
    return count(model, inputs)[0]


def _covers(config: str) -> FrozenSet[str]:
    """The activation classes of the config's model, and its backbone's
    class if it has any of them."""
    facts = built(config)
    if not facts.activations:
        return frozenset()
    return facts.activations | {facts.backbone}


def covering_configs(listed_flops: Dict[str, int]) -> List[str]:
    """A few configs that together run every activation of the papers'
    configs, and every backbone with an activation in it: greedily, the
    config that covers most of what is not covered yet, of those the one
    with the fewest listed FLOPs (the fastest to trace)."""
    uncovered = set().union(*map(_covers, listed_flops))
    chosen = []
    while uncovered:
        best = min(
            listed_flops,
            key=lambda c: (-len(_covers(c) & uncovered), listed_flops[c]))
        uncovered -= _covers(best)
        chosen.append(best)
    return chosen
