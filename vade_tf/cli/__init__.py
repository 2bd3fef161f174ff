"""The `vade-tf` command line: pretrain, train, predict, evaluate, generate,
export, choose.

`vade-tf train --dataset digits` is the main job: it pretrains the
autoencoder, chooses K when the data have no labels, fits the mixture prior
on the latent means, trains VaDE while printing ACC/NMI/ARI each epoch
(with labels), and writes a run folder with the model, the assignments, a
metrics JSON and pictures, with the default recipe ("tuned"; `--recipe
original` for the release's settings). `vade-tf reproduce mnist` is the
same job on all 70,000 images.

One module per part, none importing TensorFlow at import time, so the
parser answers at once: `parser` (the arguments), `resume` (`--resume`),
`inputs` (the data, K, the recipe, the checks before TensorFlow),
`run_folder` (the run's files), `train` (train, reproduce, pretrain) and
`commands` (the others, and `main`).
"""

from vade_tf.cli.commands import COMMANDS, main
from vade_tf.cli.inputs import precheck
from vade_tf.cli.parser import EXIT_ERROR, EXIT_INTERRUPTED, build_parser
from vade_tf.cli.resume import expand_resume, parse_args

__all__ = [
    "COMMANDS",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "build_parser",
    "expand_resume",
    "main",
    "parse_args",
    "precheck",
]
