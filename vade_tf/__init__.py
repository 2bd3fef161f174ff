"""vade_tf: Variational Deep Embedding (VaDE) for Keras 3 / TensorFlow."""

from vade_tf import (
    callbacks,
    datasets,
    export,
    layers,
    losses,
    metrics,
    plotting,
    pretraining,
)
from vade_tf.estimator import VaDEClustering
from vade_tf.export import export_saved_model
from vade_tf.model import VaDE

__version__ = "0.1.0"

__all__ = [
    "VaDE",
    "VaDEClustering",
    "export_saved_model",
    "callbacks",
    "datasets",
    "export",
    "layers",
    "losses",
    "metrics",
    "plotting",
    "pretraining",
]
