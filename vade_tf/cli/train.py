"""`vade-tf train`, `reproduce` and `pretrain`: the workflow of
`vade_tf.workflow` with its run folder, K given or chosen, and resume.
"""

import dataclasses
import math
import os
import sys
import time

from vade_tf import choices, validation
from vade_tf.cli import inputs, run_folder
from vade_tf.training import k_selection, recipes


def run_pretrain(args):
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
    import keras

    from vade_tf import workflow
    from vade_tf.training import compilation

    keras.utils.set_random_seed(args.seed)
    x, y, name, loaded = inputs.load_data(args)
    image_shape = inputs.image_shape_of(args, name, loaded)
    recipe = recipes.recipe_for_data(
        inputs.recipe_from_args(args),
        len(x),
        image_shape,
        getattr(args, "likelihood", None),
    )
    inputs.describe_data(args, x, y, name, loaded)
    n_clusters, reason = inputs.decide_n_clusters(args, x, y)
    inputs.announce_n_clusters(args, n_clusters, reason, len(x))
    writer = run_folder.StageReporter(
        x, y, recipe, args.out, args, image_shape, args.overwrite
    )
    args.pretrain_writer = writer  # for the report of an interruption
    jit_compile = False if args.no_xla else compilation.JIT_COMPILE
    model, probe, _ = model_for_k(
        args, x, n_clusters, reason, recipe, image_shape, jit_compile, writer
    )
    workflow.prepare(
        model,
        x,
        recipe,
        pretrained=probe,
        image_shape=image_shape,
        random_state=args.seed,
        jit_compile=jit_compile,
        verbose=inputs.verbosity_of(args),
        on_stage=writer,
    )
    print(f"wrote {args.out}")
    return 0


def model_for_k(
    args,
    x,
    n_clusters,
    reason,
    recipe,
    image_shape,
    jit_compile,
    on_stage,
    pretrained=None,
    probe=None,
):
    """The model to train, with K given or chosen without labels.

    With K given, a new model. With "auto", a model pretrained first
    (`workflow.choose_n_clusters`, which reports "pretrained" to
    `on_stage`), K chosen on its latent means, and a model of that K to
    take its autoencoder (`workflow.train(..., pretrained=probe)`).

    Returns:
        Tuple `(model, probe or None, KSelection or None)`.
    """
    from vade_tf import workflow

    if not k_selection.is_auto(n_clusters):
        return inputs.build_model(args, x, n_clusters), None, None
    low, high = inputs.k_range_of(args, len(x))
    probe = probe or inputs.build_model(args, x, low)
    selection, _ = workflow.choose_n_clusters(
        probe,
        x,
        recipe,
        k_range=(low, high),
        criterion=args.k_criterion,
        pretrained=pretrained,
        image_shape=image_shape,
        random_state=args.seed,
        jit_compile=jit_compile,
        verbose=inputs.verbosity_of(args),
        on_stage=on_stage,
    )
    print(f"Clusters {selection.summary()}", flush=True)
    return inputs.build_model(args, x, selection.n_clusters), probe, selection


def run_train(args):
    # `reproduce` shares this command and has no --strategy.
    strategy_name = getattr(args, "strategy", choices.STRATEGIES[0])
    cpu_replicas = getattr(args, "cpu_replicas", None)
    if cpu_replicas is not None and (
        cpu_replicas < 1 or strategy_name != "mirrored"
    ):
        raise ValueError(
            "--cpu-replicas needs --strategy mirrored and a count >= 1. "
            f"Received: --cpu-replicas {cpu_replicas} with --strategy "
            f"{strategy_name}."
        )
    if strategy_name == choices.STRATEGIES[0]:
        return _run_train(args)
    if strategy_name == "multiworker" and args.resume:
        raise ValueError(
            "--resume is not available with --strategy multiworker: the "
            "checkpoint holds one process's state. Received: --resume "
            f"{args.resume} --strategy multiworker."
        )
    # The strategy comes first: TensorFlow must not have run an operation.
    from vade_tf.training import distribute

    strategy = distribute.make_strategy(
        strategy_name, cpu_replicas=cpu_replicas
    )
    print(
        f"Training under {type(strategy).__name__} with "
        f"{strategy.num_replicas_in_sync} replicas in sync",
        flush=True,
    )
    temporary = None
    if not distribute.is_chief(strategy):
        # A worker other than the chief trains the same model in step with
        # it but writes its run folder to a temporary place, removed at the
        # end: the chief's --out is the run's result.
        import tempfile

        temporary = args.out = tempfile.mkdtemp(prefix="vade-tf-worker-")
        args.overwrite = True
    try:
        with strategy.scope():
            return _run_train(args)
    finally:
        if temporary:
            import shutil

            shutil.rmtree(temporary, ignore_errors=True)
            if not os.path.exists(temporary):
                print(
                    f"removed {temporary}: this worker's copy; the chief's "
                    "--out holds the run",
                    flush=True,
                )


@dataclasses.dataclass
class TrainSetup:
    """What `train` read and decided before any training (all checked).

    Attributes:
        x, y: the data and labels (or `None`).
        name: str, the data's name.
        loaded: the `--data` file's description, or `None`.
        image_shape: the images' shape, or `None`.
        recipe: the `Recipe`.
        out: str, the run folder.
        n_clusters: int, or "auto".
        k_reason: str, where K comes from.
        jit_compile: the XLA setting.
        model: the model to train (the checkpoint's when resuming; with K
            chosen, the one that pretrains first).
        pretrained: `None` or the autoencoder weights to load.
    """

    x: object
    y: object
    name: str
    loaded: object
    image_shape: object
    recipe: object
    out: str
    n_clusters: object
    k_reason: str
    jit_compile: object
    model: object
    pretrained: object


@validation.checks_once  # the data are checked here, not again
def _run_train(args):
    import keras

    keras.utils.set_random_seed(args.seed)
    setup = _set_up(args)
    # --overwrite: an earlier run's files go, so none of them (its
    # checkpoint above all) passes for this run's.
    if not args.resume:
        run_folder.remove_run_files(setup.out, keep=setup.pretrained)
    created = not os.path.isdir(setup.out)
    os.makedirs(setup.out, exist_ok=True)
    args.run_folder = setup.out
    epoch_callbacks = _epoch_callbacks(args, setup)
    try:
        if args.resume:
            model, result, on_stage, selection = _resume(
                args, setup, epoch_callbacks
            )
        else:
            model, result, on_stage, selection = _train(
                args, setup, epoch_callbacks
            )
    except Exception:
        # A failure before anything was written (a bad weights file, say)
        # leaves no empty run folder behind.
        if created and not os.listdir(setup.out):
            os.rmdir(setup.out)
        raise
    _write_outputs(args, setup, model, result, on_stage, selection)
    return 0


def _set_up(args):
    """Reads the data and checks every option before the folder exists: a
    bad K, option or likelihood writes nothing."""
    from vade_tf.training import compilation

    x, y, name, loaded = inputs.load_data(args)
    image_shape = inputs.image_shape_of(args, name, loaded)
    recipe = inputs.recipe_from_args(args)
    out = run_folder.make_run_folder(args, name)
    n_clusters, k_reason = inputs.decide_n_clusters(args, x, y)
    inputs.describe_data(args, x, y, name, loaded)
    pretrained = None if args.resume else args.pretrained
    if args.resume:
        model = _checkpoint_to_resume(out)
    else:
        inputs.announce_n_clusters(args, n_clusters, k_reason, len(x))
        # With K chosen, this is the model that pretrains first
        # (`model_for_k`'s probe).
        first_k = (
            inputs.k_range_of(args, len(x))[0]
            if k_selection.is_auto(n_clusters)
            else n_clusters
        )
        model = inputs.build_model(args, x, first_k)
        validation.check_model_input(model, x, clusters=True, streamed=False)
    if pretrained == "shipped":
        from vade_tf import shipped

        pretrained = shipped.autoencoder_weights(name)
    # The epochs the run trains: raised to the recipe's minimum steps.
    recipe = recipes.recipe_for_data(
        recipe, len(x), image_shape, model.likelihood
    )
    return TrainSetup(
        x=x,
        y=y,
        name=name,
        loaded=loaded,
        image_shape=image_shape,
        recipe=recipe,
        out=out,
        n_clusters=n_clusters,
        k_reason=k_reason,
        jit_compile=False if args.no_xla else compilation.JIT_COMPILE,
        model=model,
        pretrained=pretrained,
    )


def _checkpoint_to_resume(out):
    checkpoint = os.path.join(out, "checkpoint.keras")
    autoencoder = os.path.join(out, "ae.weights.h5")
    if not os.path.exists(checkpoint) and os.path.exists(autoencoder):
        raise FileNotFoundError(
            f"No checkpoint.keras in {out}: the run stopped before its "
            "first VaDE epoch ended, so there is nothing to resume. Its "
            "pretrained autoencoder is kept: run the same command again "
            f"with --pretrained {autoencoder} and a new --out."
        )
    return inputs.load_model(checkpoint)


def _epoch_callbacks(args, setup):
    import keras

    from vade_tf.training import callbacks

    out = setup.out
    started = getattr(args, "started", None) or time.time()
    return [
        # The command is saved for --resume once VaDE training begins, that
        # is after every check of the data, the model and the options: a
        # command that fails leaves the saved one (and the folder) alone.
        keras.callbacks.LambdaCallback(
            on_train_begin=lambda logs: run_folder.write_json(
                os.path.join(out, run_folder.COMMAND_FILE),
                {
                    "argv": args.argv,
                    "seed": args.seed,
                    run_folder.MIN_STEPS_KEY: True,
                },
                overwrite=True,
            )
        ),
        callbacks.CollapseMonitor(
            setup.x,
            report=lambda message: print(f"warning: {message}", flush=True),
        ),
        # history.csv's `elapsed`: seconds from the command's start to the
        # epoch's end, pretraining and the mixture's start included.
        keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: logs.__setitem__(
                "elapsed", round(time.time() - started, 2)
            )
        ),
        callbacks.HistoryCSV(
            os.path.join(out, "history.csv"), append=bool(args.resume)
        ),
        callbacks.Checkpoint(
            os.path.join(out, "checkpoint.keras"),
            min_interval=run_folder.CHECKPOINT_INTERVAL,
        ),
    ]


def _next_step(recipe):
    return f"Training VaDE ({recipe.name} recipe, {recipe.epochs} epochs)"


def _resume(args, setup, epoch_callbacks):
    """Continues the checkpoint; a run stopped in its final writes (its
    epochs all done) only gets its outputs written."""
    from vade_tf import workflow

    model, recipe, x = setup.model, setup.recipe, setup.x
    on_stage = run_folder.StageReporter(
        x, setup.y, recipe, next_step=_next_step(recipe)
    )
    steps = workflow.attempted_steps(model)
    print(
        f"Resuming {setup.out} from checkpoint.keras (after {steps} steps)",
        flush=True,
    )
    finished = steps // math.ceil(len(x) / recipe.batch_size)
    if finished < recipe.epochs:
        result = workflow.resume(
            model,
            x,
            recipe,
            y=setup.y,
            random_state=args.seed,
            callbacks=epoch_callbacks,
            verbose=inputs.verbosity_of(args),
        )
        return model, result, on_stage, None
    print(
        f"The checkpoint has finished {finished} of {recipe.epochs} epochs: "
        "writing the run's outputs",
        flush=True,
    )
    result = workflow.TrainResult(
        model=model,
        recipe=recipe,
        pretrain_recipe=None,
        history={},
        pretrain_history={},
        mixture=None,
        timings={"train": 0.0},
    )
    return model, result, on_stage, None


def _train(args, setup, epoch_callbacks):
    """Pretrains (or loads the autoencoder), chooses K when asked, trains."""
    from vade_tf import plotting, workflow

    x, y, recipe = setup.x, setup.y, setup.recipe
    if setup.pretrained:
        print(f"Loading the autoencoder from {setup.pretrained}", flush=True)
        on_stage = run_folder.StageReporter(
            x, y, recipe, next_step=_next_step(recipe)
        )
    else:
        pretrain_recipe = recipes.resolve_pretrain_recipe(
            recipe, setup.image_shape, setup.model.likelihood
        )
        print(
            f"Pretraining the autoencoder on {setup.name} {x.shape} "
            f"({recipe.pretrain_epochs} epochs, {pretrain_recipe} recipe)",
            flush=True,
        )
        on_stage = run_folder.StageReporter(
            x,
            y,
            recipe,
            os.path.join(setup.out, "ae.weights.h5"),
            args,
            setup.image_shape,
            overwrite=True,
            next_step=_next_step(recipe),
        )
    model, probe, selection = setup.model, None, None
    if k_selection.is_auto(setup.n_clusters):
        model, probe, selection = model_for_k(
            args,
            x,
            setup.n_clusters,
            setup.k_reason,
            recipe,
            setup.image_shape,
            setup.jit_compile,
            on_stage,
            pretrained=setup.pretrained,
            probe=model,
        )
        plotting.plot_k_selection(
            selection,
            os.path.join(setup.out, "k_selection.png"),
            overwrite=True,
        )
    result = workflow.train(
        model,
        x,
        recipe,
        y=y,
        pretrained=probe or setup.pretrained,
        image_shape=setup.image_shape,
        random_state=args.seed,
        callbacks=epoch_callbacks,
        jit_compile=setup.jit_compile,
        verbose=inputs.verbosity_of(args),
        on_stage=on_stage,
    )
    return model, result, on_stage, selection


def _starts_record(starts):
    """`metrics.json`'s record of several starts (printed too), or `None`."""
    if starts is None:
        return None
    elbo = " ".join(f"{value:.3f}" for value in starts.elbo)
    print(
        f"starts  ELBO after {starts.epochs} epochs: {elbo}; kept start "
        f"{starts.chosen} (mixture seed {starts.seeds[starts.chosen]})"
    )
    return {
        "seeds": starts.seeds,
        "elbo": starts.elbo,
        "chosen": starts.chosen,
        "epochs": starts.epochs,
    }


def _write_outputs(args, setup, model, result, on_stage, selection):
    """The run's files: model, assignments, metrics and pictures."""
    from vade_tf import assignments, fileio, plotting

    x, y, out = setup.x, setup.y, setup.out
    starts = _starts_record(result.starts)
    probabilities = model.predict_proba(x)
    final = inputs.score_clusters(model, x, y, probabilities)
    print(f"VaDE    {inputs.format_scores(final)}")
    if final["min_cluster_fraction"] < 0.01:
        print(
            "warning: collapsed clusters: the smallest cluster holds "
            f"{final['min_cluster_fraction']:.2%} of the points (< 1%)."
        )
    with fileio.atomic_output(
        os.path.join(out, "model.keras"), overwrite=True, suffix=".keras"
    ) as tmp:
        model.save(tmp)
    assignments.write_assignments(
        os.path.join(out, "clusters.csv"),
        probabilities,
        proba=args.proba,
        overwrite=True,
    )
    history, ae_gmm = result.history, on_stage.scores
    pretrain_recipe = result.pretrain_recipe
    if args.resume:
        # The whole run's epochs and its start, not only the resumed part.
        history = (
            run_folder.read_history_csv(os.path.join(out, "history.csv"))
            or history
        )
        ae_gmm, pretrain_recipe = run_folder.pretraining_record(out)
    run_folder.write_json(
        os.path.join(out, "metrics.json"),
        {
            "command": " ".join(sys.argv),
            "data": setup.name,
            "n_samples": int(len(x)),
            "n_clusters": model.n_clusters,
            **run_folder.k_record(out, selection, setup.k_reason, args.resume),
            "recipe": result.recipe.to_dict(),
            "pretrain_recipe": pretrain_recipe,
            "config": model.get_config(),
            "ae_gmm": ae_gmm,
            "vade": final,
            "timings": {f"{k}_seconds": v for k, v in result.timings.items()},
            "resumed": bool(args.resume),
            "starts": starts,
            "history": history,
        },
        overwrite=True,
    )
    # The run folder was checked at the start: its files are this run's.
    plotting.plot_latent(
        model, x, os.path.join(out, "latent.png"), y=y, overwrite=True
    )
    if run_folder.rows_are_images(x, setup.image_shape):
        plotting.plot_cluster_samples(
            model,
            os.path.join(out, "samples.png"),
            x=x,
            y=y,
            image_shape=setup.image_shape,
            seed=args.seed,
            overwrite=True,
        )
    else:
        plotting.plot_cluster_profiles(
            x,
            probabilities.argmax(axis=1),
            os.path.join(out, "profiles.png"),
            model.n_clusters,
            feature_names=setup.loaded.feature_names if setup.loaded else None,
            overwrite=True,
        )
    plotting.plot_history(
        history, os.path.join(out, "history.png"), overwrite=True
    )
    reused = setup.pretrained or args.resume
    written = [
        name
        for name in run_folder.RUN_FILES
        if os.path.isfile(os.path.join(out, name))
        and not (name.startswith("ae.") and reused)
    ]
    print(f"wrote {out}/: {' '.join(written)}")
