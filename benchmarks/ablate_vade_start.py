"""How VaDE's first epochs depend on its start: mixture, latent scale, rates.

Loads pretrained autoencoder weights, starts the mixture with
`VaDE.initialize_gmm(method, latent_std)`, trains VaDE for a few epochs with
the given learning rates (optionally a linear warm-up of the network's rate,
optionally on augmented images) and prints ACC/NMI/ARI per epoch; the
per-epoch scores go to a JSON file.

    python benchmarks/ablate_vade_start.py mnist runs/ae_mnist_s0.weights.h5 \\
        --data-dir ../shared/data/mnist --gmm-init kmeans --latent-std 5 \\
        --lr 0.0002 --epochs 5 --out benchmarks/ablation.json
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import vade_tf  # noqa: E402
from vade_tf import fileio, metrics, recipes  # noqa: E402
from vade_tf.data import datasets
from vade_tf.training import callbacks


class LinearWarmup(keras.callbacks.Callback):
    """Raises the network's learning rate from ~0 to `rate` over `steps`."""

    def __init__(self, rate, steps):
        super().__init__()
        self.rate, self.steps, self.step = rate, steps, 0

    def on_train_batch_begin(self, batch, logs=None):
        if self.step <= self.steps:
            fraction = min(1.0, (self.step + 1) / self.steps)
            self.model.optimizer.learning_rate.assign(self.rate * fraction)
        self.step += 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=["mnist", "fashion_mnist"])
    parser.add_argument("weights", help="a .weights.h5 autoencoder file")
    parser.add_argument("--data-dir")
    parser.add_argument("--gmm-init", default="gmm")
    parser.add_argument("--latent-std", type=float)
    parser.add_argument("--lr", type=float, default=0.002)
    parser.add_argument("--gmm-lr", type=float, default=0.002)
    parser.add_argument("--warmup-steps", type=int, default=0)
    parser.add_argument("--gamma-mode", default="exact")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="a JSON file for the per-epoch scores")
    args = parser.parse_args()

    x, y = datasets.load_dataset(args.dataset, args.data_dir)
    keras.utils.set_random_seed(args.seed)
    model = vade_tf.VaDE(784, 10, gamma_mode=args.gamma_mode, seed=args.seed)
    model.load_pretrained_weights(args.weights)
    model.initialize_gmm(
        x,
        gmm_init=args.gmm_init,
        random_state=args.seed,
        n_init=10,
        latent_std=args.latent_std,
    )
    start = metrics.clustering_scores(y, model.predict_clusters(x))
    print("start", start, flush=True)
    model.compile(
        optimizer=keras.optimizers.Adam(args.lr, epsilon=1e-4),
        gmm_optimizer=keras.optimizers.Adam(args.gmm_lr, epsilon=1e-4),
    )
    epoch_callbacks = [callbacks.ClusteringMetrics(x, y)]
    if args.warmup_steps:
        epoch_callbacks.append(LinearWarmup(args.lr, args.warmup_steps))
    elif args.gmm_lr > 0:
        epoch_callbacks.append(recipes.ORIGINAL.schedule())
    history = model.fit(
        x,
        epochs=args.epochs,
        batch_size=100,
        callbacks=epoch_callbacks,
        verbose=2,
    )
    if args.out:
        payload = {
            "command": "python benchmarks/ablate_vade_start.py "
            + " ".join(sys.argv[1:]),
            "start": start,
            "history": {k: history.history[k] for k in ("acc", "nmi", "ari")},
        }
        with fileio.atomic_output(args.out, overwrite=False) as tmp:
            with open(tmp, "w", encoding="utf8") as handle:
                json.dump(payload, handle, indent=2, default=float)


if __name__ == "__main__":
    main()
