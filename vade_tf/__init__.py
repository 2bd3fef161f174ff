"""vade_tf: Variational Deep Embedding (VaDE) for Keras 3 / TensorFlow.

`import vade_tf` registers the package's Keras classes, so
`keras.models.load_model` can read a saved `VaDE` afterwards.

The package, by layer (each imports only the layers below it):

- `cli` (the `vade-tf` command), then `estimator` (`VaDEClustering`),
  `workflow` (build, train, resume, choose K) and `building`, `export`,
  `assignments`, `plotting`;
- `model`: the `VaDE` class and its parts (networks, layers, the mixture
  prior, likelihoods, the ELBO, baselines);
- `training`: recipes, optimizers, callbacks, the batch order, the training
  loop, pretraining, weight files, the mixture start, K selection, XLA and
  `tf.distribute`;
- `data`: named data sets, your files, streaming, synthetic data;
- leaves: `numerics` (floors and limits), `choices` (every choice list),
  `validation`, `metrics`, `fileio`, `shipped`.
"""

import importlib
import pkgutil

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
for _package in (data, model, training):
    for _module in pkgutil.iter_modules(_package.__path__):
        importlib.import_module(f"{_package.__name__}.{_module.name}")
del _package, _module

__version__ = "0.1.0"

# The modules' names before they moved into the subpackages: still found as
# attributes (`vade_tf.recipes`, `from vade_tf import losses`), with a warning.
_MOVED = {
    "baselines": "model.baselines",
    "batches": "training.batches",
    "callbacks": "training.callbacks",
    "compilation": "training.compilation",
    "datasets": "data.datasets",
    "distribution": "training.distribute",
    "files": "data.files",
    "fitting": "model.fitting",
    "inference": "model.inference",
    "k_selection": "training.k_selection",
    "layers": "model.layers",
    "likelihoods": "model.likelihoods",
    "losses": "model.elbo",
    "mixture": "training.latent_mixture",
    "mixture_prior": "model.mixture_prior",
    "networks": "model.networks",
    "optimizers": "training.optimizers",
    "options": "choices",
    "pretraining": "training.pretraining",
    "recipes": "training.recipes",
    "start": "model.start",
    "start_selection": "training.start_selection",
    "streaming": "data.streaming",
    "synthetic": "data.synthetic",
    "train_loop": "training.train_loop",
    "weights": "training.weights",
}


def __getattr__(name):
    if name in _MOVED:
        import warnings

        warnings.warn(
            f"vade_tf.{name} has moved to vade_tf.{_MOVED[name]}.",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module(f"vade_tf.{_MOVED[name]}")
    raise AttributeError(f"module 'vade_tf' has no attribute {name!r}")

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
