"""Hooks of mmdynact's layers and tools, the mmengine 0.10.7 workarounds its
tools run with (:mod:`.compat`), and checkpoint files read with errors that
name the file and its problem (:mod:`.checkpoint_files`)."""
from . import compat, hooks
from .checkpoint_files import (UnreadableCheckpointError,
                               checkpoint_file_problem, read_checkpoint)
from .compat import *  # noqa: F401,F403
from .hooks import *  # noqa: F401,F403

__all__ = [
    'UnreadableCheckpointError', 'checkpoint_file_problem', 'read_checkpoint'
]
__all__ += compat.__all__ + hooks.__all__
