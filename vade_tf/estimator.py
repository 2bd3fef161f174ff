"""`VaDEClustering`: VaDE as a scikit-learn clustering estimator.

`fit` runs VaDE's whole workflow (pretrain the autoencoder, fit the mixture
prior on its latent means, train on the ELBO), so VaDE works with
`sklearn.pipeline.Pipeline`, `sklearn.base.clone` and model selection. The
`keras.Model` it trains is kept as `model_` for everything else (sampling,
saving, export).
"""

import numbers

import keras
import numpy as np
from keras import ops
from sklearn import base
from sklearn.utils import validation as sklearn_validation

from vade_tf import callbacks, layers, pretraining
from vade_tf import model as vade_model

# `validate_data` is public from scikit-learn 1.6; older versions have the
# `BaseEstimator._validate_data` method instead.
_validate_data = getattr(sklearn_validation, "validate_data", None)

LIKELIHOODS = ("auto", "bernoulli", "gaussian")
GMM_INITS = ("gmm", "kmeans")
# Rows per forward pass in `predict_proba`, `transform` and `score`.
INFERENCE_BATCH_SIZE = 1000
# Seeds the draws of z in `score`, which makes it a function of the data.
SCORE_SEED = 0
# Values this close to [0, 1] count as inside it: the rounding errors of
# a scaler (`MinMaxScaler` on float32 data gives maxima of 1.0000002).
UNIT_INTERVAL_TOLERANCE = 1e-6


class VaDEClustering(
    base.ClassNamePrefixFeaturesOutMixin,
    base.TransformerMixin,
    base.ClusterMixin,
    base.BaseEstimator,
):
    """Variational Deep Embedding clustering with a scikit-learn interface.

    `fit(X)` builds a `vade_tf.VaDE`, pretrains its autoencoder for
    `pretrain_epochs`, fits a Gaussian mixture (or k-means) on the latent
    means, then trains VaDE for `epochs` with two
    `Adam(learning_rate, epsilon=1e-4)` optimizers, as in the original
    release. `predict` gives the most probable cluster under q(c|x),
    `predict_proba` q(c|x) itself, `transform` (and `fit_transform`) the
    latent means, so VaDE can also be the embedding step of a pipeline, and
    `score` the mean ELBO per sample.

    The constructor only stores its arguments; they are checked in `fit`.

    Args:
        n_clusters: int >= 2, the number of mixture components K; at most
            the number of samples.
        latent_dim: int >= 1, the latent dimension D.
        hidden_dims: sequence of ints, the encoder's hidden widths; the
            decoder mirrors them.
        likelihood: `"auto"`, `"bernoulli"` or `"gaussian"`. `"auto"` picks
            bernoulli when every value of `X` is in [0, 1] and gaussian
            otherwise; the choice is stored in `likelihood_`. For
            bernoulli, values within 1e-6 of [0, 1] (a scaler's rounding)
            are moved onto it in `fit` and `score`.
        alpha: float > 0, the weight of the reconstruction term.
        gamma_mode: `"exact"` or `"original"`; see
            `vade_tf.layers.GMMPosterior`.
        pretrain_epochs: int >= 0, autoencoder epochs; 0 skips pretraining
            (rarely useful: VaDE then tends to collapse into few clusters).
        pretrain_recipe: `"adam"`, `"dec"` or `"augment"` (images); see
            `vade_tf.pretraining.recipe_settings`.
        pretrain_batch_size: int or `None` for the recipe's batch size.
        epochs: int >= 1, VaDE training epochs.
        batch_size: int >= 1, VaDE training batch size.
        learning_rate: float > 0, the initial rate of both optimizers.
        lr_decay: bool, add `vade_tf.callbacks.StepDecay` (x0.9 every 10
            epochs, floor 0.0002).
        gmm_init: `"gmm"` or `"kmeans"`, how the mixture prior starts; see
            `VaDE.initialize_gmm`.
        gmm_n_init: int >= 1, initialisations tried by that fit.
        random_state: int, `numpy.random.RandomState` or `None`. When given,
            `fit` calls `keras.utils.set_random_seed` (which seeds Python's,
            NumPy's and TensorFlow's global generators) and seeds the model,
            so two fits give the same model.
        jit_compile: bool, compile the training steps with XLA. Faster on
            large data; on small data the compile time dominates.
        verbose: int, Keras' verbosity in pretraining and training (0
            silent, 1 progress bar, 2 one line per epoch).

    Attributes:
        model_: the trained `vade_tf.VaDE`.
        labels_: int array of shape `(n_samples,)`, the clusters of the
            training data.
        history_: dict mapping each training metric (`loss`,
            `reconstruction`, `kl`, `learning_rate` with `lr_decay`) to a
            list with one float per epoch.
        pretrain_history_: the same for pretraining (empty when skipped).
        n_iter_: int, the number of training epochs run.
        likelihood_: str, the likelihood used (`"auto"` resolved).
        n_features_in_: int, the number of features seen in `fit`.
        feature_names_in_: array of shape `(n_features_in_,)`, set when `X`
            has string column names (a pandas DataFrame).

    Notes:
        - `n_clusters=1` is rejected: a one-component mixture prior makes
          VaDE a plain VAE, which clusters nothing. Several of
          scikit-learn's generic estimator checks set `n_clusters=1` before
          fitting (`check_dont_overwrite_parameters`,
          `check_fit2d_predict1d`, `check_methods_subset_invariance`,
          `check_fit2d_1feature`), so they fail with that `ValueError`;
          this package's tests check the same properties at
          `n_clusters=2`.
        - The networks compute in float32: `transform` and `predict_proba`
          return float32 arrays whatever the input's dtype, and results
          for one sample may differ from those for the same sample inside
          a larger batch by float32 rounding (about 1e-7).
        - `score` draws z once per sample, as training does, from a fixed
          seed: the same model and data give the same score.
        - Reproducibility: with `random_state` set, two fits on the same
          data on the same machine give the same model. `fit` then reseeds
          the global Python, NumPy and TensorFlow generators.

    Example:

    ```python
    from sklearn import pipeline, preprocessing

    x, y = vade_tf.datasets.load_dataset("digits")
    clustering = pipeline.make_pipeline(
        preprocessing.MinMaxScaler(),
        vade_tf.VaDEClustering(n_clusters=10, random_state=0),
    )
    labels = clustering.fit_predict(x)
    acc, _ = vade_tf.metrics.cluster_acc(y, labels)
    ```
    """

    def __init__(
        self,
        n_clusters=10,
        latent_dim=10,
        hidden_dims=(500, 500, 2000),
        likelihood="auto",
        alpha=1.0,
        gamma_mode="exact",
        pretrain_epochs=50,
        pretrain_recipe="adam",
        pretrain_batch_size=None,
        epochs=50,
        batch_size=100,
        learning_rate=0.002,
        lr_decay=True,
        gmm_init="gmm",
        gmm_n_init=10,
        random_state=None,
        jit_compile=True,
        verbose=0,
    ):
        self.n_clusters = n_clusters
        self.latent_dim = latent_dim
        self.hidden_dims = hidden_dims
        self.likelihood = likelihood
        self.alpha = alpha
        self.gamma_mode = gamma_mode
        self.pretrain_epochs = pretrain_epochs
        self.pretrain_recipe = pretrain_recipe
        self.pretrain_batch_size = pretrain_batch_size
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.lr_decay = lr_decay
        self.gmm_init = gmm_init
        self.gmm_n_init = gmm_n_init
        self.random_state = random_state
        self.jit_compile = jit_compile
        self.verbose = verbose

    # --- Fitting -----------------------------------------------------------

    def fit(self, X, y=None):
        """Pretrains, initialises the mixture and trains VaDE on `X`.

        Args:
            X: array-like of shape `(n_samples, n_features)`, with
                `n_samples >= n_clusters`.
            y: ignored, present for API consistency.

        Returns:
            The fitted estimator, `self`.
        """
        X = self._validate(X, reset=True)
        self._check_params(n_samples=X.shape[0])
        likelihood = self.likelihood
        if likelihood == "auto":
            in_unit_interval = (
                X.min() >= -UNIT_INTERVAL_TOLERANCE
                and X.max() <= 1.0 + UNIT_INTERVAL_TOLERANCE
            )
            likelihood = "bernoulli" if in_unit_interval else "gaussian"
        x_train = _snap_to_unit_interval(X) if likelihood == "bernoulli" else X
        seed = _seed_from_random_state(self.random_state)
        if seed is not None:
            keras.utils.set_random_seed(seed)

        model = vade_model.VaDE(
            input_dim=X.shape[1],
            n_clusters=int(self.n_clusters),
            latent_dim=int(self.latent_dim),
            hidden_dims=tuple(int(width) for width in self.hidden_dims),
            likelihood=likelihood,
            alpha=float(self.alpha),
            gamma_mode=self.gamma_mode,
            seed=seed,
        )
        pretrain_history = {}
        if self.pretrain_epochs:
            pretrain_history = model.pretrain(
                x_train,
                epochs=int(self.pretrain_epochs),
                batch_size=self.pretrain_batch_size,
                recipe=self.pretrain_recipe,
                jit_compile=self.jit_compile,
                verbose=self.verbose,
            ).history
        model.initialize_gmm(
            x_train,
            method=self.gmm_init,
            random_state=seed,
            n_init=int(self.gmm_n_init),
        )
        model.compile(
            optimizer=self._make_optimizer(),
            gmm_optimizer=self._make_optimizer(),
            jit_compile=self.jit_compile,
        )
        history = model.fit(
            x_train,
            epochs=int(self.epochs),
            batch_size=int(self.batch_size),
            callbacks=[callbacks.StepDecay()] if self.lr_decay else [],
            verbose=self.verbose,
        )

        self.model_ = model
        self.likelihood_ = likelihood
        self.history_ = _history_to_dict(history.history)
        self.pretrain_history_ = _history_to_dict(pretrain_history)
        self.n_iter_ = len(self.history_.get("loss", []))
        self.labels_ = np.argmax(self._posterior(x_train), axis=-1)
        return self

    def _make_optimizer(self):
        return keras.optimizers.Adam(
            learning_rate=float(self.learning_rate),
            epsilon=vade_model.DEFAULT_EPSILON,
        )

    # --- Inference ---------------------------------------------------------

    def predict(self, X):
        """The most probable cluster of each sample under q(c|x).

        Args:
            X: array-like of shape `(n_samples, n_features)`.

        Returns:
            int array of shape `(n_samples,)`, values in `[0, n_clusters)`.
        """
        return np.argmax(self.predict_proba(X), axis=-1)

    def predict_proba(self, X):
        """The cluster posterior q(c|x), evaluated at z = z_mean.

        Args:
            X: array-like of shape `(n_samples, n_features)`.

        Returns:
            float32 array of shape `(n_samples, n_clusters)`; rows sum to 1.
        """
        sklearn_validation.check_is_fitted(self)
        return self._posterior(self._prepare(X))

    def transform(self, X):
        """The latent means z_mean of the encoder q(z|x).

        Args:
            X: array-like of shape `(n_samples, n_features)`.

        Returns:
            float32 array of shape `(n_samples, latent_dim)`.
        """
        sklearn_validation.check_is_fitted(self)
        X = self._prepare(X)
        return self.model_.transform(X, batch_size=INFERENCE_BATCH_SIZE)

    def score(self, X, y=None):
        """The mean evidence lower bound per sample (higher is better).

        This is minus VaDE's loss, `-(alpha * reconstruction + kl)`, averaged
        over the samples of `X`, with the reconstruction term at one draw of
        z per sample. For the gaussian likelihood the constant of
        log p(x|z) is left out, as in training. The draws use a fixed seed,
        so the same model and data always give the same score.

        Args:
            X: array-like of shape `(n_samples, n_features)`; within the
                likelihood's support (values in [0, 1] for bernoulli).
            y: ignored, present for API consistency.

        Returns:
            float.
        """
        sklearn_validation.check_is_fitted(self)
        X = self._prepare(X)
        generator = self.model_.sampling.seed_generator
        training_state = ops.convert_to_numpy(generator.state)
        generator.state.assign(
            np.array([SCORE_SEED, 0], dtype=training_state.dtype)
        )
        try:
            # VaDE's trackers weight each batch by its size: this is the
            # per-sample mean.
            logs = self.model_.evaluate(
                X,
                batch_size=INFERENCE_BATCH_SIZE,
                verbose=0,
                return_dict=True,
            )
        finally:
            generator.state.assign(training_state)
        return -logs["loss"]

    def _prepare(self, X):
        # Checked like the training data, and scaler round-off snapped back
        # into [0, 1] for the bernoulli likelihood.
        X = self._validate(X, reset=False)
        if self.likelihood_ == "bernoulli":
            X = _snap_to_unit_interval(X)
        return X

    def _posterior(self, X):
        return self.model_.predict_proba(X, batch_size=INFERENCE_BATCH_SIZE)

    # --- Checks ------------------------------------------------------------

    def _validate(self, X, reset):
        options = {
            "reset": reset,
            "dtype": np.float32,
            "ensure_min_samples": 2 if reset else 1,
        }
        if _validate_data is not None:
            return _validate_data(self, X, **options)
        return self._validate_data(X, **options)

    def _check_params(self, n_samples):
        if not _is_int(self.n_clusters) or self.n_clusters < 2:
            raise ValueError(
                "n_clusters must be an integer >= 2. "
                f"Received: n_clusters={self.n_clusters!r}"
            )
        if self.n_clusters > n_samples:
            raise ValueError(
                f"n_clusters={self.n_clusters} is more than the "
                f"{n_samples} samples of X (n_samples={n_samples}). Ask for "
                "fewer clusters or pass more data."
            )
        for name in ("latent_dim", "epochs", "batch_size", "gmm_n_init"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(
                    f"{name} must be a positive integer. "
                    f"Received: {name}={value!r}"
                )
        if not _is_int(self.pretrain_epochs) or self.pretrain_epochs < 0:
            raise ValueError(
                "pretrain_epochs must be an integer >= 0. "
                f"Received: pretrain_epochs={self.pretrain_epochs!r}"
            )
        if self.pretrain_batch_size is not None and (
            not _is_int(self.pretrain_batch_size)
            or self.pretrain_batch_size < 1
        ):
            raise ValueError(
                "pretrain_batch_size must be a positive integer or None. "
                f"Received: pretrain_batch_size={self.pretrain_batch_size!r}"
            )
        try:
            widths = tuple(self.hidden_dims)
        except TypeError:
            widths = None
        if widths is None or not all(
            _is_int(width) and width >= 1 for width in widths
        ):
            raise ValueError(
                "hidden_dims must be a sequence of positive integers, for "
                f"example (500, 500, 2000). Received: "
                f"hidden_dims={self.hidden_dims!r}"
            )
        for name, value in (
            ("alpha", self.alpha),
            ("learning_rate", self.learning_rate),
        ):
            if (
                not isinstance(value, numbers.Real)
                or isinstance(value, bool)
                or not np.isfinite(value)
                or value <= 0
            ):
                raise ValueError(
                    f"{name} must be a finite number > 0. "
                    f"Received: {name}={value!r}"
                )
        for name, allowed in (
            ("likelihood", LIKELIHOODS),
            ("gamma_mode", layers.GAMMA_MODES),
            ("pretrain_recipe", pretraining.RECIPES),
            ("gmm_init", GMM_INITS),
        ):
            value = getattr(self, name)
            if not isinstance(value, str) or value not in allowed:
                raise ValueError(
                    f"{name} must be one of {allowed}. "
                    f"Received: {name}={value!r}"
                )

    # --- scikit-learn plumbing ---------------------------------------------

    @property
    def _n_features_out(self):
        # Names the columns of `transform` ("vadeclustering0", ...).
        return self.model_.latent_dim

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # The networks are float32: only float32 input keeps its dtype.
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def _more_tags(self):
        # The same tag for scikit-learn < 1.6.
        return {"preserves_dtype": [np.float32]}


# =============================================================================
# Helpers
# =============================================================================


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _seed_from_random_state(random_state):
    """An int seed for Keras from `random_state`, or `None`.

    Args:
        random_state: `None`, an int, or a `numpy.random.RandomState`.

    Returns:
        int or `None`.
    """
    if random_state is None:
        return None
    if _is_int(random_state):
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    raise ValueError(
        "random_state must be None, an int or a numpy.random.RandomState. "
        f"Received: random_state={random_state!r}"
    )


def _snap_to_unit_interval(x):
    """Moves values within `UNIT_INTERVAL_TOLERANCE` of [0, 1] onto it.

    Values further out are kept, for the likelihood's check to report.

    Args:
        x: float32 array of shape `(n_samples, n_features)`.

    Returns:
        float32 array of shape `(n_samples, n_features)`.
    """
    near = (x >= -UNIT_INTERVAL_TOLERANCE) & (
        x <= 1.0 + UNIT_INTERVAL_TOLERANCE
    )
    return np.where(near, np.clip(x, 0.0, 1.0), x).astype(x.dtype)


def _history_to_dict(history):
    return {
        name: [float(value) for value in values]
        for name, values in history.items()
    }
