"""vade_tf: Variational Deep Embedding (VaDE) for Keras 3 / TensorFlow."""

from vade_tf import callbacks
from vade_tf import datasets
from vade_tf import layers
from vade_tf import losses
from vade_tf import metrics
from vade_tf import pretraining
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
