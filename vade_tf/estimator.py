"""`VaDEClustering`: VaDE as a scikit-learn clustering estimator.

`fit` runs VaDE's whole workflow (pretrain the autoencoder, fit the mixture
prior on its latent means, train on the ELBO), so VaDE works with
`sklearn.pipeline.Pipeline`, `sklearn.base.clone` and model selection. The
`keras.Model` it trains is kept as `model_` for everything else (sampling,
saving, export).
"""

import warnings

import numpy as np
from sklearn import base
from sklearn.utils import validation as sklearn_validation

from vade_tf import choices, validation, workflow
from vade_tf.data import images
from vade_tf.model.config import DEFAULTS
from vade_tf.training import compilation, k_selection, recipes

# `validate_data` is public from scikit-learn 1.6; older versions have the
# `BaseEstimator._validate_data` method instead.
_validate_data = getattr(sklearn_validation, "validate_data", None)

LIKELIHOODS = (workflow.LIKELIHOOD_AUTO, *choices.LIKELIHOODS)
# Seeds the draws of z in `score`, which makes it a function of the data.
SCORE_SEED = 0
# The constructor arguments that replace a field of the recipe when given:
# every tunable field of `vade_tf.training.recipes.Recipe`, by the field's name.
RECIPE_FIELDS = tuple(field.name for field in recipes.tunable_fields())


class VaDEClustering(
    base.ClassNamePrefixFeaturesOutMixin,
    base.TransformerMixin,
    base.ClusterMixin,
    base.BaseEstimator,
):
    """Variational Deep Embedding clustering with a scikit-learn interface.

    `fit(X)` builds a `vade_tf.VaDE` and runs VaDE's workflow on it
    (`vade_tf.workflow.train`) from a named recipe: pretrain the
    autoencoder, fit the mixture prior on the latent means, train on the
    ELBO with two Adam optimizers and the recipe's schedule. The default
    recipe, `"tuned"`, is the one measured best on MNIST, Fashion-MNIST
    and data nobody tuned for (docs/results.md); `recipe="original"` has
    the original release's settings (see `vade_tf.training.recipes`).
    `predict` gives the most probable cluster under q(c|x), `predict_proba`
    q(c|x) itself,
    `transform` (and `fit_transform`) the latent means, so VaDE can also be
    the embedding step of a pipeline, and `score` the mean ELBO per sample.

    The constructor only stores its arguments; they are checked in `fit`.
    The training arguments default to `None`: the recipe's value.

    Args:
        n_clusters: int >= 2, the number of mixture components K (at most
            the number of samples), or `"auto"`: K chosen without labels
            from `k_range` by `k_criterion`, on the latent means of the
            pretrained autoencoder (`vade_tf.training.k_selection`,
            `vade_tf.workflow.build_and_train`).
        latent_dim: int >= 1, the latent dimension D.
        hidden_dims: sequence of ints, the encoder's hidden widths; the
            decoder mirrors them.
        likelihood: `"auto"`, `"bernoulli"`, `"gaussian"`, or for counts
            `"nb"` / `"zinb"` (see `vade_tf.model.likelihoods`). `"auto"` picks
            bernoulli when every value of `X` is in [0, 1] (and
            `input_scaling` is not `"standardize"`), gaussian otherwise;
            the choice is stored in `likelihood_`. For bernoulli, values
            within 1e-6 of [0, 1] (a scaler's rounding) are moved onto it
            in `fit` and `score`.
        input_scaling: `"auto"` (standardise each feature for the
            gaussian likelihood, inside the model), `"standardize"` or
            `"none"`; see `vade_tf.workflow.build_model`.
        alpha: float > 0, the weight of the reconstruction term.
        beta: float > 0, the weight of the prior (KL) terms; 1 is VaDE's
            ELBO (see `vade_tf.VaDE`).
        gamma_mode: `"exact"` or `"original"`; see
            `vade_tf.model.mixture_prior.MixturePrior`.
        recipe: a name in `vade_tf.training.recipes.PRESETS` or a `Recipe`;
            default `vade_tf.training.recipes.DEFAULT_RECIPE` (`"tuned"`).
        pretrain_epochs: int >= 0 or `None`, autoencoder epochs; 0 skips
            pretraining (rarely useful: VaDE then tends to collapse into few
            clusters).
        pretrain_recipe: `"auto"`, `"adam"`, `"dec"` or `"augment"`
            (images), or `None`; see
            `vade_tf.training.pretraining.recipe_settings`.
        pretrain_batch_size: int or `None` for the pretraining recipe's.
        pretrain_learning_rate: float > 0 or `None` for the pretraining
            recipe's (the peak rate with the cosine schedule).
        pretrain_schedule: `"constant"`, `"cosine"` or `None`; see
            `vade_tf.training.pretraining.pretraining_schedule`.
        pretrain_min_steps: int >= 0 or `None`, the autoencoder's fewest
            optimizer steps (`Recipe.for_data`); setting `pretrain_epochs`
            alone turns it off.
        noise: float in [0, 1) or `None`, input dropout while pretraining.
        epochs: int >= 1 or `None`, VaDE training epochs.
        batch_size: int >= 1 or `None`, VaDE training batch size.
        min_steps: int >= 0 or `None`, VaDE's fewest optimizer steps
            (`Recipe.for_data`); setting `epochs` alone turns it off.
        learning_rate: float > 0 or `None`, the network's initial rate.
        mixture_learning_rate: float > 0 or `None`, the mixture's initial rate.
        mixture_updates: `"absolute"`, `"relative"` or `None`, the mixture's
            Adam steps (see `vade_tf.choices.MIXTURE_UPDATES`).
        mixture_init: `"gmm"`, `"kmeans"` or `None`, how the mixture prior
            starts; see `VaDE.initialize_mixture`.
        mixture_n_init: int >= 1 or `None`, k-means runs for that start.
        latent_std: float > 0 or `None` (the recipe's): rescale the latent
            space to this std before fitting the mixture.
        n_starts: int >= 1 or `None`: mixture starts tried on the one
            autoencoder, each trained for `start_epochs`; the one with the
            highest mean ELBO on `X` trains on (labels are never used).
        start_epochs: int >= 1 or `None`, the epochs of each start before
            the choice.
        image_shape: `(height, width[, channels])` when `X` holds
            flattened images, or `None`: then an `X` of shape
            `(n_samples, height, width[, channels])` gives it
            (`vade_tf.data.images.image_shape_of_samples`), and a 2-D `X`
            is a table. Images of at least 16 pixels a side are pretrained
            with the "augment" recipe (which `"auto"` then picks).
        k_range: `(k_min, k_max)` (both included) or `None` for 2 to
            `min(20, n_samples // 10)`; used with `n_clusters="auto"`.
        k_criterion: one of `vade_tf.training.k_selection.CRITERIA` (default
            `"bic"`); used with `n_clusters="auto"`.
        random_state: int, `numpy.random.RandomState` or `None`. When given,
            it seeds the model (weights, batch order, z draws) and the
            mixture's start, so two fits give the same model; the global
            Python, NumPy and TensorFlow generators are left alone.
        jit_compile: True, False or "auto" (default): compile the training
            steps with XLA (`vade_tf.training.compilation.resolve`: XLA but
            for a bfloat16 network on a CPU with AMX). Faster on large data; on
            small data the compile time dominates.
        verbose: int, Keras' verbosity in pretraining and training (0
            silent, 1 progress bar, 2 one line per epoch).

    Attributes:
        model_: the trained `vade_tf.VaDE`.
        n_clusters_: int, the K trained (chosen with `"auto"`).
        k_scores_: dict `{K: criterion}` of every K tried with `"auto"`,
            else `None`; `k_selection_` holds the whole
            `vade_tf.training.k_selection.KSelection` (or `None`).
        labels_: int array of shape `(n_samples,)`, the clusters of the
            training data.
        history_: dict mapping each training metric (`loss`,
            `reconstruction`, `kl`, `learning_rate`) to a list with one
            float per epoch.
        recipe_: the `vade_tf.training.recipes.Recipe` used (overrides applied).
        pretrain_history_: the same for pretraining (empty when skipped).
        pretrain_recipe_: str, the pretraining recipe used (`"auto"`
            resolved: "augment", "adam", "dec" or "counts"), or `None` when
            pretraining was skipped.
        n_iter_: int, the number of training epochs run.
        likelihood_: str, the likelihood used (`"auto"` resolved).
        image_shape_: `(height, width[, channels])` of the images fitted
            (given or from `X`'s shape), or `None` for a table.
        n_features_in_: int, the number of features seen in `fit`
            (height x width x channels for images).
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
          data on the same machine give the same model, whatever the
          process drew before; `fit` does not touch the global Python,
          NumPy or TensorFlow generators.

    Example:

    ```python
    from sklearn import pipeline, preprocessing

    x, y = vade_tf.data.datasets.load_dataset("digits")
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
        latent_dim=DEFAULTS.latent_dim,
        hidden_dims=DEFAULTS.hidden_dims,
        likelihood="auto",
        input_scaling="auto",
        alpha=DEFAULTS.alpha,
        beta=DEFAULTS.beta,
        gamma_mode=DEFAULTS.gamma_mode,
        recipe=recipes.DEFAULT_RECIPE,
        pretrain_epochs=None,
        pretrain_recipe=None,
        pretrain_batch_size=None,
        pretrain_learning_rate=None,
        pretrain_schedule=None,
        pretrain_min_steps=None,
        noise=None,
        epochs=None,
        batch_size=None,
        min_steps=None,
        learning_rate=None,
        mixture_learning_rate=None,
        mixture_updates=None,
        mixture_init=None,
        mixture_n_init=None,
        latent_std=None,
        n_starts=None,
        start_epochs=None,
        image_shape=None,
        k_range=None,
        k_criterion=k_selection.DEFAULT_CRITERION,
        random_state=None,
        jit_compile=compilation.JIT_COMPILE,
        verbose=0,
    ):
        self.n_clusters = n_clusters
        self.latent_dim = latent_dim
        self.hidden_dims = hidden_dims
        self.likelihood = likelihood
        self.input_scaling = input_scaling
        self.alpha = alpha
        self.beta = beta
        self.gamma_mode = gamma_mode
        self.recipe = recipe
        self.pretrain_epochs = pretrain_epochs
        self.pretrain_recipe = pretrain_recipe
        self.pretrain_batch_size = pretrain_batch_size
        self.pretrain_learning_rate = pretrain_learning_rate
        self.pretrain_schedule = pretrain_schedule
        self.pretrain_min_steps = pretrain_min_steps
        self.noise = noise
        self.epochs = epochs
        self.batch_size = batch_size
        self.min_steps = min_steps
        self.learning_rate = learning_rate
        self.mixture_learning_rate = mixture_learning_rate
        self.mixture_updates = mixture_updates
        self.mixture_init = mixture_init
        self.mixture_n_init = mixture_n_init
        self.latent_std = latent_std
        self.n_starts = n_starts
        self.start_epochs = start_epochs
        self.image_shape = image_shape
        self.k_range = k_range
        self.k_criterion = k_criterion
        self.random_state = random_state
        self.jit_compile = jit_compile
        self.verbose = verbose

    # --- Fitting -----------------------------------------------------------

    def fit(self, X, y=None):
        """Pretrains, initialises the mixture and trains VaDE on `X`.

        Args:
            X: array-like of shape `(n_samples, n_features)`, with
                `n_samples >= n_clusters`, or images of shape
                `(n_samples, height, width[, channels])` (flattened; the
                other methods then take either layout).
            y: ignored, present for API consistency.

        Returns:
            The fitted estimator, `self`.
        """
        X = self._validate(X, reset=True)
        recipe = self._check_params(n_samples=X.shape[0])
        likelihood = workflow.resolve_likelihood(
            X, self.likelihood, self.input_scaling
        )
        # Values a rounding outside [0, 1] are clipped onto it by the
        # bernoulli likelihood's own check (`vade_tf.validation`).
        x_train = X
        seed = _seed_from_random_state(self.random_state)

        result = workflow.build_and_train(
            x_train,
            self.n_clusters,
            recipe,
            k_range=self.k_range,
            criterion=self.k_criterion,
            likelihood=likelihood,
            input_scaling=self.input_scaling,
            model_kwargs={
                "latent_dim": int(self.latent_dim),
                "hidden_dims": tuple(int(w) for w in self.hidden_dims),
                "alpha": float(self.alpha),
                "beta": float(self.beta),
                "gamma_mode": self.gamma_mode,
                "seed": seed,
            },
            image_shape=self._fit_image_shape,
            random_state=seed,
            jit_compile=self.jit_compile,
            verbose=self.verbose,
        )
        model = result.model
        self.image_shape_ = self._fit_image_shape
        self.n_clusters_ = model.n_clusters
        self.k_selection_ = result.k_selection
        self.k_scores_ = (
            None if result.k_selection is None else result.k_selection.k_scores
        )
        self.model_ = model
        self.recipe_ = result.recipe
        self.pretrain_recipe_ = result.pretrain_recipe
        self.likelihood_ = likelihood
        self.history_ = result.history
        self.pretrain_history_ = result.pretrain_history
        self.n_iter_ = len(self.history_.get("loss", []))
        self.labels_ = np.argmax(self._posterior(x_train), axis=-1)
        return self

    # --- Inference ---------------------------------------------------------

    def predict(self, X):
        """The most probable cluster of each sample under q(c|x).

        Args:
            X: array-like of shape `(n_samples, n_features)`, or images
                of the fitted shape `(n_samples, *image_shape_)`.

        Returns:
            int array of shape `(n_samples,)`, values in `[0, n_clusters)`.
        """
        return np.argmax(self.predict_proba(X), axis=-1)

    def predict_proba(self, X):
        """The cluster posterior q(c|x), evaluated at z = z_mean.

        Args:
            X: array-like of shape `(n_samples, n_features)`, or images
                of the fitted shape `(n_samples, *image_shape_)`.

        Returns:
            float32 array of shape `(n_samples, n_clusters)`; rows sum to 1.
        """
        sklearn_validation.check_is_fitted(self)
        return self._posterior(self._prepare(X))

    def transform(self, X):
        """The latent means z_mean of the encoder q(z|x).

        Args:
            X: array-like of shape `(n_samples, n_features)`, or images
                of the fitted shape `(n_samples, *image_shape_)`.

        Returns:
            float32 array of shape `(n_samples, latent_dim)`.
        """
        sklearn_validation.check_is_fitted(self)
        return self.model_.transform(self._prepare(X))

    def score(self, X, y=None):
        """The mean evidence lower bound per sample (higher is better).

        This is minus VaDE's loss, `-(alpha * reconstruction + beta * kl)`,
        averaged over the samples of `X`, with the reconstruction term at
        one draw of z per sample. For the gaussian likelihood the constant of
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
        scores = self.model_.score_samples(self._prepare(X), seed=SCORE_SEED)
        return float(np.mean(scores))

    def _prepare(self, X):
        # Checked like the training data (the model clips a scaler's
        # round-off back into [0, 1] for the bernoulli likelihood).
        return self._validate(X, reset=False)

    def _posterior(self, X):
        return self.model_.predict_proba(X)

    # --- Checks ------------------------------------------------------------

    def _validate(self, X, reset):
        """`X` checked as scikit-learn does, image samples flattened; in
        `fit` (`reset`), also the image shape of the fit (set as
        `image_shape_` only once the fit succeeds)."""
        X, shape = self._flatten_images(X)
        if reset:
            given = self.image_shape
            if given is not None:
                given = images.check_image_shape(given)
                if shape is not None and not images.same_images(shape, given):
                    raise ValueError(
                        f"image_shape={given} does not match the images of "
                        f"X, of shape {shape}. Give image_shape=None or "
                        "images of that shape."
                    )
            self._fit_image_shape = shape or given
        elif shape is not None and not (
            self.image_shape_ and images.same_images(shape, self.image_shape_)
        ):
            fitted = (
                f"images of shape {self.image_shape_}"
                if self.image_shape_
                else f"rows of {self.n_features_in_} features"
            )
            raise ValueError(
                f"X holds images of shape {shape}; this estimator was "
                f"fitted on {fitted}."
            )
        options = {
            "reset": reset,
            "dtype": np.float32,
            "ensure_min_samples": 2 if reset else 1,
        }
        if _validate_data is not None:
            return _validate_data(self, X, **options)
        return self._validate_data(X, **options)

    @staticmethod
    def _flatten_images(X):
        """`(X, image shape or None)`, image samples flattened into rows
        (`vade_tf.data.images.image_shape_of_samples`)."""
        if isinstance(X, (list, tuple)):
            try:
                X = np.asarray(X)
            except ValueError:
                return X, None  # ragged: scikit-learn's check says so
        shape = getattr(X, "shape", ())
        if len(shape) <= 2:
            return X, None
        hint = images.channels_first_hint(shape)
        if hint:
            warnings.warn(f"X: {hint}", stacklevel=4)
        X = np.asarray(X)
        return X.reshape(len(X), -1), images.image_shape_of_samples(X.shape)

    def _check_params(self, n_samples):
        """Checks the arguments; returns the recipe with overrides applied."""
        if k_selection.is_auto(self.n_clusters):
            k_selection.check_k_range(self.k_range, n_samples=n_samples)
            validation.check_choice(
                self.k_criterion, "k_criterion", k_selection.CRITERIA
            )
        else:
            validation.check_n_clusters(self.n_clusters, n_samples=n_samples)
        validation.check_int(self.latent_dim, "latent_dim", 1)
        validation.check_widths(self.hidden_dims)
        validation.check_positive_float(self.alpha, "alpha")
        validation.check_positive_float(self.beta, "beta")
        validation.check_choice(self.likelihood, "likelihood", LIKELIHOODS)
        validation.check_choice(
            self.input_scaling, "input_scaling", choices.INPUT_SCALINGS
        )
        validation.check_choice(
            self.gamma_mode, "gamma_mode", choices.GAMMA_MODES
        )
        overrides = {
            name: getattr(self, name)
            for name in RECIPE_FIELDS
            if getattr(self, name) is not None
        }
        return recipes.get_recipe(self.recipe, **overrides)

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


def _seed_from_random_state(random_state):
    """An int seed for Keras from `random_state`, or `None`.

    Args:
        random_state: `None`, an int, or a `numpy.random.RandomState`.

    Returns:
        int or `None`.
    """
    if random_state is None:
        return None
    if validation.is_int(random_state):
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    raise ValueError(
        "random_state must be None, an int or a numpy.random.RandomState. "
        f"Received: random_state={random_state!r}"
    )
