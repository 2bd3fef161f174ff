"""vade_tf: Variational Deep Embedding (VaDE) for Keras 3 / TensorFlow.

`import vade_tf` registers the package's Keras classes, so
`keras.models.load_model` can read a saved `VaDE` afterwards.
"""

from vade_tf import (
    baselines,
    callbacks,
    compilation,
    datasets,
    distribution,
    export,
    layers,
    losses,
    metrics,
    mixture,
    optimizers,
    plotting,
    pretraining,
    recipes,
    shipped,
    streaming,
    validation,
    workflow,
)
from vade_tf.estimator import VaDEClustering
from vade_tf.export import export_saved_model
from vade_tf.model import VaDE

__version__ = "0.1.0"

__all__ = [
    "VaDE",
    "VaDEClustering",
    "export_saved_model",
    "baselines",
    "callbacks",
    "compilation",
    "datasets",
    "distribution",
    "export",
    "layers",
    "losses",
    "metrics",
    "mixture",
    "optimizers",
    "plotting",
    "pretraining",
    "recipes",
    "shipped",
    "streaming",
    "validation",
    "workflow",
]
