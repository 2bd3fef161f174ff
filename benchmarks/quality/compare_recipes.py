"""Compare training recipes on several data sets, seeds paired.

For each data set and seed one autoencoder is pretrained (the recipes being
compared share their pretraining settings, so they start from the same
autoencoder), then each recipe fits its mixture on that autoencoder's
latent means and trains VaDE with its own optimizers and schedule, for the
same number of epochs. Reported per run: ACC / NMI / ARI of the start
(AE + the recipe's mixture) and of the end, the smallest cluster's share,
the mean ELBO per sample (label-free), the per-epoch ACC and the times.
Labels are only scored, never used to train or choose.

Data sets (every one embedded or generated, nothing downloaded):

- `digits`: scikit-learn's 8x8 digits in [0, 1] (bernoulli), as a table
  (plain pretraining); `digits_as_images`: the same, known as 8x8 images
  ("augment" pretraining);
- `iris`, `wine`, `breast_cancer`: scikit-learn's tables, unscaled (the
  gaussian likelihood with the model's own standardisation);
- `blobs`: 5 well-separated Gaussian blobs in 10 dimensions, 1,000 rows;
- `tight_blobs`: 3 blobs of std 0.01 in 20 dimensions, 900 rows
  (docs/reliability.md, "The mixture's steps");
- `mnist`, `fashion_mnist`: all 70,000 images, from the shipped
  autoencoders (`--pretrained shipped`); pretraining them here is too long;
- `mnist_16x16`, `fashion_mnist_16x16`: a fixed 10,000-image subset of the
  70,000 (seed 0), resized to 16x16 (`scipy.ndimage.zoom`, linear; the size
  of USPS), known as images ("augment" pretraining);
  `mnist_16x16_flat`, `fashion_mnist_16x16_flat`: the same rows as a table
  (plain pretraining: what a flattened image array gets without its shape).
  `--data-dir` names the folder of the 28x28 set's IDX files.

It prints a table and writes JSON; it judges nothing.

Usage (from the repository root)::

    TF_CPP_MIN_LOG_LEVEL=2 python -m benchmarks.quality.compare_recipes \\
        --datasets digits wine breast_cancer blobs tight_blobs \\
        --recipes tuned original --seeds 0 1 2 \\
        --out benchmarks/results/recipes_default.json

Without `--epochs` and `--pretrain-epochs` each recipe trains as a user
gets it (its own epochs, raised to its minimum steps on small data); the
autoencoder is the first recipe's.

A recipe may carry overrides: `tuned:learning_rate=0.0005,epochs=30`, and
two model options: `beta=2` (the weight of the prior terms, `VaDE(beta=)`)
and `model=vae_gmm` (the paper's VAE+GMM baseline,
`vade_tf.model.baselines.VAEGMM`, trained with the same recipe), for example
`tuned:beta=2` or `tuned:model=vae_gmm`. Each run also reports the mean
reconstruction error per sample at z = z_mean (`-log p(x|z)` without its
constant for the gaussian likelihood).
"""

import argparse
import os
import tempfile
import time

import numpy as np

from benchmarks import common

SMALL_DATASETS = (
    "digits",
    "digits_as_images",
    "iris",
    "wine",
    "breast_cancer",
    "blobs",
    "tight_blobs",
)


def load(name, data_dir=None):
    """`(x, y, n_clusters, image_shape)` of a named data set."""
    from sklearn import datasets as sk_datasets

    import vade_tf

    if name in ("digits", "mnist", "fashion_mnist"):
        x, y = vade_tf.data.datasets.load_dataset(name, data_dir=data_dir)
        return x, y, 10, vade_tf.data.datasets.IMAGE_SHAPES.get(name)
    base = name.removesuffix("_flat")
    if base in SMALL_IMAGES:
        x, y = small_images(SMALL_IMAGES[base], data_dir)
        shape = (SMALL_IMAGE_SIDE, SMALL_IMAGE_SIDE)
        return x, y, 10, None if name.endswith("_flat") else shape
    if name == "digits_as_images":  # the same data, known as 8x8 images
        x, y = vade_tf.data.datasets.load_dataset("digits")
        return x, y, 10, (8, 8)
    if name == "iris":
        data = sk_datasets.load_iris()
        return data.data.astype("float32"), data.target, 3, None
    if name == "wine":
        data = sk_datasets.load_wine()
        return data.data.astype("float32"), data.target, 3, None
    if name == "breast_cancer":
        data = sk_datasets.load_breast_cancer()
        return data.data.astype("float32"), data.target, 2, None
    if name == "blobs":
        x, y = sk_datasets.make_blobs(
            n_samples=1000,
            centers=5,
            n_features=10,
            cluster_std=1.0,
            center_box=(-10, 10),
            random_state=0,
        )
        return x.astype("float32"), y, 5, None
    if name == "tight_blobs":
        rng = np.random.default_rng(0)
        centers = rng.normal(size=(3, 20))
        y = np.repeat(np.arange(3), 300)
        x = centers[y] + 0.01 * rng.normal(size=(900, 20))
        return x.astype("float32"), y, 3, None
    raise ValueError(f"Unknown data set {name!r}")


SMALL_IMAGES = {"mnist_16x16": "mnist", "fashion_mnist_16x16": "fashion_mnist"}
SMALL_IMAGE_SIDE = 16
SMALL_IMAGE_ROWS = 10_000


def small_images(name, data_dir):
    """`(x, y)`: a fixed 10,000-image subset of `name` resized to 16x16.

    Args:
        name: "mnist" or "fashion_mnist".
        data_dir: folder of its IDX files.

    Returns:
        x of shape `(10000, 256)`, float32 in [0, 1], and int labels y.
    """
    from scipy import ndimage

    import vade_tf

    x, y = vade_tf.data.datasets.load_dataset(name, data_dir=data_dir)
    keep = np.sort(
        np.random.default_rng(0).permutation(len(x))[:SMALL_IMAGE_ROWS]
    )
    side = vade_tf.data.datasets.IMAGE_SHAPES[name][0]
    images = x[keep].reshape(-1, side, side)
    factor = SMALL_IMAGE_SIDE / side
    small = ndimage.zoom(images, (1, factor, factor), order=1)
    small = np.clip(small, 0.0, 1.0).reshape(len(keep), -1)
    return small.astype("float32"), y[keep]


MODEL_OPTIONS = ("beta", "model")


def parse_recipe(spec):
    """`name[:field=value,...]` -> (label, Recipe, model options)."""
    from vade_tf.training import recipes

    name, _, overrides = spec.partition(":")
    changes, model_options = {}, {}
    for item in filter(None, overrides.split(",")):
        field, _, value = item.partition("=")
        if field in MODEL_OPTIONS:
            model_options[field] = float(value) if field == "beta" else value
            continue
        default = getattr(recipes.ORIGINAL, field)
        if isinstance(default, bool) or default is None:
            changes[field] = None if value == "none" else float(value)
        elif isinstance(default, int):
            changes[field] = int(value)
        elif isinstance(default, float):
            changes[field] = float(value)
        else:
            changes[field] = value
    return spec, recipes.get_recipe(name, **changes), model_options


def build(x, k, seed, model_options):
    """The model a run trains: VaDE, or the VAE+GMM baseline."""
    from vade_tf import workflow
    from vade_tf.model import baselines

    kind = model_options.get("model", "vade")
    if kind not in ("vade", "vae_gmm"):
        raise ValueError(f"model must be vade or vae_gmm, not {kind!r}")
    return workflow.build_model(
        x,
        n_clusters=k,
        seed=seed,
        beta=model_options.get("beta", 1.0),
        model_class=baselines.VAEGMM if kind == "vae_gmm" else None,
    )


def reconstruction_error(model, x, batch_size=1000):
    """Mean `-log p(x|z)` per sample at z = z_mean (no sampling)."""
    total = 0.0
    for begin in range(0, len(x), batch_size):
        batch = x[begin : begin + batch_size]
        outputs = model.decoder_outputs(model.transform(batch))
        total += float(
            np.sum(
                model.likelihood.negative_log_likelihood(
                    model.input_scaling(batch), outputs
                )
            )
        )
    return total / len(x)


def scores(y, labels):
    """ACC / NMI / ARI as plain floats (`vade_tf.metrics.clustering_scores`)."""
    from vade_tf import metrics

    return {
        name: float(value)
        for name, value in metrics.clustering_scores(y, labels).items()
    }


def run_one(dataset, x, y, k, image_shape, seed, recipes_, args, weights):
    """Every recipe on one (data set, seed), from one autoencoder."""
    import vade_tf
    from vade_tf import metrics, workflow

    rows = []
    for label, recipe, model_options in recipes_:
        if args.epochs is not None:
            recipe = recipe.replace(epochs=args.epochs)
        if args.pretrain_epochs is not None:
            recipe = recipe.replace(pretrain_epochs=args.pretrain_epochs)
        model = build(x, k, seed, model_options)
        start = {}

        def on_stage(stage, model, start=start):
            if stage == "pretrained" and not os.path.exists(weights):
                model.save_pretrained_weights(weights)
            if stage == "initialized":
                start.update(scores(y, model.predict_clusters(x)))

        pretrained = weights if os.path.exists(weights) else None
        if pretrained is None and args.pretrained == "shipped":
            pretrained = str(vade_tf.shipped.autoencoder_weights(dataset))
        began = time.perf_counter()
        result = workflow.train(
            model,
            x,
            recipe,
            y=y,
            pretrained=pretrained,
            image_shape=image_shape,
            random_state=seed,
            on_stage=on_stage,
        )
        labels = model.predict_clusters(x)
        end = scores(y, labels)
        row = {
            "dataset": dataset,
            "recipe": label,
            "seed": seed,
            "start": start,
            "end": end,
            "min_cluster_share": metrics.min_cluster_fraction(labels, k),
            "elbo": float(np.mean(model.score_samples(x))),
            "reconstruction": reconstruction_error(model, x),
            "acc_per_epoch": result.history.get("acc", []),
            "loss_per_epoch": result.history.get("loss", []),
            "starts": None
            if result.starts is None
            else {
                "seeds": result.starts.seeds,
                "elbo": result.starts.elbo,
                "chosen": result.starts.chosen,
            },
            "pretrain_recipe": result.pretrain_recipe,
            "recipe_fields": result.recipe.to_dict(),
            "seconds": {**result.timings, "total": time.perf_counter() - began},
        }
        rows.append(row)
        print(
            f"{dataset:>14} {label:>28} seed {seed}: start ACC "
            f"{start['acc']:.3f} -> end ACC {end['acc']:.3f} NMI "
            f"{end['nmi']:.3f} min share {row['min_cluster_share']:.3f} "
            f"ELBO {row['elbo']:.2f} ({row['seconds']['total']:.0f} s)",
            flush=True,
        )
    return rows


def summarize(rows):
    table = {}
    for row in rows:
        key = (row["dataset"], row["recipe"])
        table.setdefault(key, []).append(row)
    lines = [
        "| data | recipe | start ACC | end ACC | end NMI | smallest cluster "
        "| reconstruction |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (dataset, recipe), group in table.items():

        def stat(values):
            values = np.asarray(values)
            return f"{values.mean():.3f} ± {values.std():.3f}"

        lines.append(
            f"| {dataset} | {recipe} | "
            f"{stat([r['start']['acc'] for r in group])} | "
            f"{stat([r['end']['acc'] for r in group])} | "
            f"{stat([r['end']['nmi'] for r in group])} | "
            f"{min(r['min_cluster_share'] for r in group):.3f} | "
            f"{stat([r.get('reconstruction', np.nan) for r in group])} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(SMALL_DATASETS))
    parser.add_argument("--recipes", nargs="+", default=["original", "tuned"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="VaDE epochs of every recipe (default: each recipe's own, "
        "raised to its minimum steps on small data, as a user gets it)",
    )
    parser.add_argument(
        "--pretrain-epochs",
        type=int,
        default=None,
        help="autoencoder epochs (default: the first recipe's own, raised "
        "to its minimum steps)",
    )
    parser.add_argument(
        "--pretrained",
        choices=("none", "shipped"),
        default="none",
        help="'shipped': MNIST / Fashion-MNIST from the shipped autoencoders",
    )
    parser.add_argument("--data-dir", default=None)
    parser.add_argument(
        "--out",
        default=str(common.RESULTS / "recipes.json"),
        help="the JSON file, resumed if it exists "
        "(default benchmarks/results/recipes.json)",
    )
    args = parser.parse_args(argv)

    recipes_ = [parse_recipe(spec) for spec in args.recipes]
    # Each invocation that added runs to the file, in order.
    rows, commands = common.load_runs(args.out)
    done = {(r["dataset"], r["recipe"], r["seed"]) for r in rows}
    with tempfile.TemporaryDirectory() as folder:
        for dataset in args.datasets:
            x, y, k, image_shape = load(dataset, args.data_dir)
            for seed in args.seeds:
                todo = [
                    run
                    for run in recipes_
                    if (dataset, run[0], seed) not in done
                ]
                if not todo:
                    continue
                weights = os.path.join(
                    folder, f"ae_{dataset}_{seed}.weights.h5"
                )
                rows += run_one(
                    dataset, x, y, k, image_shape, seed, todo, args, weights
                )
                common.write_result(
                    args.out, {"commands": commands, "runs": rows}
                )
    print(summarize(rows))


if __name__ == "__main__":
    main()
