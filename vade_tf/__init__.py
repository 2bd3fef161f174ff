"""vade_tf: Variational Deep Embedding (VaDE) for Keras 3 / TensorFlow.

`import vade_tf` registers the package's Keras classes, so
`keras.models.load_model` can read a saved `VaDE` afterwards.

The package, by layer (each imports only the layers below it):

- `cli` (the `vade-tf` command), `estimator` (`VaDEClustering`),
  `workflow` (build, train, resume, choose K) and `building`, `export`,
  `assignments`, `plotting`, `shipped`;
- `model`: the `VaDE` class and its parts (networks, layers, the mixture
  prior, likelihoods, the ELBO, baselines);
- `training`: recipes, optimizers, callbacks, the batch order, the training
  loop, pretraining, weight files, the mixture start, K selection, XLA and
  `tf.distribute`;
- `data`: named data sets, your files, streaming, synthetic data;
- leaves: `numerics` (floors and limits), `choices` (every choice list),
  `validation`, `metrics`, `fileio`.
"""

import importlib

from vade_tf import (
    assignments,
    building,
    choices,
    data,
    estimator,
    export,
    fileio,
    metrics,
    model,
    numerics,
    plotting,
    shipped,
    training,
    validation,
    workflow,
)
from vade_tf.building import build_model
from vade_tf.estimator import VaDEClustering
from vade_tf.export import export_saved_model
from vade_tf.model.vade import VaDE
from vade_tf.workflow import resume, train

# Every module of the subpackages is loaded, so `vade_tf.training.recipes`
# and the like are there after `import vade_tf`, and every Keras class is
# registered for `keras.models.load_model`.
for _module in (
    "data.datasets",
    "data.files",
    "data.streaming",
    "data.synthetic",
    "model.baselines",
    "model.likelihoods",
    "training.k_selection",
    "training.start_selection",
):
    importlib.import_module(f"vade_tf.{_module}")
del _module

__version__ = "0.1.0"

__all__ = [
    "VaDE",
    "VaDEClustering",
    "build_model",
    "export_saved_model",
    "resume",
    "train",
    "assignments",
    "building",
    "choices",
    "data",
    "estimator",
    "export",
    "fileio",
    "metrics",
    "model",
    "numerics",
    "plotting",
    "shipped",
    "training",
    "validation",
    "workflow",
]
