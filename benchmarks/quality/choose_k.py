"""Choosing K without labels, measured on data sets whose K is known.

For each data set and seed, two whole runs of the default workflow
(`vade_tf.workflow.build_and_train`, the path of `VaDEClustering` and
`vade-tf train`):

- `auto`: pretrain once, choose K on the latent means by the default
  criterion (`vade_tf.training.k_selection`), train VaDE at that K;
- `true`: the same run at the true K.

Reported per run: the chosen K, ACC/NMI at the chosen K and at the true K,
the wall time of each run and their ratio. On the auto run's pretrained
latent means every other criterion is also scored (after the run, not in
its time), with its own cost, so the criteria are compared on the same
autoencoders. Labels are only scored, never used to train or choose.

Data sets: `blobs3`, `blobs6`, `blobs12u` (`make_blobs`, 200 rows a
cluster; `blobs12u` unbalanced, 25 to 400 rows a cluster, 12 dimensions;
values in raw units, x50 + 100), scikit-learn's `iris`, `wine`,
`breast_cancer` (unscaled), `digits` (8x8, in [0, 1]), and the 10,000-image
test splits of `mnist` and `fashion_mnist`.

Usage (from the repository root)::

    TF_CPP_MIN_LOG_LEVEL=2 python -m benchmarks.quality.choose_k \\
        --datasets blobs3 blobs6 blobs12u iris wine breast_cancer digits \\
        mnist fashion_mnist --seeds 0 1 2 --data-dir ../shared/data/mnist \\
        --out benchmarks/results/choose_k.json

It prints a table and writes JSON; it judges nothing.
"""

import argparse
import json
import os

import numpy as np

from benchmarks import common

DATASETS = (
    "blobs3",
    "blobs6",
    "blobs12u",
    "iris",
    "wine",
    "breast_cancer",
    "digits",
    "mnist",
    "fashion_mnist",
)


def make_blobs(k, unbalanced=False):
    """`k` Gaussian blobs (std 1, centres in a +-10 box) in raw units."""
    from sklearn import datasets as sk_datasets

    sizes = (
        np.round(np.geomspace(400, 25, k)).astype(int).tolist()
        if unbalanced
        else [200] * k
    )
    x, y = sk_datasets.make_blobs(
        n_samples=sizes,
        n_features=8 if k <= 6 else 12,
        cluster_std=1.0,
        center_box=(-10, 10),
        random_state=100 + k,
    )
    return (x * 50 + 100).astype("float32"), y


def load(name, data_dir=None):
    """`(x, y, image_shape)` of a data set of `DATASETS`."""
    from sklearn import datasets as sk_datasets

    from vade_tf.data import datasets

    if name.startswith("blobs"):
        return (
            *make_blobs(int(name[5:].rstrip("u")), name.endswith("u")),
            None,
        )
    if name in ("iris", "wine", "breast_cancer"):
        bunch = getattr(sk_datasets, f"load_{name}")()
        return bunch.data.astype("float32"), bunch.target, None
    if name == "digits":
        x, y = datasets.load_dataset("digits")
        return x, y, None
    x, y = datasets.load_dataset(
        name, data_dir if name == "mnist" else None, split="test"
    )
    return x, y, datasets.IMAGE_SHAPES[name]


def one_run(x, y, n_clusters, image_shape, seed, capture=None):
    """One whole run of the default workflow; returns its record."""
    import keras

    from vade_tf import metrics, workflow

    keras.utils.set_random_seed(seed)

    def on_stage(stage, model):
        if capture is not None and stage == "pretrained" and "z" not in capture:
            capture["z"] = model.transform(x)

    # As `vade-tf train --seed S` and `VaDEClustering(random_state=S)` do:
    # the model's weights and draws, the mixture and the batches seeded.
    result, seconds = common.seconds(
        workflow.build_and_train,
        x,
        n_clusters,
        model_kwargs={"seed": seed},
        image_shape=image_shape,
        random_state=seed,
        on_stage=on_stage,
    )
    scores = metrics.clustering_scores(y, result.model.predict_clusters(x))
    record = {
        "n_clusters": result.model.n_clusters,
        "acc": scores["acc"],
        "nmi": scores["nmi"],
        "seconds": seconds,
        "timings": result.timings,
    }
    if result.k_selection is not None:
        record["k_selection"] = result.k_selection.to_dict()
    return record


def other_criteria(z, seed):
    """Every criterion of `vade_tf.training.k_selection` on the same latent
    means."""
    from vade_tf.training import k_selection

    found = {}
    for criterion in k_selection.CRITERIA:
        selection = k_selection.choose_n_clusters(z, None, criterion, seed)
        found[criterion] = {
            "n_clusters": selection.n_clusters,
            "seconds": selection.seconds,
        }
    return found


def table(results):
    """The markdown tables of docs/results.md ("Choosing K") from the runs."""
    by_data = {}
    for run in results.values():
        by_data.setdefault(run["data"], []).append(run)
    lines = [
        "| data | true K | chosen K (seeds 0, 1, 2) "
        "| ACC / NMI at the chosen K | ACC / NMI at the true K "
        "| time, choice / one run at the true K |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    criteria_lines = [
        "| data | true K | bic | bic_diag | silhouette | dp |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name in DATASETS:
        runs = sorted(by_data.get(name, []), key=lambda run: run["seed"])
        if not runs:
            continue

        def mean(part, key, runs=runs):
            return float(np.mean([run[part][key] for run in runs]))

        chosen = ", ".join(str(run["auto"]["n_clusters"]) for run in runs)
        ratio = np.mean(
            [run["auto"]["seconds"] / run["true"]["seconds"] for run in runs]
        )
        lines.append(
            f"| {name} | {runs[0]['true_k']} | {chosen} | "
            f"{mean('auto', 'acc'):.3f} / {mean('auto', 'nmi'):.3f} | "
            f"{mean('true', 'acc'):.3f} / {mean('true', 'nmi'):.3f} | "
            f"{ratio:.2f} |"
        )
        cells = []
        for criterion in ("bic", "bic_diag", "silhouette", "dp"):
            found = [run["auto"]["criteria"][criterion] for run in runs]
            ks = ", ".join(str(f["n_clusters"]) for f in found)
            seconds = np.mean([f["seconds"] for f in found])
            cells.append(f"{ks} ({seconds:.1f} s)")
        criteria_lines.append(
            f"| {name} | {runs[0]['true_k']} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines) + "\n\n" + "\n".join(criteria_lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--data-dir", help="folder of the MNIST IDX files")
    parser.add_argument("--out", help="the JSON file (appended by key)")
    parser.add_argument(
        "--table",
        action="store_true",
        help="print the tables of --out, run nothing",
    )
    args = parser.parse_args()
    if args.table:
        with open(args.out, encoding="utf8") as handle:
            print(table(json.load(handle)["runs"]))
        return
    results = {}
    if args.out and os.path.exists(args.out):
        with open(args.out, encoding="utf8") as handle:
            results = json.load(handle).get("runs", {})
    for name in args.datasets:
        x, y, image_shape = load(name, args.data_dir)
        true_k = int(len(np.unique(y)))
        for seed in args.seeds:
            key = f"{name}/{seed}"
            if key in results:
                continue
            capture = {}
            auto = one_run(x, y, "auto", image_shape, seed, capture)
            auto["criteria"] = other_criteria(capture["z"], seed)
            true = one_run(x, y, true_k, image_shape, seed)
            results[key] = {
                "data": name,
                "seed": seed,
                "n_samples": int(len(x)),
                "true_k": true_k,
                "auto": auto,
                "true": true,
            }
            print(
                f"{name:14s} seed {seed}: true K {true_k}, chosen "
                f"{auto['n_clusters']} (ACC {auto['acc']:.3f} NMI "
                f"{auto['nmi']:.3f}, {auto['seconds']:.0f} s); at the true K "
                f"ACC {true['acc']:.3f} NMI {true['nmi']:.3f} "
                f"({true['seconds']:.0f} s); criteria "
                + " ".join(
                    f"{c}={v['n_clusters']}"
                    for c, v in auto["criteria"].items()
                ),
                flush=True,
            )
            if args.out:
                common.write_result(args.out, {"runs": results})


if __name__ == "__main__":
    main()
