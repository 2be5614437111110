"""Load mmengine checkpoints from local files with torch >= 2.6.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``, which only
unpickles tensors and plain containers. The checkpoints mmengine 0.10 writes
also hold its message hub (``HistoryBuffer`` objects with numpy arrays) and
dataset meta data, so ``load_from``, ``--resume`` and ``tools/test.py`` fail
with an ``UnpicklingError``.

:func:`trust_local_checkpoints` makes mmengine's loader for local paths (only
that one: URLs and other schemes keep torch's default) unpickle the whole
file. Unpickling can run code, so this is only right for files you chose and
trust, such as the checkpoints your own runs wrote; mmdynact's tools call it
because every local checkpoint they load is one the user named (``load_from``,
``--resume``, the test checkpoint, ``init_cfg=dict(type='Pretrained')``).
A missing or damaged file is named with its problem
(:func:`mmdynact.engine.checkpoint_files.read_checkpoint`).
"""
from typing import Optional

from mmengine.runner import CheckpointLoader

from ..checkpoint_files import read_checkpoint


def load_trusted_local(filename: str, map_location: Optional[str] = None):
    """mmengine's local loader, unpickling the whole (trusted) file."""
    return read_checkpoint(filename, map_location, weights_only=False)


def trust_local_checkpoints() -> None:
    """Load local checkpoints fully (see the module docstring)."""
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_trusted_local, force=True)
