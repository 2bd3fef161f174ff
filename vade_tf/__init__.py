"""vade_tf: Variational Deep Embedding (VaDE) for Keras 3 / TensorFlow.

`import vade_tf` registers the package's Keras classes, so
`keras.models.load_model` can read a saved `VaDE` afterwards.

The modules, by layer (each imports only those below it):

- the model: `model` (`VaDE`, the contract), `networks`, `layers`,
  `mixture_prior`, `likelihoods`, `losses` (the ELBO's terms), `numerics`,
  `optimizers`, `baselines`, and the model's helpers `inference`,
  `fitting`, `start`, `weights`;
- training: `recipes` (settings as data), `workflow` (build, train,
  resume, choose K), `building`, `pretraining`, `mixture`,
  `start_selection`, `k_selection`, `train_loop`, `callbacks`,
  `compilation`, `distribution`;
- data: `datasets` (named sets), `files` (your files), `batches`,
  `streaming`, `synthetic`;
- around them: `estimator` (`VaDEClustering`), `assignments`, `export`,
  `plotting`, `metrics`, `shipped`, `validation`, `fileio`, `options`, and
  `cli` (the `vade-tf` command, loaded on its own).
"""

from vade_tf import (
    assignments,
    baselines,
    batches,
    building,
    callbacks,
    compilation,
    datasets,
    distribution,
    export,
    fileio,
    files,
    fitting,
    inference,
    k_selection,
    layers,
    likelihoods,
    losses,
    metrics,
    mixture,
    mixture_prior,
    model,
    networks,
    numerics,
    optimizers,
    options,
    plotting,
    pretraining,
    recipes,
    shipped,
    start,
    start_selection,
    streaming,
    synthetic,
    train_loop,
    validation,
    weights,
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
    "assignments",
    "baselines",
    "batches",
    "building",
    "callbacks",
    "compilation",
    "datasets",
    "distribution",
    "export",
    "fileio",
    "files",
    "fitting",
    "inference",
    "k_selection",
    "layers",
    "likelihoods",
    "losses",
    "metrics",
    "mixture",
    "mixture_prior",
    "model",
    "networks",
    "numerics",
    "optimizers",
    "options",
    "plotting",
    "pretraining",
    "recipes",
    "shipped",
    "start",
    "start_selection",
    "streaming",
    "synthetic",
    "train_loop",
    "validation",
    "weights",
    "workflow",
]
