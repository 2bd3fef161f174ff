"""The `vade-tf` command line: pretrain, train, evaluate, generate, export.

`vade-tf train --dataset digits` is the main job: it pretrains the
autoencoder, fits the mixture prior on the latent means, trains VaDE while
printing ACC/NMI/ARI each epoch, and writes a run folder with the model, a
metrics JSON, the latent space and samples from every cluster, with the
default recipe ("tuned"; `--recipe original` for the release's settings).
`vade-tf reproduce mnist` is the same job on all 70,000 images. Both run
`vade_tf.workflow.train` from a recipe of `vade_tf.recipes`; the flags that
change one field of the recipe default to the recipe's value.
"""

import argparse
import datetime
import json
import math
import os
import re
import sys
import time

import numpy as np

from vade_tf import datasets, k_selection, options, recipes, validation

# Exit status of a run stopped with Ctrl-C (128 + SIGINT), as shells use.
EXIT_INTERRUPTED = 130
EXIT_ERROR = 2
LIKELIHOOD_CHOICES = (options.LIKELIHOOD_AUTO, *options.LIKELIHOODS)
# `vade-tf train --baseline`: the models of `vade_tf.baselines`.
BASELINES = ("vae_gmm",)
PRETRAIN_RECIPE_CHOICES = (
    recipes.PRETRAIN_RECIPE_AUTO,
    *options.PRETRAIN_RECIPES,
)


def _recipe_default(field):
    """Help text naming each preset's value of a recipe field."""
    values = ", ".join(
        f"{name} {getattr(recipe, field)}"
        for name, recipe in recipes.PRESETS.items()
    )
    return f"default: the recipe's ({values})"


def _dataset_name(value):
    name = datasets.normalize_name(value)
    if name not in datasets.DATASETS:
        raise argparse.ArgumentTypeError(
            f"unknown dataset {value!r}: choose one of "
            f"{', '.join(datasets.DATASETS)}, or pass your own file with "
            "--data PATH"
        )
    return name


def _n_clusters(value):
    """`--n-clusters`: an integer >= 2 or "auto" (checked by the command,
    so that a bad value is one line, as other bad input is)."""
    if value is None or k_selection.is_auto(value):
        return k_selection.AUTO if value is not None else None
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or number < 2:
        raise ValueError(
            f"--n-clusters must be an integer >= 2 or 'auto'. Received: "
            f"--n-clusters {value}"
        )
    return number


def _add_data_arguments(parser, required=True):
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument(
        "--dataset",
        type=_dataset_name,
        metavar="NAME",
        help="a named data set: "
        f"{', '.join(datasets.DATASETS)} (digits is embedded; any case)",
    )
    group.add_argument(
        "--data",
        metavar="PATH",
        help="your own .npz (x, optional y), .npy, .h5, .csv or .h5ad "
        "(AnnData: needs pip install 'vade-tf[singlecell]') file",
    )
    parser.add_argument(
        "--label-key",
        metavar="KEY",
        help="with --data: the labels' column, a .csv header name or an "
        ".h5ad obs column (default: a .csv column named y, label or "
        "class; no labels for .h5ad)",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder with the MNIST/Fashion-MNIST IDX .gz files (also "
        "looked for in $VADE_TF_DATA, ~/.keras/datasets, /usr/share/datasets)",
    )
    parser.add_argument(
        "--split",
        default="all",
        choices=datasets.SPLITS,
        help="which split of mnist/fashion_mnist (default: %(default)s, "
        "all 70,000 images)",
    )


def _add_model_arguments(parser):
    parser.add_argument(
        "--n-clusters",
        metavar="K",
        help="number of clusters, an integer >= 2, or auto: chosen without "
        "labels on the pretrained latent means (--k-range, --k-criterion) "
        "(default: the number of distinct labels when the data have "
        "labels, else auto)",
    )
    parser.add_argument(
        "--k-range",
        metavar="MIN:MAX",
        help="with --n-clusters auto: the K tried, both ends included "
        f"(default: 2:{k_selection.DEFAULT_MAX_CLUSTERS}, at most one "
        f"cluster per {k_selection.MIN_ROWS_PER_CLUSTER} rows)",
    )
    parser.add_argument(
        "--k-criterion",
        choices=k_selection.CRITERIA,
        default=k_selection.DEFAULT_CRITERION,
        help="with --n-clusters auto: how K is scored (vade_tf.k_selection; "
        "docs/results.md compares them) (default: %(default)s)",
    )
    parser.add_argument(
        "--latent-dim",
        type=int,
        default=10,
        metavar="D",
        help="latent dimension (default: %(default)s)",
    )
    parser.add_argument(
        "--hidden-dims",
        default="500,500,2000",
        metavar="W,W,...",
        help="comma-separated hidden widths of the encoder; the decoder "
        "mirrors them (default: %(default)s)",
    )
    parser.add_argument(
        "--likelihood",
        default="auto",
        choices=LIKELIHOOD_CHOICES,
        help="p(x|z); auto: bernoulli for data in [0, 1] (unless "
        "--input-scaling standardize), else gaussian (default: %(default)s)",
    )
    parser.add_argument(
        "--input-scaling",
        default=options.INPUT_SCALINGS[0],
        choices=options.INPUT_SCALINGS,
        help="auto: standardise each feature for the gaussian likelihood "
        "(kept in the saved model); standardize; none "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--gamma-mode",
        default="exact",
        choices=options.GAMMA_MODES,
        help="exact: the Bayes posterior of the mixture; original: the "
        "original release's formula (default: %(default)s)",
    )
    parser.add_argument(
        "--alpha",
        type=float,
        default=1.0,
        help="weight of the reconstruction term (default: %(default)s)",
    )
    parser.add_argument(
        "--beta",
        type=float,
        default=1.0,
        help="weight of the prior (KL) terms, as in beta-VAE; 1 is VaDE's "
        "ELBO (default: %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seeds the weights, the mixture's start and z sampling "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--dtype-policy",
        default=options.DTYPE_POLICIES[0],
        choices=options.DTYPE_POLICIES,
        help="Keras dtype policy of the encoder and decoder; the mixture "
        "and the ELBO stay float32. mixed_bfloat16 pays on CPUs with AMX "
        "at large batches (docs/performance.md) (default: %(default)s)",
    )


def _add_recipe_arguments(parser, recipe, epochs=None):
    """`--recipe`, `--image-shape`, and one flag per tunable field of
    `vade_tf.recipes.Recipe`, made from the field (its help, type, choices):
    each defaults to the recipe's value and replaces it when given."""
    parser.add_argument(
        "--recipe",
        default=recipe,
        choices=tuple(recipes.PRESETS),
        help="the training recipe (vade_tf.recipes): original = the "
        "original release's settings, tuned = the measured best on MNIST "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--image-shape",
        metavar="H,W[,C]",
        help="image shape of the data, for augmented pretraining (default: "
        "known for mnist and fashion_mnist, else none)",
    )
    for field in recipes.tunable_fields():
        meta = field.metadata
        if field.name == "epochs" and epochs:
            default = f"default: {epochs}, whatever the recipe"
        elif meta["default_help"]:
            default = f"default: {meta['default_help']}"
        else:
            default = _recipe_default(field.name)
        parser.add_argument(
            "--" + recipes.flag_name(field).replace("_", "-"),
            type=recipes.value_type(field),
            choices=meta["choices"],
            metavar=meta["metavar"],
            help=f"{meta['help']}; {default}",
        )


def _add_run_arguments(parser):
    parser.add_argument(
        "--pretrained",
        metavar="PATH",
        help="load autoencoder weights instead of pretraining ('shipped': "
        "the package's weights for the named data set)",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="run folder (default: runs/train-<data>-<time>, "
        "runs/reproduce-<data>-<gamma mode>-seed<seed>)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="write into a run folder that is not empty",
    )
    parser.add_argument(
        "--no-xla", action="store_true", help="train without XLA"
    )
    parser.add_argument(
        "--proba",
        action="store_true",
        help="clusters.csv also gets every cluster's probability q(c|x), "
        "columns p_0 ... p_{K-1}",
    )
    parser.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue a stopped run from its checkpoint.keras, with the "
        "run's own command (saved in RUN_DIR/command.json); flags given "
        "with --resume replace the saved ones (e.g. --epochs 100 trains on)",
    )
    _add_verbose_argument(parser)


def _add_verbose_argument(parser):
    parser.add_argument(
        "--verbose",
        type=int,
        choices=[0, 1, 2],
        help="0 silent, 1 progress bar, 2 one line per epoch (default: 1 "
        "on a terminal, 2 otherwise)",
    )


def _add_model_file_argument(parser):
    parser.add_argument(
        "--model",
        required=True,
        metavar="PATH",
        help="a .keras file, or shipped:mnist / shipped:fashion_mnist for "
        "the package's trained models",
    )


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the descriptions' line breaks."""


def _version():
    from importlib import metadata

    try:
        return metadata.version("vade_tf")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser():
    """The argument parser of `vade-tf`."""
    parser = argparse.ArgumentParser(
        prog="vade-tf",
        description="VaDE (Variational Deep Embedding) clustering for Keras "
        "3 / TensorFlow.",
        epilog="`vade-tf <command> --help` lists a command's options.",
        # Options in full: `--resume` is expanded before parsing, and an
        # abbreviation (`--res`, `--ou`) would slip past that.
        allow_abbrev=False,
    )
    parser.add_argument(
        "--version", action="version", version=f"vade-tf {_version()}"
    )
    parser.add_argument(
        "--tf-logs",
        action="store_true",
        help="show TensorFlow's start-up and C++ log lines, which the "
        "vade-tf command hides by default",
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="command"
    )

    def add(name, help_text, description):
        return commands.add_parser(
            name,
            help=help_text,
            description=description,
            formatter_class=_HelpFormatter,
            allow_abbrev=False,
        )

    train = add(
        "train",
        "pretrain, start the mixture and train VaDE; write a run folder",
        "Pretrain the autoencoder, fit the mixture prior on its latent "
        "means, train VaDE\n(ACC/NMI/ARI each epoch when the data have "
        "labels) and write a run folder with\nmodel.keras, "
        "checkpoint.keras, metrics.json, history.csv and pictures.",
    )
    _add_data_arguments(train)
    _add_model_arguments(train)
    train.add_argument(
        "--baseline",
        choices=BASELINES,
        help="train the VaDE paper's VAE+GMM baseline instead: the same "
        "networks as a plain VAE (N(0, I) prior), then a mixture fitted on "
        "its latent means (vade_tf.baselines.VAEGMM)",
    )
    _add_recipe_arguments(train, recipe=recipes.DEFAULT_RECIPE)
    _add_run_arguments(train)
    train.add_argument(
        "--strategy",
        choices=options.STRATEGIES,
        default=options.STRATEGIES[0],
        help="tf.distribute strategy: mirrored, over this machine's GPUs "
        "or --cpu-replicas logical CPUs; multiworker, one process per "
        "worker, each started with its TF_CONFIG (worker 0 writes --out); "
        "see docs/distributed.md (default: %(default)s)",
    )
    train.add_argument(
        "--cpu-replicas",
        type=int,
        metavar="N",
        help="with --strategy mirrored: split the CPU into N logical "
        "devices, one replica each",
    )

    reproduce = add(
        "reproduce",
        "the MNIST / Fashion-MNIST run of docs/results.md ('tuned' recipe)",
        "Train on all 70,000 images of MNIST or Fashion-MNIST with the "
        "'tuned' recipe:\n'augment' pretraining (40 epochs), latent "
        "rescaled to std 5, the mixture from\nk-means, network Adam "
        f"{recipes.TUNED.learning_rate:g} and mixture Adam "
        f"{recipes.TUNED.gmm_learning_rate:g} (epsilon "
        f"{recipes.TUNED.epsilon:g}), x{recipes.TUNED.lr_decay:g} every "
        f"{recipes.TUNED.lr_decay_every} epochs,\nbatch "
        f"{recipes.TUNED.batch_size}, {recipes.REPRODUCE_EPOCHS} epochs. "
        "See docs/reproduction.md.",
    )
    reproduce.add_argument(
        "dataset", type=_dataset_name, help="mnist or fashion_mnist"
    )
    reproduce.add_argument(
        "--data-dir", metavar="DIR", help="folder with the IDX .gz files"
    )
    reproduce.set_defaults(data=None, split="all")
    _add_model_arguments(reproduce)
    _add_recipe_arguments(
        reproduce, recipe=recipes.TUNED.name, epochs=recipes.REPRODUCE_EPOCHS
    )
    _add_run_arguments(reproduce)

    pretrain = add(
        "pretrain",
        "pretrain the autoencoder only",
        "Pretrain the autoencoder, fit the mixture on its latent means and "
        "write the\nweights (.weights.h5) with a JSON of their AE+GMM "
        "scores beside them.",
    )
    _add_data_arguments(pretrain)
    _add_model_arguments(pretrain)
    _add_recipe_arguments(pretrain, recipe=recipes.DEFAULT_RECIPE)
    pretrain.add_argument(
        "--out", required=True, metavar="PATH", help="the *.weights.h5 file"
    )
    pretrain.add_argument(
        "--overwrite", action="store_true", help="replace existing files"
    )
    pretrain.add_argument(
        "--no-xla", action="store_true", help="pretrain without XLA"
    )
    _add_verbose_argument(pretrain)

    evaluate = add(
        "evaluate",
        "score a saved model on data",
        "Cluster data with a saved model and print ACC/NMI/ARI (with "
        "labels) and the\nsmallest cluster's share of the points.",
    )
    _add_model_file_argument(evaluate)
    _add_data_arguments(evaluate)

    generate = add(
        "generate",
        "a grid of samples per cluster",
        "Draw samples from every cluster of a saved model and write them "
        "as a PNG grid,\none row per cluster (ordered by the matched label "
        "when labelled data are given).",
    )
    _add_model_file_argument(generate)
    generate.add_argument(
        "--per-cluster",
        type=int,
        default=10,
        metavar="N",
        help="samples per cluster (default: %(default)s)",
    )
    generate.add_argument(
        "--out", required=True, metavar="PATH", help="the PNG file"
    )
    generate.add_argument(
        "--seed", type=int, default=0, help="(default: %(default)s)"
    )
    generate.add_argument(
        "--min-posterior",
        type=float,
        metavar="P",
        help="keep only draws with p(cluster|z) >= P (the original used "
        "0.999; default: keep all)",
    )
    generate.add_argument(
        "--overwrite", action="store_true", help="replace an existing file"
    )
    _add_data_arguments(generate, required=False)

    predict = add(
        "predict",
        "write the cluster of every row of a data file",
        "Cluster every row of a data file with a saved model and write the "
        "assignments\n(one row per input row, in input order): the columns "
        "cluster and probability\n(the largest q(c|x)) and with --proba "
        "p_0 ... p_{K-1}. .csv, .npz or .npy by\nthe extension of --out "
        "(.npy: the clusters only). Rows are read, clustered and\nwritten "
        "in chunks, so files larger than memory stream through.",
    )
    _add_model_file_argument(predict)
    _add_data_arguments(predict)
    predict.add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help="the assignments file: .csv, .npz or .npy",
    )
    predict.add_argument(
        "--proba",
        action="store_true",
        help="also every cluster's probability q(c|x)",
    )
    predict.add_argument(
        "--overwrite", action="store_true", help="replace an existing file"
    )

    export = add(
        "export",
        "a SavedModel for TF Serving",
        "Export a saved model as a TensorFlow SavedModel in OUT/VERSION/ "
        "for TF Serving\n(docs/serving.md).",
    )
    _add_model_file_argument(export)
    export.add_argument(
        "--out", required=True, metavar="DIR", help="the export base folder"
    )
    export.add_argument(
        "--version",
        type=int,
        default=1,
        metavar="N",
        help="the version subfolder (default: %(default)s)",
    )
    export.add_argument(
        "--overwrite", action="store_true", help="replace an existing version"
    )
    return parser


# =============================================================================
# Helpers
# =============================================================================


def precheck(args):
    """The checks of a command's input that need no TensorFlow.

    The console script (`vade_tf_cli`) runs this before TensorFlow is
    imported, so bad input is one line within a second: `--n-clusters`,
    and a `--data` file read and checked (readable, numeric, finite, not
    empty; `--k-range` against its rows; not for `predict`, which streams
    its file).

    Returns:
        The `vade_tf.datasets.LoadedData` of `--data` (for the command, so
        the file is read once), or `None`.
    """
    if hasattr(args, "n_clusters"):
        _n_clusters(args.n_clusters)
    if not getattr(args, "data", None) or args.command == "predict":
        return None  # `predict` streams its file: never read whole
    data = datasets.read_data(args.data, label_column=args.label_key)
    validation.check_data(data.x, name=os.path.basename(args.data))
    if getattr(args, "k_range", None):
        _k_range_of(args, len(data.x))
    return data


def _load_data(args):
    """The data of `--data` or `--dataset`: `(x, y, name, description)`.

    The description says which column became the labels and why, and
    holds a CSV's feature names (a `vade_tf.datasets.LoadedData` without
    its arrays' use; `None` for a named data set).
    """
    if getattr(args, "data", None):
        data = getattr(args, "preloaded", None) or datasets.read_data(
            args.data, label_column=args.label_key
        )
        name = os.path.splitext(os.path.basename(args.data))[0]
        return data.x, data.y, name, data
    x, y = datasets.load_dataset(args.dataset, args.data_dir, args.split)
    return x, y, args.dataset, None


def _decide_n_clusters(args, x, y):
    """K and where it comes from: `(K or "auto", reason)`."""
    n_clusters = _n_clusters(args.n_clusters)
    if n_clusters is not None:
        if k_selection.is_auto(n_clusters):
            return k_selection.AUTO, "--n-clusters auto"
        return n_clusters, "--n-clusters"
    if y is not None:
        return int(len(np.unique(y))), "the number of distinct labels"
    return k_selection.AUTO, "no labels and no --n-clusters"


def _describe_data(args, x, y, name, loaded):
    """Prints what was read and decided, before any training."""
    if loaded is None:
        labels = f"the {name} labels (reported, never trained on)"
    else:
        labels = loaded.labels_from
        if y is not None:
            labels += " (reported, never trained on)"
    print(f"Data    {name}: {x.shape[0]} rows x {x.shape[1]} features; "
          f"labels: {labels}", flush=True)
    if loaded is not None and loaded.label_hint:
        print(f"note: {loaded.label_hint}", flush=True)


def _announce_n_clusters(args, n_clusters, reason, n_samples):
    """Prints K and its source (or how it will be chosen) and checks the
    range of K, before any training."""
    if not k_selection.is_auto(n_clusters):
        print(f"Clusters K = {n_clusters} ({reason})", flush=True)
        return
    low, high = _k_range_of(args, n_samples)
    print(
        f"Clusters chosen from K = {low}..{high} by {args.k_criterion} on "
        f"the pretrained latent means ({reason}; labels are never used)",
        flush=True,
    )


def _k_range_of(args, n_samples):
    """`--k-range` as `(k_min, k_max)`, or the default for the data."""
    if not getattr(args, "k_range", None):
        return k_selection.default_k_range(n_samples)
    try:
        values = k_selection.check_k_range(args.k_range, n_samples)
    except ValueError as error:
        raise ValueError(
            str(error).replace("k_range=", "--k-range ").replace(
                "k_range must", "--k-range must"
            )
        ) from None
    return (values[0], values[-1])


def _build_model(args, x, n_clusters):
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
        from vade_tf import baselines

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


def _image_shape(args, name):
    """The image shape of the data: --image-shape, else the named set's."""
    if not args.image_shape:
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
    return shape


# Recipe fields and the flags that set them (`--lr` sets learning_rate).
_RECIPE_FLAGS = {
    field.name: recipes.flag_name(field) for field in recipes.tunable_fields()
}


def _recipe(args):
    """The recipe named by --recipe with the flags the user gave applied."""
    changes = {}
    for field, flag in _RECIPE_FLAGS.items():
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
        for field, flag in _RECIPE_FLAGS.items():
            message = re.sub(
                rf"\b{field}=", "--" + flag.replace("_", "-") + "=", message
            )
        raise ValueError(message) from None


def _verbosity(args):
    if args.verbose is not None:
        return args.verbose
    return 1 if sys.stdout.isatty() else 2


def _scores(model, x, y, probabilities=None):
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


def _format(scores):
    parts = [
        f"{k.upper()} {v:.4f}"
        for k, v in scores.items()
        if k in ("acc", "nmi", "ari")
    ]
    parts.append(f"smallest cluster {scores['min_cluster_fraction']:.1%}")
    return "  ".join(parts)


def _write_json(path, payload, overwrite):
    from vade_tf import fileio

    with fileio.atomic_output(path, overwrite=overwrite) as tmp:
        with open(tmp, "w", encoding="utf8") as handle:
            json.dump(payload, handle, indent=2, default=float)


def _data_sha256(x):
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()


class _StageReporter:
    """Reports the workflow's stages: prints the start's scores and, when
    given a path, writes the autoencoder's weights and JSON.

    The weights are written right after pretraining (so an interrupted run
    keeps them) and again once the mixture is fitted (the latent space may
    have been rescaled), with the AE+GMM scores.

    Args:
        x, y: the data and labels (or `None`).
        recipe: the `Recipe` of the run.
        path: `None` or the `.weights.h5` file to write.
        args: the parsed arguments (for the metadata).
        image_shape: the data's image shape or `None`.
        overwrite: bool, replace an existing file at the first write.
        next_step: str printed after the scores, or `None`.
    """

    def __init__(
        self,
        x,
        y,
        recipe,
        path=None,
        args=None,
        image_shape=None,
        overwrite=False,
        next_step=None,
    ):
        self.x, self.y = x, y
        self.path = path
        from vade_tf import pretraining, workflow

        pretrain_recipe = workflow.resolve_pretrain_recipe(
            recipe, image_shape, getattr(args, "likelihood", None)
        )
        self.overwrite = overwrite
        self.next_step = next_step
        self.scores = None
        self.written = False
        self.started = time.perf_counter()
        self.metadata = {
            "command": " ".join(sys.argv),
            # The pretraining recipe, its epochs and batch size (the keys of
            # the shipped weights' JSON), then the whole training recipe.
            "recipe": pretrain_recipe,
            "image_shape": image_shape,
            "epochs": recipe.pretrain_epochs,
            "batch_size": recipe.pretrain_batch_size
            or pretraining.recipe_settings(pretrain_recipe)["batch_size"],
            "noise": recipe.noise,
            "gmm_init": recipe.gmm_init,
            "latent_std": recipe.latent_std,
            "seed": getattr(args, "seed", None),
            "training_recipe": recipe.to_dict(),
            "data_sha256": _data_sha256(x),
            "n_samples": int(len(x)),
        }

    def __call__(self, stage, model):
        if stage == "pretrained":
            # Once: with K chosen ("auto") the stage comes twice, after
            # pretraining and when the chosen model takes the autoencoder.
            self.metadata.setdefault(
                "pretrain_seconds", time.perf_counter() - self.started
            )
            self._write(model)
        elif stage == "initialized":
            self.scores = _scores(model, self.x, self.y)
            self.metadata["ae_gmm"] = self.scores
            self._write(model)
            print(f"AE+GMM  {_format(self.scores)}", flush=True)
            if self.next_step:
                print(self.next_step, flush=True)

    def _write(self, model):
        if self.path is None:
            return
        # The first write honours --overwrite; later ones replace this
        # run's own files.
        overwrite = self.overwrite or self.written
        model.save_pretrained_weights(self.path, overwrite=overwrite)
        _write_json(
            os.path.splitext(self.path)[0] + ".json", self.metadata, overwrite
        )
        self.written = True


# =============================================================================
# Commands
# =============================================================================


def run_pretrain(args):
    if not args.out.endswith(".weights.h5"):
        raise ValueError(
            "--out must name a '.weights.h5' file. Received: " + args.out
        )
    metadata_path = os.path.splitext(args.out)[0] + ".json"
    for path in (args.out, metadata_path):
        if os.path.exists(path) and not args.overwrite:
            raise FileExistsError(
                f"{path} exists. Pass --overwrite or another --out."
            )
    import keras

    from vade_tf import compilation, workflow

    keras.utils.set_random_seed(args.seed)
    x, y, name, loaded = _load_data(args)
    image_shape = _image_shape(args, name)
    recipe = _recipe(args)
    _describe_data(args, x, y, name, loaded)
    n_clusters, reason = _decide_n_clusters(args, x, y)
    _announce_n_clusters(args, n_clusters, reason, len(x))
    writer = _StageReporter(
        x, y, recipe, args.out, args, image_shape, args.overwrite
    )
    args.pretrain_writer = writer  # for the report of an interruption
    jit_compile = False if args.no_xla else compilation.JIT_COMPILE
    model, probe, _ = _model_for_k(
        args, x, n_clusters, reason, recipe, image_shape, jit_compile, writer
    )
    workflow.prepare(
        model,
        x,
        recipe,
        pretrained=probe,
        image_shape=image_shape,
        random_state=args.seed,
        jit_compile=jit_compile,
        verbose=_verbosity(args),
        on_stage=writer,
    )
    print(f"wrote {args.out}")
    return 0


def _model_for_k(
    args, x, n_clusters, reason, recipe, image_shape, jit_compile, on_stage,
    pretrained=None, probe=None,
):
    """The model to train, with K given or chosen without labels.

    With K given, a new model. With "auto", a model pretrained first
    (`workflow.choose_n_clusters`, which reports "pretrained" to
    `on_stage`), K chosen on its latent means, and a model of that K to
    take its autoencoder (`workflow.train(..., pretrained=probe)`).

    Returns:
        Tuple `(model, probe or None, KSelection or None)`.
    """
    from vade_tf import workflow

    if not k_selection.is_auto(n_clusters):
        return _build_model(args, x, n_clusters), None, None
    low, high = _k_range_of(args, len(x))
    probe = probe or _build_model(args, x, low)
    selection, _ = workflow.choose_n_clusters(
        probe,
        x,
        recipe,
        k_range=(low, high),
        criterion=args.k_criterion,
        pretrained=pretrained,
        image_shape=image_shape,
        random_state=args.seed,
        jit_compile=jit_compile,
        verbose=_verbosity(args),
        on_stage=on_stage,
    )
    print(f"Clusters {selection.summary()}", flush=True)
    return _build_model(args, x, selection.n_clusters), probe, selection


# The files `train` and `reproduce` write in a run folder.
RUN_FILES = (
    "model.keras",
    "checkpoint.keras",
    "metrics.json",
    "history.csv",
    "clusters.csv",
    "k_selection.png",
    "latent.png",
    "samples.png",
    "profiles.png",
    "history.png",
    "command.json",
    "ae.weights.h5",
    "ae.weights.json",
)


def _remove_run_files(out, keep=None):
    """Removes a run's own files (`RUN_FILES`) from `out`, except `keep`
    (the `--pretrained` file, which may be an earlier run's) and its `.json`
    metadata; other files are left alone."""
    kept = set()
    if isinstance(keep, str):
        # The weights and their metadata beside them.
        kept = {
            os.path.abspath(keep),
            os.path.abspath(os.path.splitext(keep)[0] + ".json"),
        }
    for name in RUN_FILES:
        path = os.path.join(out, name)
        if os.path.isfile(path) and os.path.abspath(path) not in kept:
            os.remove(path)


def _read_history_csv(path):
    """`history.csv` as `{column: [value per epoch]}` (the epoch column left
    out, an empty cell `None`), or `None` without a readable file."""
    import csv

    def number(cell):
        return float(cell) if cell not in ("", None) else None

    try:
        with open(path, newline="", encoding="utf8") as handle:
            rows = list(csv.DictReader(handle))
        columns = [key for key in (rows[0] if rows else {}) if key != "epoch"]
        return {key: [number(row.get(key)) for row in rows] for key in columns}
    except (OSError, ValueError) as error:
        print(
            f"warning: could not read {path} ({error}); metrics.json and "
            "history.png show the resumed epochs only"
        )
        return None


def _pretraining_record(out):
    """The AE+GMM scores and pretraining recipe of the run in `out`, from its
    `ae.weights.json` (both `None` when it pretrained nothing)."""
    try:
        with open(os.path.join(out, "ae.weights.json"), encoding="utf8") as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None, None
    return record.get("ae_gmm"), record.get("recipe")


def _run_folder(args, name):
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    if args.command == "reproduce":
        stamp = f"{args.gamma_mode}-seed{args.seed}"
    out = args.out or os.path.join("runs", f"{args.command}-{name}-{stamp}")
    if os.path.isdir(out) and os.listdir(out) and not args.overwrite:
        raise FileExistsError(
            f"{out} exists and is not empty. Pass --overwrite or another --out."
        )
    return out


def run_train(args):
    # `reproduce` shares this command and has no --strategy.
    strategy_name = getattr(args, "strategy", options.STRATEGIES[0])
    cpu_replicas = getattr(args, "cpu_replicas", None)
    if cpu_replicas is not None and (
        cpu_replicas < 1 or strategy_name != "mirrored"
    ):
        raise ValueError(
            "--cpu-replicas needs --strategy mirrored and a count >= 1. "
            f"Received: --cpu-replicas {cpu_replicas} with --strategy "
            f"{strategy_name}."
        )
    if strategy_name == options.STRATEGIES[0]:
        return _run_train(args)
    if strategy_name == "multiworker" and args.resume:
        raise ValueError(
            "--resume is not available with --strategy multiworker: the "
            "checkpoint holds one process's state. Received: --resume "
            f"{args.resume} --strategy multiworker."
        )
    # The strategy comes first: TensorFlow must not have run an operation.
    from vade_tf import distribution

    strategy = distribution.make_strategy(
        strategy_name, cpu_replicas=cpu_replicas
    )
    print(
        f"Training under {type(strategy).__name__} with "
        f"{strategy.num_replicas_in_sync} replicas in sync",
        flush=True,
    )
    temporary = None
    if not distribution.is_chief(strategy):
        # A worker other than the chief trains the same model in step with
        # it but writes its run folder to a temporary place, removed at the
        # end: the chief's --out is the run's result.
        import tempfile

        temporary = args.out = tempfile.mkdtemp(prefix="vade-tf-worker-")
        args.overwrite = True
    try:
        with strategy.scope():
            return _run_train(args)
    finally:
        if temporary:
            import shutil

            shutil.rmtree(temporary, ignore_errors=True)
            if not os.path.exists(temporary):
                print(
                    f"removed {temporary}: this worker's copy; the chief's "
                    "--out holds the run",
                    flush=True,
                )


def _run_train(args):
    import keras

    from vade_tf import (
        assignments,
        callbacks,
        compilation,
        fileio,
        plotting,
        validation,
        workflow,
    )

    keras.utils.set_random_seed(args.seed)
    x, y, name, loaded = _load_data(args)
    image_shape = _image_shape(args, name)
    recipe = _recipe(args)
    out = _run_folder(args, name)
    n_clusters, k_reason = _decide_n_clusters(args, x, y)
    _describe_data(args, x, y, name, loaded)
    if not args.resume:
        _announce_n_clusters(args, n_clusters, k_reason, len(x))
    jit_compile = False if args.no_xla else compilation.JIT_COMPILE
    selection = probe = None
    if args.resume:
        checkpoint = os.path.join(out, "checkpoint.keras")
        autoencoder = os.path.join(out, "ae.weights.h5")
        if not os.path.exists(checkpoint) and os.path.exists(autoencoder):
            raise FileNotFoundError(
                f"No checkpoint.keras in {out}: the run stopped before its "
                "first VaDE epoch ended, so there is nothing to resume. Its "
                "pretrained autoencoder is kept: run the same command again "
                f"with --pretrained {autoencoder} and a new --out."
            )
        model = _load_model(checkpoint)
        pretrained = None
    else:
        pretrained = args.pretrained
    if pretrained == "shipped":
        from vade_tf import shipped

        pretrained = shipped.autoencoder_weights(name)
    if not args.resume:
        # Built and checked against the data before the folder exists: a
        # bad K, option or likelihood writes nothing. With K chosen, this
        # is the model that pretrains first (`_model_for_k`'s probe).
        first_k = (
            _k_range_of(args, len(x))[0]
            if k_selection.is_auto(n_clusters)
            else n_clusters
        )
        model = _build_model(args, x, first_k)
        validation.check_model_input(model, x, clusters=True, streamed=False)
    if not args.resume:
        # --overwrite: an earlier run's files go, so none of them (its
        # checkpoint above all) passes for this run's.
        _remove_run_files(out, keep=pretrained)
    os.makedirs(out, exist_ok=True)
    args.run_folder = out
    next_step = f"Training VaDE ({recipe.name} recipe, {recipe.epochs} epochs)"
    history_csv = os.path.join(out, "history.csv")
    epoch_callbacks = [
        # The command is saved for --resume once VaDE training begins, that
        # is after every check of the data, the model and the options: a
        # command that fails leaves the saved one (and the folder) alone.
        keras.callbacks.LambdaCallback(
            on_train_begin=lambda logs: _write_json(
                os.path.join(out, COMMAND_FILE),
                {"argv": args.argv, "seed": args.seed},
                overwrite=True,
            )
        ),
        callbacks.CollapseMonitor(
            x, report=lambda message: print(f"warning: {message}", flush=True)
        ),
        callbacks.HistoryCSV(history_csv, append=bool(args.resume)),
        callbacks.Checkpoint(os.path.join(out, "checkpoint.keras")),
    ]
    if args.resume:
        on_stage = _StageReporter(x, y, recipe, next_step=next_step)
        print(
            f"Resuming {out} from checkpoint.keras (after "
            f"{workflow.attempted_steps(model)} steps)",
            flush=True,
        )
        finished = workflow.attempted_steps(model) // math.ceil(
            len(x) / recipe.batch_size
        )
        if finished >= recipe.epochs:
            # Stopped during its final writes: the training is done, the
            # run's outputs are written now.
            print(
                f"The checkpoint has finished {finished} of {recipe.epochs} "
                "epochs: writing the run's outputs",
                flush=True,
            )
            result = workflow.TrainResult(
                model=model,
                recipe=recipe,
                pretrain_recipe=None,
                history={},
                pretrain_history={},
                mixture=None,
                timings={"train": 0.0},
            )
        else:
            result = workflow.resume(
                model,
                x,
                recipe,
                y=y,
                random_state=args.seed,
                callbacks=epoch_callbacks,
                verbose=_verbosity(args),
            )
    else:
        if pretrained:
            print(f"Loading the autoencoder from {pretrained}", flush=True)
            on_stage = _StageReporter(x, y, recipe, next_step=next_step)
        else:
            print(
                f"Pretraining the autoencoder on {name} {x.shape} "
                f"({recipe.pretrain_epochs} epochs)",
                flush=True,
            )
            on_stage = _StageReporter(
                x,
                y,
                recipe,
                os.path.join(out, "ae.weights.h5"),
                args,
                image_shape,
                overwrite=True,
                next_step=next_step,
            )
        if k_selection.is_auto(n_clusters):
            model, probe, selection = _model_for_k(
                args,
                x,
                n_clusters,
                k_reason,
                recipe,
                image_shape,
                jit_compile,
                on_stage,
                pretrained=pretrained,
                probe=model,
            )
            plotting.plot_k_selection(
                selection, os.path.join(out, "k_selection.png"), overwrite=True
            )
        result = workflow.train(
            model,
            x,
            recipe,
            y=y,
            pretrained=probe or pretrained,
            image_shape=image_shape,
            random_state=args.seed,
            callbacks=epoch_callbacks,
            jit_compile=jit_compile,
            verbose=_verbosity(args),
            on_stage=on_stage,
        )
    starts = None
    if result.starts is not None:
        starts = {
            "seeds": result.starts.seeds,
            "elbo": result.starts.elbo,
            "chosen": result.starts.chosen,
            "epochs": result.starts.epochs,
        }
        elbo = " ".join(f"{value:.3f}" for value in result.starts.elbo)
        print(
            f"starts  ELBO after {result.starts.epochs} epochs: {elbo}; "
            f"kept start {result.starts.chosen} (mixture seed "
            f"{result.starts.seeds[result.starts.chosen]})"
        )
    probabilities = model.predict_proba(x)
    final = _scores(model, x, y, probabilities)
    print(f"VaDE    {_format(final)}")
    if final["min_cluster_fraction"] < 0.01:
        print(
            "warning: collapsed clusters: the smallest cluster holds "
            f"{final['min_cluster_fraction']:.2%} of the points (< 1%)."
        )

    with fileio.atomic_output(
        os.path.join(out, "model.keras"), overwrite=True, suffix=".keras"
    ) as tmp:
        model.save(tmp)
    assignments.write_assignments(
        os.path.join(out, "clusters.csv"),
        probabilities,
        proba=args.proba,
        overwrite=True,
    )
    timings = {f"{k}_seconds": v for k, v in result.timings.items()}
    history, ae_gmm, pretrain_recipe = (
        result.history,
        on_stage.scores,
        result.pretrain_recipe,
    )
    if args.resume:
        # The whole run's epochs and its start, not only the resumed part.
        history = _read_history_csv(history_csv) or history
        ae_gmm, pretrain_recipe = _pretraining_record(out)
    _write_json(
        os.path.join(out, "metrics.json"),
        {
            "command": " ".join(sys.argv),
            "data": name,
            "n_samples": int(len(x)),
            "n_clusters": model.n_clusters,
            **_k_record(out, selection, k_reason, args.resume),
            "recipe": result.recipe.to_dict(),
            "pretrain_recipe": pretrain_recipe,
            "config": model.get_config(),
            "ae_gmm": ae_gmm,
            "vade": final,
            "timings": timings,
            "resumed": bool(args.resume),
            "starts": starts,
            "history": history,
        },
        overwrite=True,
    )
    # The run folder was checked at the start: its files are this run's.
    plotting.plot_latent(
        model, x, os.path.join(out, "latent.png"), y=y, overwrite=True
    )
    if _rows_are_images(x, image_shape):
        plotting.plot_cluster_samples(
            model,
            os.path.join(out, "samples.png"),
            x=x,
            y=y,
            image_shape=image_shape,
            seed=args.seed,
            overwrite=True,
        )
    else:
        plotting.plot_cluster_profiles(
            x,
            probabilities.argmax(axis=1),
            os.path.join(out, "profiles.png"),
            model.n_clusters,
            feature_names=loaded.feature_names if loaded else None,
            overwrite=True,
        )
    plotting.plot_history(
        history, os.path.join(out, "history.png"), overwrite=True
    )
    written = [
        name
        for name in RUN_FILES
        if os.path.isfile(os.path.join(out, name))
        and not (name.startswith("ae.") and (pretrained or args.resume))
    ]
    print(f"wrote {out}/: {' '.join(written)}")
    return 0


def _rows_are_images(x, image_shape):
    """Samples are drawn as images for a known image shape or a square
    number of at least 64 features; other rows are a table."""
    if image_shape is not None:
        return True
    return (
        x.shape[1] >= 64 and datasets.infer_image_shape(x.shape[1]) is not None
    )


def _k_record(out, selection, reason, resumed):
    """`metrics.json`'s account of K: where it came from and, when chosen,
    every K's score. A resumed run keeps what its first run wrote."""
    record = {
        "n_clusters_from": (
            f"chosen by {selection.criterion} ({reason})"
            if selection
            else reason
        ),
        "k_selection": selection.to_dict() if selection else None,
        "k_scores": (
            {str(k): v for k, v in selection.k_scores.items()}
            if selection
            else None
        ),
    }
    if resumed:
        try:
            with open(os.path.join(out, "metrics.json"), encoding="utf8") as f:
                saved = json.load(f)
            record.update({key: saved[key] for key in record if key in saved})
        except (OSError, ValueError):
            pass
    return record


# `--model shipped:NAME`: the package's trained model for a named data set.
SHIPPED_PREFIX = "shipped:"


def _load_model(path):
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


# The file in a run folder that `--resume` reads the run's command from.
COMMAND_FILE = "command.json"


def _resume_error(command, message):
    """Stops `vade-tf` with one line on stderr and `EXIT_ERROR`, as `main`
    does for bad input (for errors found before the parser runs)."""
    print(f"vade-tf {command}: error: {message}", file=sys.stderr)
    raise SystemExit(EXIT_ERROR)


def expand_resume(argv):
    """`train|reproduce --resume RUN_DIR [flags]` as the run's own command.

    The saved command comes first, then `--resume RUN_DIR --overwrite
    --out RUN_DIR` and the flags given with `--resume`, which replace the
    saved ones (argparse keeps the last value). `--resume=RUN_DIR` is the
    same; `--out` cannot be given with it (a run resumes in its folder).
    """
    argv = list(argv)
    if not argv or argv[0] not in ("train", "reproduce"):
        return argv
    for index, token in enumerate(argv):
        if token.startswith("--resume="):
            argv[index : index + 1] = ["--resume", token.split("=", 1)[1]]
            break
    if "--resume" not in argv:
        return argv
    index = argv.index("--resume")
    if index + 1 >= len(argv):
        return argv  # argparse reports the missing value
    run_dir = argv[index + 1]
    extra = argv[1:index] + argv[index + 2 :]
    if any(t == "--out" or t.startswith("--out=") for t in extra):
        _resume_error(
            argv[0],
            f"--resume {run_dir} continues the run in its own folder; "
            "--out cannot be given with it.",
        )
    path = os.path.join(run_dir, COMMAND_FILE)
    try:
        with open(path) as handle:
            saved = json.load(handle)["argv"]
    except FileNotFoundError:
        autoencoder = os.path.join(run_dir, "ae.weights.h5")
        if os.path.isfile(autoencoder):
            _resume_error(
                argv[0],
                f"--resume {run_dir}: the run stopped before VaDE training "
                "began, so there is nothing to resume. Its pretrained "
                "autoencoder is kept: run the same command again with "
                f"--pretrained {autoencoder} and a new --out.",
            )
        _resume_error(
            argv[0],
            f"--resume {run_dir}: no {COMMAND_FILE} there (is it a run "
            "folder written by vade-tf train or reproduce?)",
        )
    except (ValueError, KeyError, TypeError) as error:
        _resume_error(
            argv[0],
            f"--resume {run_dir}: {path} is not a saved command ({error})",
        )
    if saved[:1] != argv[:1]:
        _resume_error(
            argv[0],
            f"{run_dir} was written by `vade-tf {saved[0]}`; resume it with "
            "that command",
        )
    return [
        *saved,
        "--resume",
        run_dir,
        "--overwrite",
        "--out",
        run_dir,
        *extra,
    ]


def parse_args(argv=None):
    """Parses the command line (`--resume` expanded; see `expand_resume`).

    The result's `argv` is the command to save for a later `--resume`:
    the expanded arguments without what `expand_resume` added
    (`--resume RUN_DIR --overwrite --out RUN_DIR`).
    """
    argv = expand_resume(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if getattr(args, "resume", None):
        index = argv.index("--resume")
        argv = argv[:index] + argv[index + 5 :]
    args.argv = argv
    return args


def run_evaluate(args):
    model = _load_model(args.model)
    x, y, name, _ = _load_data(args)
    scores = _scores(model, x, y)
    print(f"{name}: {_format(scores)}")
    print(json.dumps(scores))
    return 0


def run_generate(args):
    from vade_tf import plotting

    model = _load_model(args.model)
    x = y = None
    if args.dataset or args.data:
        x, y, _, _ = _load_data(args)
    plotting.plot_cluster_samples(
        model,
        args.out,
        n_per_cluster=args.per_cluster,
        x=x,
        y=y,
        seed=args.seed,
        min_posterior=args.min_posterior,
        overwrite=args.overwrite,
    )
    print(f"wrote {args.out}")
    return 0


def run_predict(args):
    from vade_tf import assignments

    # The output is checked before TensorFlow loads the model.
    assignments.check_output_path(args.out, args.proba, args.overwrite)
    model = _load_model(args.model)
    if args.data:
        data = args.data
        label_column = args.label_key
    else:
        data, _ = datasets.load_dataset(args.dataset, args.data_dir, args.split)
        label_column = None
    rows = assignments.predict_file(
        model,
        data,
        args.out,
        label_column=label_column,
        proba=args.proba,
        overwrite=args.overwrite,
    )
    print(f"wrote {args.out}: {rows} rows, K = {model.n_clusters}")
    return 0


def run_export(args):
    from vade_tf import export

    model = _load_model(args.model)
    path = export.export_saved_model(
        model, args.out, version=args.version, overwrite=args.overwrite
    )
    print(f"wrote {path}")
    return 0


COMMANDS = {
    "pretrain": run_pretrain,
    "train": run_train,
    "reproduce": run_train,
    "evaluate": run_evaluate,
    "generate": run_generate,
    "predict": run_predict,
    "export": run_export,
}


def _interrupted(args):
    """The one-line report of a run stopped with Ctrl-C."""
    if args.command == "pretrain":
        # Written once pretraining ended, before the mixture's fit (files
        # of an earlier run that --overwrite would replace do not count).
        writer = getattr(args, "pretrain_writer", None)
        if writer is None or not writer.written:
            return "nothing was written"
        return f"kept {args.out} {os.path.splitext(args.out)[0]}.json"
    out = getattr(args, "run_folder", None)
    if out and os.path.isdir(out):
        kept = sorted(
            name for name in os.listdir(out) if not name.startswith(".tmp-")
        )
        if not kept:
            os.rmdir(out)
            return "nothing was written"
        report = f"kept in {out}/: {' '.join(kept)}"
        if COMMAND_FILE in kept:
            report += f"; continue with: vade-tf {args.command} --resume {out}"
        elif "ae.weights.h5" in kept:
            report += (
                "; run the command again with --pretrained "
                f"{os.path.join(out, 'ae.weights.h5')} and a new --out"
            )
        return report
    return "nothing was written"


def main(argv=None, preloaded=None):
    """Entry point of `vade-tf`; returns the exit status.

    Args:
        argv: list of str, or `None` for `sys.argv[1:]`.
        preloaded: `None`, or the `--data` file as `precheck` read it.
    """
    args = parse_args(argv)
    args.preloaded = preloaded
    try:
        policy = getattr(args, "dtype_policy", None)
        if policy is None:
            return COMMANDS[args.command](args)
        # Restored after: `main` may run in a process that goes on.
        from vade_tf import model as vade_model

        with vade_model.dtype_policy_scope(policy):
            return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print(
            f"\nvade-tf {args.command}: interrupted; {_interrupted(args)}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except (
        ValueError,
        FileNotFoundError,
        FileExistsError,
        OSError,
        ImportError,  # an optional extra missing, for example anndata
        FloatingPointError,  # training diverged (`workflow.select_start`)
    ) as error:
        print(f"vade-tf {args.command}: error: {error}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
