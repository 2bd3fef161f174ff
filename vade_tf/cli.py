"""The `vade-tf` command line: pretrain, train, evaluate, generate, export.

`vade-tf train --dataset digits` is the main job: it pretrains the
autoencoder, fits the GMM on the latent means, trains VaDE with the original
schedule while printing ACC/NMI/ARI each epoch, and writes a run folder with
the model, a metrics JSON, the latent space and samples from every cluster.
`vade-tf reproduce mnist` is the same job with the paper's settings (all
70,000 images, batch 100, two Adam optimizers at 0.002) after this project's
"augment" pretraining recipe.
"""

import argparse
import datetime
import json
import os
import sys
import time

import numpy as np

REPRODUCE_PRETRAIN_EPOCHS = 40
REPRODUCE_EPOCHS = 20
REPRODUCE_LATENT_STD = 5.0
REPRODUCE_GMM_METHOD = "kmeans"
# The original release's floor of the learning rate: at its starting rate
# (0.002) Adam knocks the pretrained network out of its clustering in the
# first epoch (docs/results.md). The mixture keeps 0.002.
REPRODUCE_NETWORK_LR = 0.0002


def _add_data_arguments(parser, required=True):
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument(
        "--dataset",
        help="a named data set: digits (embedded), mnist, fashion_mnist",
    )
    group.add_argument(
        "--data", help="your own .npz/.npy/.h5/.csv file (x, optional y)"
    )
    parser.add_argument(
        "--data-dir", help="folder with the MNIST/Fashion-MNIST IDX files"
    )
    parser.add_argument(
        "--split",
        default="all",
        choices=["all", "train", "test"],
        help="which split of mnist/fashion_mnist (default: all 70,000)",
    )


def _add_model_arguments(parser):
    parser.add_argument(
        "--n-clusters",
        type=int,
        help="K (default: the number of labels, else 10)",
    )
    parser.add_argument("--latent-dim", type=int, default=10)
    parser.add_argument(
        "--hidden-dims",
        default="500,500,2000",
        help="comma-separated hidden widths",
    )
    parser.add_argument(
        "--likelihood",
        default="auto",
        choices=["auto", "bernoulli", "gaussian"],
        help="auto: bernoulli for data in [0, 1]",
    )
    parser.add_argument(
        "--gamma-mode", default="exact", choices=["exact", "original"]
    )
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)


def _add_pretrain_arguments(
    parser, epochs=50, latent_std=0.0, gmm_method="gmm"
):
    from vade_tf.pretraining import RECIPES

    parser.add_argument("--pretrain-epochs", type=int, default=epochs)
    parser.add_argument(
        "--recipe",
        choices=RECIPES,
        help="pretraining recipe (see vade_tf.pretraining.recipe_settings); "
        "default 'augment' for MNIST and Fashion-MNIST, 'adam' otherwise",
    )
    parser.add_argument(
        "--image-shape",
        help="HEIGHT,WIDTH[,CHANNELS] of image data for --recipe augment "
        "(default: known for the named data sets, else a square)",
    )
    parser.add_argument(
        "--pretrain-batch-size",
        type=int,
        help="default: the recipe's (adam 64, dec 256, augment 256)",
    )
    parser.add_argument(
        "--noise",
        type=float,
        default=0.0,
        help="input dropout rate while pretraining",
    )
    parser.add_argument(
        "--gmm-init", type=int, default=10, help="k-means restarts"
    )
    parser.add_argument(
        "--gmm-method",
        default=gmm_method,
        choices=["gmm", "kmeans"],
        help="how the mixture prior starts (VaDE.initialize_gmm)",
    )
    parser.add_argument(
        "--latent-std",
        type=float,
        default=latent_std,
        help="rescale the latent space to this mean per-dimension std "
        "before fitting the mixture (VaDE.initialize_gmm); 0 keeps it",
    )


def _add_train_arguments(parser, epochs, lr=0.002):
    parser.add_argument(
        "--pretrained",
        help="load autoencoder weights instead of pretraining ('shipped': "
        "pretrain_weights/ae_<dataset>.weights.h5)",
    )
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument(
        "--lr",
        type=float,
        default=lr,
        help="Adam learning rate of the encoder and decoder",
    )
    parser.add_argument(
        "--gmm-lr",
        type=float,
        default=0.002,
        help="Adam learning rate of the mixture (theta_p, c_mean, c_var)",
    )
    parser.add_argument(
        "--out",
        help="run folder (default runs/train-<data>-<time>, "
        "runs/reproduce-<data>-<gamma mode>-seed<seed>)",
    )
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument(
        "--no-xla", action="store_true", help="train without XLA"
    )
    parser.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])


def build_parser():
    """The argument parser of `vade-tf`."""
    parser = argparse.ArgumentParser(
        prog="vade-tf",
        description="VaDE (Variational Deep Embedding) clustering.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train", help="pretrain, initialise the GMM and train VaDE"
    )
    _add_data_arguments(train)
    _add_model_arguments(train)
    _add_pretrain_arguments(train)
    _add_train_arguments(train, epochs=50)

    reproduce = commands.add_parser(
        "reproduce",
        help="the paper's MNIST / Fashion-MNIST run: batch 100, two Adam "
        "(0.002, epsilon 1e-4), x0.9 every 10 epochs, 'augment' pretraining",
    )
    reproduce.add_argument("dataset", choices=["mnist", "fashion_mnist"])
    reproduce.add_argument("--data-dir")
    reproduce.set_defaults(data=None, split="all")
    _add_model_arguments(reproduce)
    _add_pretrain_arguments(
        reproduce,
        epochs=REPRODUCE_PRETRAIN_EPOCHS,
        latent_std=REPRODUCE_LATENT_STD,
        gmm_method=REPRODUCE_GMM_METHOD,
    )
    _add_train_arguments(
        reproduce, epochs=REPRODUCE_EPOCHS, lr=REPRODUCE_NETWORK_LR
    )

    pretrain = commands.add_parser(
        "pretrain", help="pretrain the autoencoder only"
    )
    _add_data_arguments(pretrain)
    _add_model_arguments(pretrain)
    _add_pretrain_arguments(pretrain)
    pretrain.add_argument(
        "--out", required=True, help="the weights file, *.weights.h5"
    )
    pretrain.add_argument("--overwrite", action="store_true")
    pretrain.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])

    evaluate = commands.add_parser(
        "evaluate", help="score a saved model on data"
    )
    evaluate.add_argument("--model", required=True, help="a .keras file")
    _add_data_arguments(evaluate)

    generate = commands.add_parser(
        "generate", help="a grid of samples per cluster"
    )
    generate.add_argument("--model", required=True, help="a .keras file")
    generate.add_argument("--per-cluster", type=int, default=10)
    generate.add_argument("--out", required=True, help="the PNG file")
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--min-posterior", type=float)
    generate.add_argument("--overwrite", action="store_true")
    _add_data_arguments(generate, required=False)

    export = commands.add_parser("export", help="a SavedModel for TF Serving")
    export.add_argument("--model", required=True, help="a .keras file")
    export.add_argument("--out", required=True, help="the export base folder")
    export.add_argument("--version", type=int, default=1)
    export.add_argument("--overwrite", action="store_true")
    return parser


# =============================================================================
# Helpers
# =============================================================================


def _load_data(args):
    from vade_tf import datasets

    if getattr(args, "data", None):
        x, y = datasets.load_array(args.data)
        name = os.path.splitext(os.path.basename(args.data))[0]
    else:
        x, y = datasets.load_dataset(args.dataset, args.data_dir, args.split)
        name = args.dataset
    return x, y, name


def _build_model(args, x, y):
    import vade_tf

    n_clusters = args.n_clusters or (len(np.unique(y)) if y is not None else 10)
    likelihood = args.likelihood
    if likelihood == "auto":
        inside = float(np.min(x)) >= 0.0 and float(np.max(x)) <= 1.0
        likelihood = "bernoulli" if inside else "gaussian"
    hidden = tuple(int(w) for w in args.hidden_dims.split(",") if w)
    return vade_tf.VaDE(
        input_dim=x.shape[1],
        n_clusters=n_clusters,
        latent_dim=args.latent_dim,
        hidden_dims=hidden,
        likelihood=likelihood,
        alpha=args.alpha,
        gamma_mode=args.gamma_mode,
        seed=args.seed,
    )


def _resolve_recipe(args, name):
    """Fills in `args.recipe` and `args.image_shape` for the data `name`."""
    from vade_tf.datasets import IMAGE_SHAPES

    if args.image_shape:
        try:
            shape = tuple(int(v) for v in args.image_shape.split(","))
        except ValueError:
            shape = ()
        if len(shape) not in (2, 3) or min(shape) < 1:
            raise ValueError(
                "--image-shape must be HEIGHT,WIDTH[,CHANNELS] of positive "
                f"ints. Received: {args.image_shape!r}"
            )
        args.image_shape = shape
    elif name in IMAGE_SHAPES:
        args.image_shape = IMAGE_SHAPES[name]
    if args.recipe is None:
        args.recipe = "augment" if name in IMAGE_SHAPES else "adam"


def _pretrain(model, x, args):
    start = time.time()
    model.pretrain(
        x,
        epochs=args.pretrain_epochs,
        batch_size=args.pretrain_batch_size,
        recipe=args.recipe,
        image_shape=args.image_shape,
        noise=args.noise,
        jit_compile=not getattr(args, "no_xla", False),
        verbose=args.verbose,
    )
    return time.time() - start


def _pretrain_metadata(args, x, seconds, scores):
    import hashlib

    from vade_tf import pretraining

    return {
        "command": " ".join(sys.argv),
        "recipe": args.recipe,
        "image_shape": args.image_shape,
        "epochs": args.pretrain_epochs,
        "batch_size": args.pretrain_batch_size
        or pretraining.recipe_settings(args.recipe)["batch_size"],
        "noise": args.noise,
        "gmm_method": args.gmm_method,
        "latent_std": args.latent_std,
        "seed": args.seed,
        "data_sha256": hashlib.sha256(
            np.ascontiguousarray(x).tobytes()
        ).hexdigest(),
        "n_samples": int(len(x)),
        "pretrain_seconds": seconds,
        "ae_gmm": scores,
    }


def _save_autoencoder(model, path, metadata, overwrite):
    model.save_pretrained_weights(path, overwrite=overwrite)
    _write_json(os.path.splitext(path)[0] + ".json", metadata, overwrite)


def _shipped_weights(name):
    return os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        "pretrain_weights",
        f"ae_{name}.weights.h5",
    )


def _scores(model, x, y):
    from vade_tf import metrics

    clusters = model.predict_clusters(x)
    scores = {
        "min_cluster_fraction": metrics.min_cluster_fraction(
            clusters, model.n_clusters
        )
    }
    if y is not None:
        scores.update(metrics.clustering_scores(y, clusters))
    return scores


def _format(scores):
    return "  ".join(
        f"{k.upper()} {v:.4f}"
        for k, v in scores.items()
        if k in ("acc", "nmi", "ari")
    )


def _write_json(path, payload, overwrite):
    from vade_tf import fileio

    with fileio.atomic_output(path, overwrite=overwrite) as tmp:
        with open(tmp, "w", encoding="utf8") as handle:
            json.dump(payload, handle, indent=2, default=float)


# =============================================================================
# Commands
# =============================================================================


def run_pretrain(args):
    import keras

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
    keras.utils.set_random_seed(args.seed)
    x, y, name = _load_data(args)
    _resolve_recipe(args, name)
    model = _build_model(args, x, y)
    seconds = _pretrain(model, x, args)
    model.initialize_gmm(
        x,
        method=args.gmm_method,
        random_state=args.seed,
        n_init=args.gmm_init,
        latent_std=args.latent_std or None,
    )
    scores = _scores(model, x, y)
    metadata = _pretrain_metadata(args, x, seconds, scores)
    _save_autoencoder(model, args.out, metadata, args.overwrite)
    print(f"AE+GMM  {_format(scores)}")
    print(f"wrote {args.out}")
    return 0


def run_train(args):
    import keras

    from vade_tf import callbacks, plotting

    keras.utils.set_random_seed(args.seed)
    x, y, name = _load_data(args)
    _resolve_recipe(args, name)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    if args.command == "reproduce":
        stamp = f"{args.gamma_mode}-seed{args.seed}"
    out = args.out or os.path.join("runs", f"{args.command}-{name}-{stamp}")
    if os.path.isdir(out) and os.listdir(out) and not args.overwrite:
        raise FileExistsError(
            f"{out} exists and is not empty. Pass --overwrite or another --out."
        )
    os.makedirs(out, exist_ok=True)
    model = _build_model(args, x, y)
    timings = {}
    pretrained = args.pretrained
    if pretrained == "shipped":
        pretrained = _shipped_weights(name)
    if pretrained:
        model.load_pretrained_weights(pretrained)
        timings["pretrain_seconds"] = 0.0
    else:
        print(f"Pretraining the autoencoder on {name} {x.shape}")
        timings["pretrain_seconds"] = _pretrain(model, x, args)
    start = time.time()
    model.initialize_gmm(
        x,
        method=args.gmm_method,
        random_state=args.seed,
        n_init=args.gmm_init,
        latent_std=args.latent_std or None,
    )
    timings["gmm_seconds"] = time.time() - start
    initial = _scores(model, x, y)
    print(f"AE+GMM  {_format(initial)}")
    if not pretrained:
        metadata = _pretrain_metadata(
            args, x, timings["pretrain_seconds"], initial
        )
        _save_autoencoder(
            model, os.path.join(out, "ae.weights.h5"), metadata, True
        )

    model.compile(
        optimizer=keras.optimizers.Adam(args.lr, epsilon=1e-4),
        gmm_optimizer=keras.optimizers.Adam(args.gmm_lr, epsilon=1e-4),
        jit_compile=not args.no_xla,
    )
    epoch_callbacks = [callbacks.StepDecay()]
    if y is not None:
        epoch_callbacks.insert(0, callbacks.ClusteringMetrics(x, y))
    epoch_callbacks += [
        keras.callbacks.CSVLogger(os.path.join(out, "history.csv")),
        keras.callbacks.ModelCheckpoint(os.path.join(out, "checkpoint.keras")),
    ]
    print(f"Training VaDE for {args.epochs} epochs")
    start = time.time()
    history = model.fit(
        x,
        epochs=args.epochs,
        batch_size=args.batch_size,
        callbacks=epoch_callbacks,
        verbose=args.verbose,
    )
    timings["train_seconds"] = time.time() - start
    final = _scores(model, x, y)
    print(f"VaDE    {_format(final)}")
    if final["min_cluster_fraction"] < 0.01:
        print(
            "warning: collapsed clusters: the smallest cluster holds "
            f"{final['min_cluster_fraction']:.2%} of the points (< 1%)."
        )

    from vade_tf import fileio

    with fileio.atomic_output(
        os.path.join(out, "model.keras"), overwrite=True, suffix=".keras"
    ) as tmp:
        model.save(tmp)
    _write_json(
        os.path.join(out, "metrics.json"),
        {
            "command": " ".join(sys.argv),
            "data": name,
            "n_samples": int(len(x)),
            "config": model.get_config(),
            "ae_gmm": initial,
            "vade": final,
            "timings": timings,
            "history": history.history,
        },
        overwrite=True,
    )
    # The run folder was checked at the start: its files are this run's.
    plotting.plot_latent(
        model, x, os.path.join(out, "latent.png"), y=y, overwrite=True
    )
    plotting.plot_cluster_samples(
        model,
        os.path.join(out, "samples.png"),
        x=x,
        y=y,
        seed=args.seed,
        overwrite=True,
    )
    plotting.plot_history(
        history, os.path.join(out, "history.png"), overwrite=True
    )
    print(
        f"wrote {out}/: model.keras checkpoint.keras metrics.json "
        "history.csv latent.png samples.png history.png"
    )
    return 0


def _load_model(path):
    import keras

    import vade_tf  # noqa: F401  (registers the classes)

    if not os.path.exists(path):
        raise FileNotFoundError(f"No model file at {os.path.abspath(path)}.")
    return keras.models.load_model(path)


def run_evaluate(args):
    model = _load_model(args.model)
    x, y, name = _load_data(args)
    scores = _scores(model, x, y)
    print(
        f"{name}: {_format(scores)}  smallest cluster "
        f"{scores['min_cluster_fraction']:.3%}"
    )
    print(json.dumps(scores))
    return 0


def run_generate(args):
    from vade_tf import plotting

    model = _load_model(args.model)
    x = y = None
    if args.dataset or args.data:
        x, y, _ = _load_data(args)
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
    "export": run_export,
}


def main(argv=None):
    """Entry point of `vade-tf`; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ValueError, FileNotFoundError, FileExistsError) as error:
        print(f"vade-tf {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
