"""The papers' configs and their sizes, as tools/analysis_tools/get_flops.py
counts them (same functions, same default input sizes), computed once per
test session."""
from functools import lru_cache
from pathlib import Path
from typing import Dict

from mmengine.analysis import parameter_count
from mmengine.config import Config

from mmdynact.analysis import count, model_for_analysis

REPO = Path(__file__).resolve().parents[1]
FAMILIES = ('frelu', 'acon', 'dyrelu')  # the papers' experiments
CONFIGS = sorted(
    p for family in FAMILIES for p in (REPO / 'configs' / family).glob('*.py'))

_PARAMETERS: Dict[str, int] = {}


def config_id(path: Path) -> str:
    return f'{path.parent.name}/{path.stem}'


def relative(path: Path) -> str:
    """``configs/<family>/<name>.py``, as the model index writes it."""
    return path.relative_to(REPO).as_posix()


def _model(config: str):
    return model_for_analysis(Config.fromfile(str(REPO / config)))


def parameters(config: str) -> int:
    """Parameters of the config's model (``config`` relative to the repo)."""
    if config not in _PARAMETERS:
        model, _ = _model(config)
        _PARAMETERS[config] = parameter_count(model)['']
    return _PARAMETERS[config]


@lru_cache(maxsize=None)
def flops(config: str) -> int:
    """FLOPs of the config's model at the toolbox's default input size."""
    model, inputs = _model(config)
    total, _PARAMETERS[config] = count(model, inputs)
    return total
