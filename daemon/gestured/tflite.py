"""The TFLite interpreter: ai-edge-litert, else tflite-runtime, else TensorFlow."""

from __future__ import annotations

import logging
from typing import Any

from gestured.errors import ModelError

logger = logging.getLogger(__name__)

EDGETPU_LIBRARY = "libedgetpu.so.1"


def _interpreter_module() -> Any:
    try:
        from ai_edge_litert import interpreter

        return interpreter
    except ImportError:
        pass
    try:
        from tflite_runtime import interpreter

        return interpreter
    except ImportError:
        pass
    try:
        import tensorflow as tf

        return tf.lite
    except ImportError as exc:
        raise ModelError(
            "no TFLite interpreter found: install ai-edge-litert or tflite-runtime"
        ) from exc


def make_interpreter(
    model_path: str, *, num_threads: int = 1, edgetpu: bool = False
) -> Any:
    """Create an allocated interpreter; with `edgetpu`, try the Coral delegate first.

    A missing Edge TPU library or device falls back to the CPU with a warning,
    so a box without its accelerator still recognizes gestures.
    """
    module = _interpreter_module()
    delegates = []
    if edgetpu:
        try:
            delegates.append(module.load_delegate(EDGETPU_LIBRARY))
        except (ValueError, OSError, AttributeError) as exc:
            logger.warning(
                "Edge TPU delegate unavailable (%s), running %s on the CPU",
                exc,
                model_path,
            )
    try:
        interpreter = module.Interpreter(
            model_path=model_path,
            num_threads=num_threads,
            experimental_delegates=delegates or None,
        )
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ModelError(f"{model_path}: cannot load TFLite model ({exc})") from exc
    return interpreter
