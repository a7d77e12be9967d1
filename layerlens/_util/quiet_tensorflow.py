"""Import TensorFlow without its start-up chatter on the terminal.

TensorFlow's C++ runtime writes its start-up lines (oneDNN notices, CUDA probes, "failed call to
cuInit") straight to the process's standard error, before its own logging is configured, so
``TF_CPP_MIN_LOG_LEVEL`` does not silence them in current releases. The command line imports
TensorFlow through :func:`import_quietly`, which points file descriptor 2 at a temporary file for the
duration and repeats what was written only if the import fails.
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any


def import_quietly() -> Any:
    """Import TensorFlow (and Keras) with the runtime's start-up lines hidden; return the module.

    Raises
    ------
    ImportError
        As ``import tensorflow`` would; what TensorFlow wrote to standard error is printed first.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import keras  # noqa: F401 - Keras 3 picks its backend on import
            import tensorflow as tf

            tf.config.list_logical_devices()  # probes the devices now, where its messages are hidden
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return tf
