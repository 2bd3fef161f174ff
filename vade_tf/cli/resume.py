"""`--resume RUN_DIR`: the run's saved command, expanded before parsing."""

import json
import os
import sys

from vade_tf.cli import parser, run_folder


def resume_error(command, message):
    """Stops `vade-tf` with one line on stderr and `EXIT_ERROR`, as `main`
    does for bad input (for errors found before the parser runs)."""
    print(f"vade-tf {command}: error: {message}", file=sys.stderr)
    raise SystemExit(parser.EXIT_ERROR)


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
        resume_error(
            argv[0],
            f"--resume {run_dir} continues the run in its own folder; "
            "--out cannot be given with it.",
        )
    path = os.path.join(run_dir, run_folder.COMMAND_FILE)
    try:
        with open(path) as handle:
            record = json.load(handle)
        saved = record["argv"]
    except FileNotFoundError:
        autoencoder = os.path.join(run_dir, "ae.weights.h5")
        if os.path.isfile(autoencoder):
            resume_error(
                argv[0],
                f"--resume {run_dir}: the run stopped before VaDE training "
                "began, so there is nothing to resume. Its pretrained "
                "autoencoder is kept: run the same command again with "
                f"--pretrained {autoencoder} and a new --out.",
            )
        resume_error(
            argv[0],
            f"--resume {run_dir}: no {run_folder.COMMAND_FILE} there (is it "
            "a run folder written by vade-tf train or reproduce?)",
        )
    except (ValueError, KeyError, TypeError) as error:
        resume_error(
            argv[0],
            f"--resume {run_dir}: {path} is not a saved command ({error})",
        )
    if saved[:1] != argv[:1]:
        resume_error(
            argv[0],
            f"{run_dir} was written by `vade-tf {saved[0]}`; resume it with "
            "that command",
        )
    if not record.get(run_folder.MIN_STEPS_KEY):
        # Saved before recipes had minimum steps: its epochs were the
        # recipe's as given, and stay so.
        saved = [*saved, "--min-steps", "0", "--pretrain-min-steps", "0"]
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
    args = parser.build_parser().parse_args(argv)
    if getattr(args, "resume", None):
        index = argv.index("--resume")
        argv = argv[:index] + argv[index + 5 :]
    args.argv = argv
    return args
