"""What mmdynact's tools run: a CPU-capable Runner and checkpoint file I/O."""
from .atomic_local_backend import (AtomicLocalBackend, write_atomically,
                                   write_local_files_atomically)
from .cpu_distributed import init_cpu_distributed, launcher_env
from .portable_runner import PortableRunner
from .trusted_checkpoints import load_trusted_local, trust_local_checkpoints

__all__ = [
    'AtomicLocalBackend', 'write_atomically', 'write_local_files_atomically',
    'init_cpu_distributed', 'launcher_env', 'PortableRunner',
    'load_trusted_local', 'trust_local_checkpoints'
]
