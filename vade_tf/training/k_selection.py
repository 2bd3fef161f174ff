"""Choosing the number of clusters K without labels.

VaDE's pretrained autoencoder does not depend on K, so K is chosen on its
latent means before the mixture prior is fitted: every K of a range is
scored by a criterion computed from the latent means alone, and the best
score wins. Labels are never looked at. The criteria, each measured on
data sets of known K in docs/results.md ("Choosing K"):

- `"bic"` (the default): the Bayesian information criterion of a
  full-covariance Gaussian mixture started from k-means, as in
  scikit-learn's model-selection example for `GaussianMixture`. Lower is
  better.
- `"bic_diag"`: the same with diagonal covariances, the family of VaDE's
  own prior. It overestimates K on elongated latent clusters, which a
  diagonal component covers only with several.
- `"silhouette"`: the mean silhouette of the k-means partition, on at most
  `SILHOUETTE_ROWS` rows. Higher is better.
- `"dp"`: a truncated Dirichlet-process mixture
  (`sklearn.mixture.BayesianGaussianMixture`, full covariances, as many
  components as the range's top); K is the number of components that
  hold at least `DP_MIN_SHARE` of the points. It fits once, not once per
  K; its score per K is 1 at the K it found and 0 elsewhere.

Everything here is NumPy and scikit-learn on a `(n_samples, latent_dim)`
array; `vade_tf.workflow.choose_n_clusters` pretrains the model and calls
`choose_n_clusters`.

Example:

```python
z = model.transform(x)          # a pretrained model's latent means
selection = vade_tf.training.k_selection.choose_n_clusters(
    z, (2, 12), random_state=0
)
selection.n_clusters, selection.scores
```
"""

import dataclasses
import re
import time

import numpy as np

# `n_clusters="auto"` (the estimator, `workflow.build_and_train`, the
# command line's `--n-clusters auto`): K chosen by `choose_n_clusters`.
AUTO = "auto"
# The criteria `choose_n_clusters` knows; the first is the default.
CRITERIA = ("bic", "bic_diag", "silhouette", "dp")
DEFAULT_CRITERION = CRITERIA[0]
# The range of K tried by default: from 2 to this, at most one cluster per
# `MIN_ROWS_PER_CLUSTER` rows.
DEFAULT_MAX_CLUSTERS = 20
MIN_ROWS_PER_CLUSTER = 10
# Whether a lower or a higher score is better, per criterion.
LOWER_IS_BETTER = {"bic": True, "bic_diag": True, "silhouette": False}
# Added to the diagonal of each component's covariance, relative to the
# latent means' scaled variance (1 per dimension on average): the latent
# means of a table with fewer features than latent dimensions lie on a
# lower-dimensional surface, whose flat directions need a floor.
REG_COVAR = 1e-4
# The k-means runs that start each mixture of the range.
KMEANS_N_INIT = 10
# The silhouette's cost grows with the square of the rows: a sample.
SILHOUETTE_ROWS = 3000
# A Dirichlet-process component counts as a cluster from this share on.
DP_MIN_SHARE = 0.01


@dataclasses.dataclass
class KSelection:
    """The choice of K and its evidence.

    Attributes:
        n_clusters: int, the K chosen.
        k_values: list of int, every K tried, ascending.
        scores: list of float, the criterion at each K of `k_values`.
        criterion: str, one of `CRITERIA`.
        lower_is_better: bool, the direction of `scores`.
        seconds: float, the time the scores took.
    """

    n_clusters: int
    k_values: list
    scores: list
    criterion: str
    lower_is_better: bool
    seconds: float

    @property
    def k_scores(self):
        """dict `{K: score}`."""
        return dict(zip(self.k_values, self.scores))

    def to_dict(self):
        """A plain dict for JSON (`metrics.json`'s `k_selection`)."""
        return {
            "n_clusters": self.n_clusters,
            "criterion": self.criterion,
            "lower_is_better": self.lower_is_better,
            "k_values": list(self.k_values),
            "scores": [float(s) for s in self.scores],
            "seconds": float(self.seconds),
        }

    def summary(self):
        """One line: the criterion, the choice and every score."""
        best = "lowest" if self.lower_is_better else "highest"
        scores = ", ".join(
            f"{k}: {s:.4g}" for k, s in zip(self.k_values, self.scores)
        )
        return (
            f"K = {self.n_clusters} ({self.criterion}, {best} of K = "
            f"{self.k_values[0]}..{self.k_values[-1]}; {scores})"
        )


def is_auto(n_clusters):
    """True when `n_clusters` asks for K to be chosen (`AUTO`)."""
    return isinstance(n_clusters, str) and n_clusters.lower() == AUTO


def default_k_range(n_samples):
    """`(2, K_max)`: `DEFAULT_MAX_CLUSTERS`, at most `n_samples // 10`.

    Args:
        n_samples: int, the number of rows to cluster.

    Returns:
        Tuple of two ints.
    """
    top = min(DEFAULT_MAX_CLUSTERS, n_samples // MIN_ROWS_PER_CLUSTER)
    return (2, max(2, top))


def parse_k_range(text):
    """Reads a range of K such as `"2:20"` (both ends included) or `"5"`.

    Args:
        text: str.

    Returns:
        Tuple `(k_min, k_max)` of ints.
    """
    match = re.fullmatch(r"\s*(\d+)\s*(?::\s*(\d+)\s*)?", str(text))
    if not match:
        raise ValueError(
            "k_range must be MIN:MAX (both included), for example 2:20. "
            f"Received: {text!r}"
        )
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) else low
    return (low, high)


def check_k_range(k_range, n_samples=None):
    """Checks a range of K and returns its values.

    Args:
        k_range: `(k_min, k_max)` with `2 <= k_min <= k_max`, or `None`
            for `default_k_range(n_samples)`.
        n_samples: int or `None`; with it, `k_max <= n_samples`.

    Returns:
        list of int, `k_min .. k_max`.
    """
    if k_range is None:
        if n_samples is None:
            raise ValueError("k_range=None needs n_samples.")
        k_range = default_k_range(n_samples)
    if isinstance(k_range, str):
        k_range = parse_k_range(k_range)
    try:
        low, high = (int(v) for v in k_range)
        valid = all(float(v) == int(v) for v in k_range)
    except (TypeError, ValueError):
        valid = False
    if not valid or low < 2 or high < low:
        raise ValueError(
            "k_range must be (k_min, k_max) with 2 <= k_min <= k_max, for "
            f"example (2, 20). Received: k_range={k_range!r}"
        )
    if n_samples is not None and high > n_samples:
        raise ValueError(
            f"k_range={low}:{high} reaches above the {n_samples} samples of "
            "the data. Expected at most one cluster per sample: pass a "
            "smaller range."
        )
    return list(range(low, high + 1))


def _scaled(z):
    """`z` centred and divided by its mean per-dimension std (float64)."""
    z = np.asarray(z, dtype="float64")
    z = z - z.mean(axis=0)
    spread = float(np.mean(z.std(axis=0)))
    if not np.isfinite(spread) or spread <= 0:
        raise ValueError(
            "The latent means have no spread (every row is encoded alike), "
            "so no number of clusters can be told from them. Check that the "
            "rows differ and that pretraining converged."
        )
    return z / spread


def _mixture_bic(z, k, covariance_type, random_state):
    from sklearn import cluster, mixture

    kmeans = cluster.KMeans(
        k, n_init=KMEANS_N_INIT, random_state=random_state
    ).fit(z)
    estimator = mixture.GaussianMixture(
        k,
        covariance_type=covariance_type,
        means_init=kmeans.cluster_centers_,
        reg_covar=REG_COVAR,
        random_state=random_state,
    ).fit(z)
    return float(estimator.bic(z))


def _silhouette(z, k, random_state):
    from sklearn import cluster, metrics

    labels = cluster.KMeans(
        k, n_init=KMEANS_N_INIT, random_state=random_state
    ).fit_predict(z)
    rows = np.random.default_rng(random_state).permutation(len(z))
    rows = rows[:SILHOUETTE_ROWS]
    if len(np.unique(labels[rows])) < 2:
        return -1.0
    return float(metrics.silhouette_score(z[rows], labels[rows]))


def _dirichlet_process_k(z, k_max, random_state):
    from sklearn import mixture

    estimator = mixture.BayesianGaussianMixture(
        n_components=k_max,
        covariance_type="full",
        weight_concentration_prior=1.0 / k_max,
        reg_covar=REG_COVAR,
        max_iter=500,
        random_state=random_state,
    ).fit(z)
    counts = np.bincount(estimator.predict(z), minlength=k_max)
    return int(np.sum(counts >= DP_MIN_SHARE * len(z)))


def score_k(z, k_values, criterion=DEFAULT_CRITERION, random_state=0):
    """The criterion at every K, on latent means `z`.

    Args:
        z: array of shape `(n_samples, latent_dim)`, the latent means.
        k_values: sequence of int >= 2.
        criterion: one of `CRITERIA`.
        random_state: int, seeds k-means and the mixtures.

    Returns:
        list of float, one per K (see the module docstring for each
        criterion's direction).
    """
    if criterion not in CRITERIA:
        raise ValueError(
            f"criterion must be one of {CRITERIA}. Received: "
            f"criterion={criterion!r}"
        )
    z = _scaled(z)
    if criterion == "dp":
        found = _dirichlet_process_k(z, max(k_values), random_state)
        return [1.0 if k == found else 0.0 for k in k_values]
    if criterion == "silhouette":
        return [_silhouette(z, k, random_state) for k in k_values]
    covariance = "full" if criterion == "bic" else "diag"
    return [_mixture_bic(z, k, covariance, random_state) for k in k_values]


def choose_n_clusters(
    z, k_range=None, criterion=DEFAULT_CRITERION, random_state=0
):
    """Chooses K for latent means `z` by `criterion`.

    Args:
        z: array of shape `(n_samples, latent_dim)`.
        k_range: `(k_min, k_max)` (both included), a string `"k_min:k_max"`,
            or `None` for `default_k_range(n_samples)`.
        criterion: one of `CRITERIA`.
        random_state: int, seeds k-means and the mixtures.

    Returns:
        A `KSelection`.
    """
    z = np.asarray(z)
    if z.ndim != 2 or not np.all(np.isfinite(z)):
        raise ValueError(
            "z must be a finite array of shape (n_samples, latent_dim). "
            f"Received shape {z.shape}"
            + ("" if z.ndim != 2 else " with non-finite values")
            + "."
        )
    k_values = check_k_range(k_range, n_samples=len(z))
    started = time.perf_counter()
    scores = score_k(z, k_values, criterion, random_state)
    lower = LOWER_IS_BETTER.get(criterion, False)
    pick = np.argmin(scores) if lower else np.argmax(scores)
    return KSelection(
        n_clusters=int(k_values[int(pick)]),
        k_values=k_values,
        scores=[float(s) for s in scores],
        criterion=criterion,
        lower_is_better=lower,
        seconds=time.perf_counter() - started,
    )
