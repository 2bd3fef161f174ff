"""The cost of augmented pretraining's input: one epoch of batches.

Times one epoch of the batches augmented pretraining feeds its autoencoder
(`vade_tf.training.pretraining`, MNIST's 70,000 rows, batch 256), made three
ways, interleaved in rounds in one process:

- `none`: the gathered batches alone (plain pretraining's input);
- `two_layers`: rotated by `keras.layers.RandomRotation`, then shifted by
  `keras.layers.RandomTranslation` (the library's augmentation until it
  resampled once): two bilinear resamplings per image;
- `one_resampling`: `vade_tf.data.augmentation.image_augmentation`, the
  same rotation and shift in one `keras.ops.image.affine_transform`.

Usage (from the repository root)::

    TF_CPP_MIN_LOG_LEVEL=2 python -m benchmarks.speed.augmentation \\
        --data-dir ../shared/data/mnist --rounds 3 --out /tmp/augmentation.json
"""

import argparse

from benchmarks import common


def epoch_seconds(x, batch_size, rounds):
    """Seconds per epoch of each way, per round: `{way: [seconds, ...]}`."""
    import keras

    from vade_tf.data import augmentation
    from vade_tf.training import pretraining

    side = int(round(x.shape[1] ** 0.5))
    two_layers = keras.Sequential(
        [
            keras.Input(shape=(x.shape[1],)),
            keras.layers.Reshape((side, side, 1)),
            keras.layers.RandomRotation(10 / 360, fill_mode="constant", seed=0),
            keras.layers.RandomTranslation(
                0.1, 0.1, fill_mode="constant", seed=1
            ),
            keras.layers.Reshape((x.shape[1],)),
        ]
    )
    ways = {
        "none": None,
        "two_layers": two_layers,
        "one_resampling": augmentation.image_augmentation((side, side), seed=0),
    }
    times = {way: [] for way in ways}
    for _ in range(rounds + 1):  # the first round traces: left out
        for way, layer in ways.items():
            batches = pretraining.shuffled_batches(x, batch_size, 0, 1, layer)
            _, elapsed = common.seconds(list, batches)
            times[way].append(elapsed)
    return {way: values[1:] for way, values in times.items()}


def main(argv=None):
    """Times the three ways; prints medians, writes JSON with `--out`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--rows", type=int, default=70000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    from benchmarks.speed import versus_pytorch

    x, source = versus_pytorch.load_rows(args.data_dir, args.rows)
    times = epoch_seconds(x, args.batch_size, args.rounds)
    medians = {way: common.median(values) for way, values in times.items()}
    for way, value in medians.items():
        print(f"{way:>15}: {value:.2f} s per epoch of {len(x)} rows")
    if args.out:
        common.write_result(
            args.out,
            {"data": source, "batch_size": args.batch_size,
             "seconds": times, "median_seconds": medians},
        )  # fmt: skip


if __name__ == "__main__":
    main()
