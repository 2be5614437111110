"""Workarounds for mmengine 0.10.7 (with torch >= 2.6), deletable as a unit.

Each module fixes one gap of the mmengine release the project supports.
Users: :mod:`mmdynact.cli.common` (``build_runner``) and
:mod:`mmdynact.analysis.learned_activations.model_inputs` (the plot tool's
checkpoint loading). What makes each obsolete:

* :mod:`.trusted_checkpoints` (full unpickling of local checkpoints): torch
  2.6 made ``weights_only=True`` the default of ``torch.load``, which
  refuses mmengine's message hub. mmengine fixed it on its main branch
  (``weights_only=False`` in every ``CheckpointLoader`` scheme, PR #1670,
  October 2025, after 0.10.7); obsolete from the first mmengine release that
  contains it (0.11).
* :mod:`.cpu_distributed` and :mod:`.portable_runner` (distributed runs on
  CPU-only machines): mmengine's ``_init_dist_pytorch`` calls
  ``torch.cuda.set_device`` unconditionally and ``Runner.wrap_model`` passes
  ``device_ids=[LOCAL_RANK]`` to DDP, still so on mmengine's main branch
  (0.11.0rc0); obsolete once a release starts a ``gloo`` group without CUDA
  and builds DDP without ``device_ids`` for a CPU model.
* :mod:`.atomic_local_backend` (temporary file + fsync + rename for local
  writes): mmengine's ``LocalBackend.put``/``put_text`` write into the
  target directly, still so on its main branch; obsolete once they write
  atomically.
* :mod:`.atomic_checkpoint_hook` (``last_checkpoint`` written atomically):
  ``CheckpointHook`` writes it with a plain ``open``, still so on mmengine's
  main branch; obsolete once it writes it atomically.

To delete one: remove its module, its names below, and its call in the
users named above (``build_runner`` falls back to mmengine's ``Runner``).
"""
from .atomic_checkpoint_hook import (LAST_CHECKPOINT, AtomicCheckpointHook,
                                     write_last_checkpoint_atomically)
from .atomic_local_backend import (AtomicLocalBackend,
                                   remove_stale_temporary_files,
                                   write_atomically,
                                   write_local_files_atomically)
from .cpu_distributed import init_cpu_distributed, launcher_env
from .portable_runner import PortableRunner
from .trusted_checkpoints import load_trusted_local, trust_local_checkpoints

__all__ = [
    'LAST_CHECKPOINT', 'AtomicCheckpointHook',
    'write_last_checkpoint_atomically', 'AtomicLocalBackend',
    'remove_stale_temporary_files', 'write_atomically',
    'write_local_files_atomically', 'init_cpu_distributed', 'launcher_env',
    'PortableRunner', 'load_trusted_local', 'trust_local_checkpoints'
]
