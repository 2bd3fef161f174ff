"""The `vade-tf` argument parser, without TensorFlow.

`build_parser` makes the parser of every command from the library's own
choice lists and the recipe's fields
(`vade_tf.training.recipes.tunable_fields`), so
`--help`, `--version` and usage errors answer before TensorFlow is imported
(`vade_tf_cli` parses with it under a bare package).
"""

import argparse

from vade_tf import choices
from vade_tf.data import datasets
from vade_tf.model.config import DEFAULTS
from vade_tf.training import k_selection, recipes

# Exit status of a run stopped with Ctrl-C (128 + SIGINT), as shells use.
EXIT_INTERRUPTED = 130


EXIT_ERROR = 2


LIKELIHOOD_CHOICES = (choices.LIKELIHOOD_AUTO, *choices.LIKELIHOODS)


# `vade-tf train --baseline`: the models of `vade_tf.model.baselines`.
BASELINES = ("vae_gmm",)


PRETRAIN_RECIPE_CHOICES = (
    choices.PRETRAIN_RECIPE_AUTO,
    *choices.PRETRAIN_RECIPES,
)


def recipe_default(field):
    """Help text naming each preset's value of a recipe field."""
    values = ", ".join(
        f"{name} {getattr(recipe, field)}"
        for name, recipe in recipes.PRESETS.items()
    )
    return f"default: the recipe's ({values})"


def dataset_name(value):
    name = datasets.normalize_name(value)
    if name not in datasets.DATASETS:
        raise argparse.ArgumentTypeError(
            f"unknown dataset {value!r}: choose one of "
            f"{', '.join(datasets.DATASETS)}, or pass your own file with "
            "--data PATH"
        )
    return name


def n_clusters_value(value):
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


def add_data_arguments(parser, required=True):
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument(
        "--dataset",
        type=dataset_name,
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


def add_model_arguments(parser):
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
        help="with --n-clusters auto: how K is scored "
        "(vade_tf.training.k_selection; "
        "docs/results.md compares them) (default: %(default)s)",
    )
    parser.add_argument(
        "--latent-dim",
        type=int,
        default=DEFAULTS.latent_dim,
        metavar="D",
        help="latent dimension (default: %(default)s)",
    )
    parser.add_argument(
        "--hidden-dims",
        default=",".join(str(width) for width in DEFAULTS.hidden_dims),
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
        default=choices.INPUT_SCALINGS[0],
        choices=choices.INPUT_SCALINGS,
        help="auto: standardise each feature for the gaussian likelihood "
        "(kept in the saved model); standardize; none "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--gamma-mode",
        default=DEFAULTS.gamma_mode,
        choices=choices.GAMMA_MODES,
        help="exact: the Bayes posterior of the mixture; original: the "
        "original release's formula (default: %(default)s)",
    )
    parser.add_argument(
        "--alpha",
        type=float,
        default=DEFAULTS.alpha,
        help="weight of the reconstruction term (default: %(default)s)",
    )
    parser.add_argument(
        "--beta",
        type=float,
        default=DEFAULTS.beta,
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
        default=choices.DTYPE_POLICIES[0],
        choices=choices.DTYPE_POLICIES,
        help="Keras dtype policy of the encoder and decoder; the mixture "
        "and the ELBO stay float32. mixed_bfloat16 pays on CPUs with AMX "
        "at large batches (docs/performance.md) (default: %(default)s)",
    )


def add_recipe_arguments(parser, recipe, epochs=None):
    """`--recipe`, `--image-shape`, and one flag per tunable field of
    `vade_tf.training.recipes.Recipe`, made from the field (its help, type,
    choices):
    each defaults to the recipe's value and replaces it when given."""
    parser.add_argument(
        "--recipe",
        default=recipe,
        choices=tuple(recipes.PRESETS),
        help="the training recipe (vade_tf.training.recipes): original = the "
        "original release's settings, tuned = the measured best on MNIST "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--image-shape",
        metavar="H,W[,C]",
        help="image shape of the data, for augmented pretraining (default: "
        "known for mnist and fashion_mnist and for a file whose array has "
        "shape (n, H, W) or (n, H, W, C); none for flat rows)",
    )
    for field in recipes.tunable_fields():
        meta = field.metadata
        if field.name == "epochs" and epochs:
            default = f"default: {epochs}, whatever the recipe"
        elif meta["default_help"]:
            default = f"default: {meta['default_help']}"
        else:
            default = recipe_default(field.name)
        parser.add_argument(
            "--" + recipes.flag_name(field).replace("_", "-"),
            type=recipes.value_type(field),
            choices=meta["choices"],
            metavar=meta["metavar"],
            help=f"{meta['help']}; {default}",
        )
    fields = {
        recipes.flag_name(field): field for field in recipes.tunable_fields()
    }
    for old, new in recipes.RENAMED_FLAGS.items():
        parser.add_argument(  # older commands and run folders
            "--" + old.replace("_", "-"),
            dest=new,
            type=recipes.value_type(fields[new]),
            choices=fields[new].metadata["choices"],
            default=argparse.SUPPRESS,
            help=argparse.SUPPRESS,
        )


def add_run_arguments(parser):
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
    add_verbose_argument(parser)


def add_verbose_argument(parser):
    parser.add_argument(
        "--verbose",
        type=int,
        choices=[0, 1, 2],
        help="0 silent, 1 progress bar, 2 one line per epoch (default: 1 "
        "on a terminal, 2 otherwise)",
    )


def add_model_file_argument(parser):
    parser.add_argument(
        "--model",
        required=True,
        metavar="PATH",
        help="a .keras file, or shipped:mnist / shipped:fashion_mnist for "
        "the package's trained models",
    )


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the descriptions' line breaks."""


def package_version():
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
        "--version", action="version", version=f"vade-tf {package_version()}"
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
            formatter_class=HelpFormatter,
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
    add_data_arguments(train)
    add_model_arguments(train)
    train.add_argument(
        "--baseline",
        choices=BASELINES,
        help="train the VaDE paper's VAE+GMM baseline instead: the same "
        "networks as a plain VAE (N(0, I) prior), then a mixture fitted on "
        "its latent means (vade_tf.model.baselines.VAEGMM)",
    )
    add_recipe_arguments(train, recipe=recipes.DEFAULT_RECIPE)
    add_run_arguments(train)
    train.add_argument(
        "--strategy",
        choices=choices.STRATEGIES,
        default=choices.STRATEGIES[0],
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
        f"{recipes.TUNED.mixture_learning_rate:g} (epsilon "
        f"{recipes.TUNED.epsilon:g}), x{recipes.TUNED.lr_decay:g} every "
        f"{recipes.TUNED.lr_decay_every} epochs,\nbatch "
        f"{recipes.TUNED.batch_size}, {recipes.REPRODUCE_EPOCHS} epochs. "
        "See docs/reproduction.md.",
    )
    reproduce.add_argument(
        "dataset", type=dataset_name, help="mnist or fashion_mnist"
    )
    reproduce.add_argument(
        "--data-dir", metavar="DIR", help="folder with the IDX .gz files"
    )
    reproduce.set_defaults(data=None, split="all")
    add_model_arguments(reproduce)
    add_recipe_arguments(
        reproduce, recipe=recipes.TUNED.name, epochs=recipes.REPRODUCE_EPOCHS
    )
    add_run_arguments(reproduce)

    pretrain = add(
        "pretrain",
        "pretrain the autoencoder only",
        "Pretrain the autoencoder, fit the mixture on its latent means and "
        "write the\nweights (.weights.h5) with a JSON of their AE+GMM "
        "scores beside them.",
    )
    add_data_arguments(pretrain)
    add_model_arguments(pretrain)
    add_recipe_arguments(pretrain, recipe=recipes.DEFAULT_RECIPE)
    pretrain.add_argument(
        "--out", required=True, metavar="PATH", help="the *.weights.h5 file"
    )
    pretrain.add_argument(
        "--overwrite", action="store_true", help="replace existing files"
    )
    pretrain.add_argument(
        "--no-xla", action="store_true", help="pretrain without XLA"
    )
    add_verbose_argument(pretrain)

    evaluate = add(
        "evaluate",
        "score a saved model on data",
        "Cluster data with a saved model and print ACC/NMI/ARI (with "
        "labels) and the\nsmallest cluster's share of the points.",
    )
    add_model_file_argument(evaluate)
    add_data_arguments(evaluate)

    generate = add(
        "generate",
        "a grid of samples per cluster",
        "Draw samples from every cluster of a saved model and write them "
        "as a PNG grid,\none row per cluster (ordered by the matched label "
        "when labelled data are given).",
    )
    add_model_file_argument(generate)
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
    add_data_arguments(generate, required=False)

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
    add_model_file_argument(predict)
    add_data_arguments(predict)
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
    add_model_file_argument(export)
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

    choose = add(
        "choose",
        "choose among runs of the same data without labels",
        "Read the clusters of several runs on the same rows (`vade-tf train` "
        "run folders\nthat differ by --seed, or files of `vade-tf predict`) "
        "and name the run whose\nclusters agree most with the others' "
        "(mean NMI). Labels are never read.\nSee docs/results.md, "
        '"Choosing among runs without labels".',
    )
    choose.add_argument(
        "runs",
        nargs="+",
        metavar="RUN",
        help="at least 3 run folders (their clusters.csv) or assignments "
        "files (.csv, .npz, .npy)",
    )
    return parser
