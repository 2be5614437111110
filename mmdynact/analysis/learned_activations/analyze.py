"""Run a trained model on a few inputs and report its learned activations."""
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from mmengine.config import Config

from mmdynact.ops import use_backend
from .model_inputs import dataset_batches, image_batches, load_model, run
from .recorder import probing
from .report import write_report


def plot_activations(config: str,
                     checkpoint: str,
                     out_dir: str,
                     images: Optional[Sequence[str]] = None,
                     num_images: int = 4,
                     image_size: Optional[Tuple[int, int]] = None,
                     device: str = 'cpu',
                     backend: str = 'eager',
                     layers: Optional[str] = None,
                     cfg_options: Optional[dict] = None) -> List[Path]:
    """Plot what every DY-ReLU / ACON / FReLU layer of a model learned.

    Args:
        config: Config file of any of the four toolboxes.
        checkpoint: Trained weights of that config's model.
        out_dir: Folder for the PNGs and ``summary.txt``/``summary.json``.
        images: Image files to run on; by default the first
            ``num_images`` of the config's test data set (its pipeline).
        num_images: How many data set images to use.
        image_size: ``(height, width)`` to resize ``images`` to.
        device: Where to run the model.
        backend: mmdynact kernel backend (``eager`` avoids compiling).
        layers: Regular expression selecting layers by name (``re.search``);
            by default all.
        cfg_options: Overrides merged into the config.

    Returns:
        The files written.
    """
    if num_images < 1:
        raise ValueError(f'num_images must be >= 1, got {num_images}')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    model = load_model(cfg, checkpoint, device)
    batches = (
        image_batches(images, image_size) if images else dataset_batches(
            cfg, num_images))
    with use_backend(backend), probing(model, layers) as probes:
        count = run(model, batches)
    source = 'given images' if images else 'test data set images'
    header = (f'learned activations of {config}\ncheckpoint {checkpoint}, '
              f'{count} {source}')
    return write_report(probes, out_dir, header)
