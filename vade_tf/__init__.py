"""vade_tf: Variational Deep Embedding (VaDE) for Keras 3 / TensorFlow."""

from vade_tf import callbacks, datasets, layers, losses, metrics, pretraining
from vade_tf.model import VaDE

__version__ = "0.1.0"

__all__ = [
    "VaDE",
    "callbacks",
    "datasets",
    "layers",
    "losses",
    "metrics",
    "pretraining",
]
