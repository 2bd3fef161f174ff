"""Does longer pretraining lift VaDE? Continue each run's autoencoder, retrain.

For each seed's run folder of `from_scratch.py --subset` (its
`ae.weights.h5`, pretrained by the default command), continues the
augmented pretraining for `--more-epochs` (a fresh `Adam(1e-3)`, batch 256,
the same rotations and shifts, a batch order seeded `seed + 1000`; the
weights are kept, not reinitialised), then runs the default workflow from
the continued autoencoder (`workflow.train(..., pretrained=...)`,
`random_state=seed`, as `vade-tf train --seed seed` would after
pretraining) and records the per-epoch ACC/NMI (labels only score). Compare
with the same seeds' ACC in `from_scratch.json`: the pair differs only by
the extra pretraining.

    python -m benchmarks.quality.continue_pretraining \\
        --runs-dir runs/mnist_20k --seeds 0 1 2 3 4 --more-epochs 127 \\
        --out continue_pretraining.json
"""

import argparse
import os
import time

from benchmarks import common
from benchmarks.quality import from_scratch

# The image shape and K of the subsets `from_scratch` writes.
IMAGE_SHAPE = tuple(int(v) for v in from_scratch.IMAGE_SHAPE.split(","))


def continue_one(x, y, folder, seed, more_epochs, n_clusters, weights_out):
    """One seed: continued pretraining, then the default workflow."""
    from vade_tf import workflow
    from vade_tf.training import pretraining, weights

    began = time.perf_counter()
    source = workflow.build_model(x, n_clusters=n_clusters, seed=seed + 1000)
    weights.load_autoencoder_weights(
        source, os.path.join(folder, "ae.weights.h5")
    )
    # "adam" at the "augment" recipe's batch size with augmentation is the
    # "augment" recipe without its reinitialisation of the weights.
    pretraining.pretrain_autoencoder(
        source,
        x,
        epochs=more_epochs,
        recipe="adam",
        batch_size=256,
        augment=True,
        image_shape=IMAGE_SHAPE,
        verbose=0,
    )
    weights.save_autoencoder_weights(source, weights_out, overwrite=True)
    pretrain_seconds = time.perf_counter() - began
    model = workflow.build_model(x, n_clusters=n_clusters, seed=seed)
    result = workflow.train(
        model,
        x,
        y=y,
        pretrained=weights_out,
        image_shape=IMAGE_SHAPE,
        random_state=seed,
    )
    return {
        "seed": seed,
        "acc": result.history["acc"],
        "nmi": result.history["nmi"],
        "pretrain_more_seconds": pretrain_seconds,
        "seconds": time.perf_counter() - began,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs-dir", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--more-epochs", type=int, default=127)
    parser.add_argument(
        "--n-clusters", type=int, default=from_scratch.N_CLASSES
    )
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    import numpy as np

    data = np.load(os.path.join(args.runs_dir, "subset.npz"))
    x, y = data["x"], data["y"]
    runs, commands = common.load_runs(args.out)
    for seed in args.seeds:
        folder = os.path.join(args.runs_dir, f"seed{seed}")
        row = continue_one(
            x,
            y,
            folder,
            seed,
            args.more_epochs,
            args.n_clusters,
            os.path.join(folder, f"ae_more{args.more_epochs}.weights.h5"),
        )
        runs.append(row)
        common.write_result(args.out, {"commands": commands, "runs": runs})
        print(
            f"seed {seed}: ACC {row['acc'][-1]:.4f} after "
            f"{len(row['acc'])} VaDE epochs; "
            f"{row['pretrain_more_seconds']:.0f} s of more pretraining",
            flush=True,
        )


if __name__ == "__main__":
    main()
