"""What a command reads and decides before it trains: the data, K, the
recipe, the model, and the checks that need no TensorFlow (`precheck`).
"""

import os
import re
import sys

import numpy as np

from vade_tf import validation
from vade_tf.cli import parser
from vade_tf.data import datasets, files, images
from vade_tf.training import k_selection, recipes


def precheck(args):
    """The checks of a command's input that need no TensorFlow.

    The console script (`vade_tf_cli`) runs this before TensorFlow is
    imported, so bad input is one line within a second: `--n-clusters`,
    and a `--data` file read and checked (readable, numeric, finite, not
    empty; `--k-range` against its rows; not for `predict`, which streams
    its file).

    Returns:
        The `vade_tf.data.files.LoadedData` of `--data` (for the command, so
        the file is read once), or `None`.
    """
    if hasattr(args, "n_clusters"):
        parser.n_clusters_value(args.n_clusters)
    if not getattr(args, "data", None) or args.command == "predict":
        return None  # `predict` streams its file: never read whole
    data = files.read_data(args.data, label_column=args.label_key)
    validation.check_data(data.x, name=os.path.basename(args.data))
    if getattr(args, "k_range", None):
        k_range_of(args, len(data.x))
    return data


def load_data(args):
    """The data of `--data` or `--dataset`: `(x, y, name, description)`.

    The description says which column became the labels and why, and
    holds a CSV's feature names (a `vade_tf.data.files.LoadedData` without
    its arrays' use; `None` for a named data set).
    """
    if getattr(args, "data", None):
        data = getattr(args, "preloaded", None) or files.read_data(
            args.data, label_column=args.label_key
        )
        name = os.path.splitext(os.path.basename(args.data))[0]
        return data.x, data.y, name, data
    x, y = datasets.load_dataset(args.dataset, args.data_dir, args.split)
    return x, y, args.dataset, None


def decide_n_clusters(args, x, y):
    """K and where it comes from: `(K or "auto", reason)`."""
    n_clusters = parser.n_clusters_value(args.n_clusters)
    if n_clusters is not None:
        if k_selection.is_auto(n_clusters):
            return k_selection.AUTO, "--n-clusters auto"
        return n_clusters, "--n-clusters"
    if y is not None:
        return int(len(np.unique(y))), "the number of distinct labels"
    return k_selection.AUTO, "no labels and no --n-clusters"


def describe_data(args, x, y, name, loaded):
    """Prints what was read and decided, before any training."""
    if loaded is None:
        labels = f"the {name} labels (reported, never trained on)"
    else:
        labels = loaded.labels_from
        if y is not None:
            labels += " (reported, never trained on)"
    shape = ""
    if loaded is not None and loaded.image_shape and not args.image_shape:
        side = "x".join(map(str, loaded.image_shape))
        shape = f" (images of {side}, the array's shape)"
    print(
        f"Data    {name}: {x.shape[0]} rows x {x.shape[1]} features{shape}; "
        f"labels: {labels}",
        flush=True,
    )
    if loaded is not None and loaded.label_hint:
        print(f"note: {loaded.label_hint}", flush=True)


def announce_n_clusters(args, n_clusters, reason, n_samples):
    """Prints K and its source (or how it will be chosen) and checks the
    range of K, before any training."""
    if not k_selection.is_auto(n_clusters):
        print(f"Clusters K = {n_clusters} ({reason})", flush=True)
        return
    low, high = k_range_of(args, n_samples)
    print(
        f"Clusters chosen from K = {low}..{high} by {args.k_criterion} on "
        f"the pretrained latent means ({reason}; labels are never used)",
        flush=True,
    )


def k_range_of(args, n_samples):
    """`--k-range` as `(k_min, k_max)`, or the default for the data."""
    if not getattr(args, "k_range", None):
        return k_selection.default_k_range(n_samples)
    try:
        values = k_selection.check_k_range(args.k_range, n_samples)
    except ValueError as error:
        raise ValueError(
            str(error)
            .replace("k_range=", "--k-range ")
            .replace("k_range must", "--k-range must")
        ) from None
    return (values[0], values[-1])


def build_model(args, x, n_clusters):
    from vade_tf import workflow

    try:
        hidden = tuple(int(w) for w in args.hidden_dims.split(",") if w)
    except ValueError:
        raise ValueError(
            "--hidden-dims must be comma-separated positive integers, for "
            f"example 500,500,2000. Received: {args.hidden_dims!r}"
        ) from None
    model_class = None
    if getattr(args, "baseline", None) == "vae_gmm":
        from vade_tf.model import baselines

        model_class = baselines.VAEGMM
    return workflow.build_model(
        x,
        n_clusters=n_clusters,
        model_class=model_class,
        likelihood=args.likelihood,
        input_scaling=args.input_scaling,
        latent_dim=args.latent_dim,
        hidden_dims=hidden,
        alpha=args.alpha,
        beta=args.beta,
        gamma_mode=args.gamma_mode,
        seed=args.seed,
    )


def image_shape_of(args, name, loaded=None):
    """The image shape of the data: --image-shape, else the shape of the
    file's image array (`vade_tf.data.images.image_shape_of_samples`), else
    the named set's; `None` for a table."""
    if not args.image_shape:
        if loaded is not None:
            return loaded.image_shape
        return datasets.IMAGE_SHAPES.get(name)
    try:
        shape = tuple(int(v) for v in args.image_shape.split(","))
    except ValueError:
        shape = ()
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise ValueError(
            "--image-shape must be HEIGHT,WIDTH[,CHANNELS] of positive "
            f"ints. Received: {args.image_shape!r}"
        )
    own = None if loaded is None else loaded.image_shape
    if own is not None and not images.same_images(shape, own):
        raise ValueError(
            f"--image-shape {args.image_shape} does not match the images of "
            f"{args.data}, of shape {own}. Leave --image-shape out (the "
            "array's own shape is used) or reshape the array."
        )
    return shape


# Recipe fields and the flags that set them (`--lr` sets learning_rate).
RECIPE_FLAGS = {
    field.name: recipes.flag_name(field) for field in recipes.tunable_fields()
}


def recipe_from_args(args):
    """The recipe named by --recipe with the flags the user gave applied."""
    changes = {}
    for field, flag in RECIPE_FLAGS.items():
        value = getattr(args, flag, None)
        if value is not None:
            changes[field] = value
    if changes.get("latent_std") == 0:
        changes["latent_std"] = None
    if args.command == "reproduce":
        changes.setdefault("epochs", recipes.REPRODUCE_EPOCHS)
    try:
        return recipes.get_recipe(args.recipe, **changes)
    except ValueError as error:
        # Name the flag rather than the recipe field.
        message = str(error)
        for field, flag in RECIPE_FLAGS.items():
            message = re.sub(
                rf"\b{field}=", "--" + flag.replace("_", "-") + "=", message
            )
        raise ValueError(message) from None


def verbosity_of(args):
    if args.verbose is not None:
        return args.verbose
    return 1 if sys.stdout.isatty() else 2


def score_clusters(model, x, y, probabilities=None):
    from vade_tf import metrics

    if probabilities is None:
        probabilities = model.predict_proba(x)
    clusters = probabilities.argmax(axis=1)
    scores = {
        "min_cluster_fraction": metrics.min_cluster_fraction(
            clusters, model.n_clusters
        )
    }
    if y is not None:
        scores.update(metrics.clustering_scores(y, clusters))
    return scores


def format_scores(scores):
    parts = [
        f"{k.upper()} {v:.4f}"
        for k, v in scores.items()
        if k in ("acc", "nmi", "ari")
    ]
    parts.append(f"smallest cluster {scores['min_cluster_fraction']:.1%}")
    return "  ".join(parts)


# `--model shipped:NAME`: the package's trained model for a named data set.
SHIPPED_PREFIX = "shipped:"


def load_model(path):
    import keras

    import vade_tf  # noqa: F401  (registers the classes)

    if path.startswith(SHIPPED_PREFIX):
        from vade_tf import shipped

        path = shipped.model_path(
            datasets.normalize_name(path[len(SHIPPED_PREFIX) :])
        )
    if not os.path.exists(path):
        raise FileNotFoundError(f"No model file at {os.path.abspath(path)}.")
    if not path.endswith(".keras"):
        raise ValueError(
            f"{path} is not a vade_tf model file: expected a .keras file "
            "written by vade-tf train or VaDE.save (or shipped:mnist, "
            "shipped:fashion_mnist)."
        )
    try:
        model = keras.models.load_model(path)
    except Exception as error:  # Keras raises many types for a bad file
        raise ValueError(
            f"{path} is not a readable Keras model file (truncated or "
            f"corrupted?): {type(error).__name__}: {error}"
        ) from None
    if not isinstance(model, vade_tf.VaDE):
        raise ValueError(
            f"{path} holds a {type(model).__name__}, not a vade_tf model. "
            "Expected a model.keras written by vade-tf train or VaDE.save."
        )
    return model
