"""Hooks of mmdynact's layers and tools, the mmengine 0.10.7 workarounds its
tools run with (:mod:`.compat`), and checkpoint files read with errors that
name the file and its problem (:mod:`.checkpoint_files`)."""
from .checkpoint_files import (UnreadableCheckpointError,  # noqa: F401
                               checkpoint_file_problem, read_checkpoint)
from .compat import *  # noqa: F401,F403
from .hooks import *  # noqa: F401,F403
