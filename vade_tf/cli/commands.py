"""The small commands (`evaluate`, `generate`, `predict`, `export`,
`choose`) and
`main`, the entry point that runs any command with one-line errors.
"""

import json
import sys
import time

from vade_tf.cli import inputs, parser, resume, run_folder, train
from vade_tf.data import datasets


def run_evaluate(args):
    model = inputs.load_model(args.model)
    x, y, name, _ = inputs.load_data(args)
    scores = inputs.score_clusters(model, x, y)
    print(f"{name}: {inputs.format_scores(scores)}")
    print(json.dumps(scores))
    return 0


def run_generate(args):
    from vade_tf import plotting

    model = inputs.load_model(args.model)
    x = y = None
    if args.dataset or args.data:
        x, y, _, _ = inputs.load_data(args)
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
    model = inputs.load_model(args.model)
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

    model = inputs.load_model(args.model)
    path = export.export_saved_model(
        model, args.out, version=args.version, overwrite=args.overwrite
    )
    print(f"wrote {path}")
    return 0


# Fewest runs `choose` compares: with two, each agrees with the other alike.
MIN_RUNS_TO_CHOOSE = 3


def run_choose(args):
    """`vade-tf choose`: prints each run's agreement with the others and the
    run chosen (`vade_tf.metrics.agreement`); returns the exit status."""
    import os

    import numpy as np

    from vade_tf import assignments, metrics

    paths = [os.path.realpath(run) for run in args.runs]
    repeated = sorted(
        {run for run, p in zip(args.runs, paths) if paths.count(p) > 1}
    )
    if repeated:
        raise ValueError(
            "choose compares different runs; each run must be given once. "
            f"Received more than once: {', '.join(repeated)}."
        )
    if len(args.runs) < MIN_RUNS_TO_CHOOSE:
        raise ValueError(
            f"choose needs at least {MIN_RUNS_TO_CHOOSE} runs (with two, "
            f"each agrees with the other alike). Received {len(args.runs)}."
        )
    labelings = [assignments.read_clusters(run) for run in args.runs]
    rows = {len(labels) for labels in labelings}
    if len(rows) > 1:
        counts = ", ".join(
            f"{run}: {len(labels)}" for run, labels in zip(args.runs, labelings)
        )
        raise ValueError(
            "The runs must cluster the same rows, in the same order. "
            f"Received different numbers of rows ({counts})."
        )
    scores = metrics.agreement(labelings)
    chosen = int(np.argmax(scores))
    print("mean NMI with the other runs, clusters used, run:")
    for index, (run, score, labels) in enumerate(
        zip(args.runs, scores, labelings)
    ):
        mark = "  <- chosen" if index == chosen else ""
        print(f"  {score:.4f}  K = {len(np.unique(labels)):>3}  {run}{mark}")
    tied = np.flatnonzero(np.isclose(scores, scores[chosen], atol=1e-12))
    if len(tied) > 1:
        print(
            f"note: {len(tied)} runs agree equally ("
            + ", ".join(args.runs[i] for i in tied)
            + "); the first is chosen"
        )
    print(
        f"chosen: {args.runs[chosen]} (its clusters agree most with the "
        "others'; labels are not read)"
    )
    return 0


COMMANDS = {
    "pretrain": train.run_pretrain,
    "train": train.run_train,
    "reproduce": train.run_train,
    "evaluate": run_evaluate,
    "generate": run_generate,
    "predict": run_predict,
    "export": run_export,
    "choose": run_choose,
}


def main(argv=None, preloaded=None, started=None):
    """Entry point of `vade-tf`; returns the exit status.

    Args:
        argv: list of str, or `None` for `sys.argv[1:]`.
        preloaded: `None`, or the `--data` file as `inputs.precheck` read it.
        started: float or `None`: the `time.time()` the command started at
            (the console script's own start; `None`: now). history.csv's
            `elapsed` column counts from it.
    """
    args = resume.parse_args(argv)
    args.preloaded = preloaded
    args.started = time.time() if started is None else started
    try:
        policy = getattr(args, "dtype_policy", None)
        if policy is None:
            return COMMANDS[args.command](args)
        # Restored after: `main` may run in a process that goes on.
        from vade_tf.model import vade as vade_model

        with vade_model.dtype_policy_scope(policy):
            return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        report = run_folder.interrupt_report(args)
        print(
            f"\nvade-tf {args.command}: interrupted; {report}",
            file=sys.stderr,
        )
        return parser.EXIT_INTERRUPTED
    except (
        ValueError,
        FileNotFoundError,
        FileExistsError,
        OSError,
        ImportError,  # an optional extra missing, for example anndata
        FloatingPointError,  # training diverged (`workflow.select_start`)
    ) as error:
        print(f"vade-tf {args.command}: error: {error}", file=sys.stderr)
        return parser.EXIT_ERROR
