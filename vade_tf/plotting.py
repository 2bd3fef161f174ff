"""Pictures of a VaDE model: samples per cluster, latent space, curves.

Every function draws on its own `matplotlib.figure.Figure` (no pyplot
state, no display needed) and writes a PNG atomically.
"""

import keras
import numpy as np
from matplotlib.figure import Figure

from vade_tf import fileio
from vade_tf.data.datasets import infer_image_shape


def _save(figure, path, overwrite=False):
    with fileio.atomic_output(path, overwrite=overwrite, suffix=".png") as tmp:
        figure.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    return path


def cluster_order(model, x=None, y=None):
    """Clusters ordered by the label each one matches (Hungarian), if known.

    Args:
        model: a `vade_tf.VaDE`.
        x: array `(N, input_dim)` or `None`.
        y: labels `(N,)` or `None`.

    Returns:
        Tuple `(order, names)`: cluster ids in display order and the row
        titles ("cluster 3 -> 7" with labels, "cluster 3" without).
    """
    from vade_tf import metrics

    clusters = list(range(model.n_clusters))
    if x is None or y is None:
        return clusters, [f"cluster {c}" for c in clusters]
    _, mapping = metrics.cluster_acc(y, model.predict_clusters(x))
    matched = sorted((label, c) for c, label in mapping.items())
    order = [c for _, c in matched] + [c for c in clusters if c not in mapping]
    names = [
        f"cluster {c} -> {mapping[c]}" if c in mapping else f"cluster {c}"
        for c in order
    ]
    return order, names


def plot_cluster_samples(
    model,
    path,
    n_per_cluster=10,
    x=None,
    y=None,
    image_shape=None,
    seed=None,
    min_posterior=None,
    overwrite=False,
):
    """A grid of generated samples, one row per cluster.

    Args:
        model: a `vade_tf.VaDE`.
        path: str, the PNG to write.
        n_per_cluster: int, samples per row.
        x, y: optional data and labels; when both are given the rows follow
            the Hungarian mapping of clusters to labels.
        image_shape: `(height, width)`; by default a square when
            `input_dim` is one, otherwise each sample is drawn as a strip.
        seed: int or `None`.
        min_posterior: passed to `model.generate`.
        overwrite: bool.

    Returns:
        `path`.
    """
    order, names = cluster_order(model, x, y)
    shape = image_shape or infer_image_shape(model.input_dim)
    if shape is None:
        shape = (1, model.input_dim)
    rows = [
        model.generate(
            c,
            n_per_cluster,
            seed=None if seed is None else seed + c,
            min_posterior=min_posterior,
        )
        for c in order
    ]
    aspect = shape[1] / shape[0]
    # Constrained layout places the title right above the first row (the
    # default margins leave a band of blank space under it).
    figure = Figure(
        figsize=(
            min(1.0 * n_per_cluster * aspect, 24) + 1.5,
            max(0.35, min(1.0, 6 / aspect)) * len(order) + 0.4,
        ),
        layout="constrained",
    )
    axes = figure.subplots(len(order), 1, squeeze=False)[:, 0]
    for axis, samples, name in zip(axes, rows, names):
        images = samples.reshape(n_per_cluster, *shape)
        strip = np.concatenate(list(images), axis=1)
        axis.imshow(
            strip,
            cmap="gray_r",
            aspect="auto" if shape[0] == 1 else "equal",
            interpolation="nearest",
        )
        axis.set_xticks([])
        axis.set_yticks([])
        axis.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    figure.suptitle("Samples generated from each cluster", fontsize=10)
    return _save(figure, path, overwrite)


def embed_2d(z, method="pca", random_state=0):
    """Projects latent codes to 2-D with PCA or t-SNE (scikit-learn).

    Args:
        z: array of shape `(N, D)`.
        method: `"pca"` or `"tsne"`.
        random_state: int, seeds the fit.

    Returns:
        Array of shape `(N, 2)`.
    """
    from sklearn import decomposition, manifold

    if z.shape[1] <= 2:
        return np.pad(z, ((0, 0), (0, 2 - z.shape[1])))
    if method == "pca":
        return decomposition.PCA(2, random_state=random_state).fit_transform(z)
    if method == "tsne":
        return manifold.TSNE(
            2, random_state=random_state, init="pca"
        ).fit_transform(z)
    raise ValueError(f"method must be 'pca' or 'tsne'. Received: {method!r}")


def plot_latent(
    model,
    x,
    path,
    y=None,
    method="pca",
    max_points=5000,
    seed=0,
    overwrite=False,
):
    """The latent means in 2-D, coloured by cluster (and by label if given).

    With labels, the figure has two panels that share one colour per label:
    each cluster is drawn in the colour of the label it is matched to (the
    Hungarian mapping of `vade_tf.metrics.cluster_acc`), so equal colours mean
    matched groups; clusters matched to no label get colours of their own.
    Without labels, colours are cluster ids.

    Args:
        model: a `vade_tf.VaDE`.
        x: array `(N, input_dim)`.
        path: str, the PNG to write.
        y: optional labels `(N,)`; adds a second panel coloured by label.
        method: `"pca"` or `"tsne"`.
        max_points: int, a random subset of at most this many points.
        seed: int.
        overwrite: bool.

    Returns:
        `path`.
    """
    rng = np.random.default_rng(seed)
    index = np.arange(len(x))
    if len(x) > max_points:
        index = np.sort(rng.choice(len(x), max_points, replace=False))
    x = np.asarray(x)[index]
    z = model.transform(x)
    clusters = model.predict_clusters(x)
    # Component means go through the same projection as the points.
    means = keras.ops.convert_to_numpy(model.c_mean)
    points = embed_2d(np.concatenate([z, means]), method, random_state=seed)
    z2, means2 = points[: len(z)], points[len(z) :]
    if y is None:
        names = [f"cluster {c}" for c in range(model.n_clusters)]
        panels = [("cluster id", clusters, names)]
    else:
        y = np.asarray(y)[index]
        cluster_colours, label_colours, names = matched_colours(
            clusters, y, model.n_clusters
        )
        panels = [
            ("cluster, in its matched label's colour", cluster_colours, names),
            ("label", label_colours, names),
        ]
    palette = _palette(max(len(names) for _, _, names in panels))
    figure = Figure(figsize=(5.5 * len(panels), 5.3), layout="constrained")
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for axis, (title, colours, names) in zip(axes, panels):
        for value in np.unique(colours):
            chosen = colours == value
            axis.scatter(
                z2[chosen, 0],
                z2[chosen, 1],
                color=palette[value],
                s=4,
                label=names[value],
            )
        if title.startswith("cluster") and method == "pca":
            axis.scatter(
                means2[:, 0],
                means2[:, 1],
                c="black",
                marker="x",
                s=60,
                label="component means",
            )
        axis.legend(loc="best", fontsize=6, markerscale=2, ncols=2)
        axis.set_title(
            f"latent means ({method.upper()}), coloured by {title}",
            fontsize=9,
        )
    return _save(figure, path, overwrite)


def matched_colours(clusters, y, n_clusters):
    """Colour indices under which matched clusters and labels agree.

    Each label gets an index; each cluster takes the index of the label the
    Hungarian mapping (`vade_tf.metrics.cluster_acc`) matches it to, and
    clusters matched to no label get indices after the labels'.

    Args:
        clusters: int array `(N,)`, cluster of each point.
        y: array `(N,)`, label of each point.
        n_clusters: int, K.

    Returns:
        Tuple `(cluster_colours (N,), label_colours (N,), names)`: the
        colour index of each point in the cluster panel and in the label
        panel, and the legend name of each colour index.
    """
    from vade_tf import metrics

    labels = np.unique(y)
    label_index = {label: i for i, label in enumerate(labels)}
    _, mapping = metrics.cluster_acc(y, clusters)
    unmatched = [c for c in range(n_clusters) if c not in mapping]
    cluster_index = {c: label_index[mapping[c]] for c in mapping}
    cluster_index.update({c: len(labels) + i for i, c in enumerate(unmatched)})
    names = [f"label {label}" for label in labels] + [
        f"cluster {c} (unmatched)" for c in unmatched
    ]
    return (
        np.array([cluster_index[c] for c in clusters]),
        np.array([label_index[label] for label in y]),
        names,
    )


def _palette(n_colours):
    """`n_colours` distinct colours: tab10, then tab20, then a hue circle."""
    from matplotlib import colormaps

    if n_colours <= 10:
        return [colormaps["tab10"](i) for i in range(n_colours)]
    if n_colours <= 20:
        return [colormaps["tab20"](i) for i in range(n_colours)]
    return [colormaps["hsv"](i / n_colours) for i in range(n_colours)]


def plot_history(history, path, keys=None, overwrite=False):
    """Training curves from a Keras `History` (or its `.history` dict).

    Args:
        history: `keras.callbacks.History` or dict of lists.
        path: str, the PNG to write.
        keys: the logs to plot; default all, losses and scores apart.
        overwrite: bool.

    Returns:
        `path`.
    """
    logs = getattr(history, "history", history)
    keys = keys or list(logs)
    scores = [k for k in keys if k.split("_")[-1] in ("acc", "nmi", "ari")]
    losses = [
        k
        for k in keys
        if k not in scores
        and k not in ("learning_rate", "elapsed")
        and not k.endswith("fraction")
    ]
    panels = [p for p in (("loss", losses), ("clustering", scores)) if p[1]]
    if not panels:
        raise ValueError(f"Nothing to plot among keys {keys}.")
    figure = Figure(figsize=(5.5 * len(panels), 4))
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for axis, (title, names) in zip(axes, panels):
        for name in names:
            # An epoch without the value (None) is a gap in the line.
            values = np.array(
                [np.nan if v is None else v for v in logs[name]], "float64"
            )
            axis.plot(np.arange(1, len(values) + 1), values, label=name)
        axis.set_xlabel("epoch")
        axis.set_title(title)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    return _save(figure, path, overwrite)


def plot_k_selection(selection, path, overwrite=False):
    """The criterion of every K tried, the chosen K marked.

    Args:
        selection: a `vade_tf.training.k_selection.KSelection`.
        path: str, the PNG to write.
        overwrite: bool.

    Returns:
        `path`.
    """
    figure = Figure(figsize=(6, 3.8))
    axis = figure.subplots()
    axis.plot(selection.k_values, selection.scores, marker="o", lw=1.5)
    chosen = selection.k_values.index(selection.n_clusters)
    axis.plot(
        [selection.n_clusters],
        [selection.scores[chosen]],
        marker="o",
        ms=14,
        mfc="none",
        mec="tab:red",
        mew=2,
        label=f"chosen: K = {selection.n_clusters}",
    )
    axis.axvline(selection.n_clusters, color="tab:red", lw=0.8, ls="--")
    direction = "lower" if selection.lower_is_better else "higher"
    axis.set_xlabel("number of clusters K")
    axis.set_ylabel(f"{selection.criterion} ({direction} is better)")
    axis.set_xticks(selection.k_values)
    axis.set_title("Choosing K on the pretrained latent means (no labels)")
    axis.grid(alpha=0.3)
    axis.legend()
    return _save(figure, path, overwrite)


def plot_cluster_profiles(
    x, clusters, path, n_clusters, feature_names=None, overwrite=False
):
    """Tables: each cluster's mean of each feature, standardised, and sizes.

    Each cell is a cluster's mean of a feature in units of the feature's
    standard deviation over all rows (0 is the overall mean), so features
    of any scale share one colour scale. A bar beside each row gives the
    cluster's size.

    Args:
        x: array of shape `(n_samples, n_features)`, in the user's units.
        clusters: int array of shape `(n_samples,)`.
        path: str, the PNG to write.
        n_clusters: int, K (empty clusters get an empty row).
        feature_names: list of `n_features` str, or `None` for `x0, x1, ...`.
        overwrite: bool.

    Returns:
        `path`.
    """
    x = np.asarray(x, dtype="float64")
    n_features = x.shape[1]
    names = list(feature_names or [f"x{i}" for i in range(n_features)])
    spread = x.std(axis=0)
    z = (x - x.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    sizes = np.bincount(clusters, minlength=n_clusters)
    means = np.full((n_clusters, n_features), np.nan)
    for c in np.flatnonzero(sizes):
        means[c] = z[clusters == c].mean(axis=0)
    # Too many features to name one by one: the most distinct ones.
    shown = np.arange(n_features)
    limit = 60
    if n_features > limit:
        spread_between = np.nan_to_num(np.nanstd(means, axis=0))
        shown = np.sort(np.argsort(-spread_between)[:limit])
    width = min(2 + 0.3 * len(shown), 22)
    figure = Figure(figsize=(width + 4.0, 1.6 + 0.35 * n_clusters))
    grid = figure.add_gridspec(
        1, 4, width_ratios=[width, 0.2, 0.5, 2.2], wspace=0.05
    )
    heat, bars = figure.add_subplot(grid[0]), figure.add_subplot(grid[3])
    limit_value = max(1.0, float(np.nanmax(np.abs(means[:, shown]))))
    image = heat.imshow(
        means[:, shown],
        aspect="auto",
        cmap="RdBu_r",
        vmin=-limit_value,
        vmax=limit_value,
        interpolation="nearest",
    )
    heat.set_yticks(range(n_clusters))
    heat.set_yticklabels([f"cluster {c}" for c in range(n_clusters)])
    heat.set_xticks(range(len(shown)))
    heat.set_xticklabels([names[i] for i in shown], rotation=60, ha="right")
    title = "feature means per cluster (standardised)"
    if len(shown) < n_features:
        title += f": the {len(shown)} of {n_features} most distinct"
    heat.set_title(title)
    colourbar = figure.colorbar(image, cax=figure.add_subplot(grid[1]))
    colourbar.set_label("std from the mean", labelpad=2)
    bars.barh(range(n_clusters), sizes, color="0.6")
    bars.set_ylim(heat.get_ylim())
    bars.set_yticks([])
    bars.set_xlabel("rows")
    bars.set_title("cluster size")
    for c, size in enumerate(sizes):
        bars.text(size, c, f" {size} ({size / max(1, len(x)):.0%})",
                  va="center", fontsize=8)
    bars.set_xlim(0, max(1, sizes.max()) * 1.45)
    return _save(figure, path, overwrite)
