"""The names of the choices vade_tf offers, in a module free of TensorFlow.

The modules that implement each choice take their names from here
(`likelihoods.LIKELIHOODS`, `mixture_prior.GAMMA_MODES`, `pretraining.RECIPES`,
`workflow.LIKELIHOOD_AUTO`), so the command line can list them in its help
without importing TensorFlow.
"""

# Likelihoods of the decoder (`vade_tf.model.likelihoods.get_likelihood`).
LIKELIHOODS = ("bernoulli", "gaussian", "nb", "zinb")
# The likelihoods of count data (negative binomial, zero-inflated NB).
COUNT_LIKELIHOODS = ("nb", "zinb")
# `likelihood="auto"`: bernoulli for data in [0, 1], gaussian otherwise.
LIKELIHOOD_AUTO = "auto"
# How the training gamma is computed
# (`vade_tf.model.mixture_prior.MixturePrior`).
GAMMA_MODES = ("exact", "original")
# Autoencoder pretraining recipes
# (`vade_tf.training.pretraining.recipe_settings`).
PRETRAIN_RECIPES = ("adam", "dec", "augment", "counts")
# The pretraining recipe chosen from the data: "augment" when the data are
# images of a known shape (a named image data set or an `image_shape` the
# user gives), "adam" otherwise. See
# `vade_tf.training.pretraining.recipe_settings`.
PRETRAIN_RECIPE_AUTO = "auto"
# The autoencoder's learning rate over its pretraining
# (`vade_tf.training.pretraining.pretraining_schedule`): the recipe's rate
# throughout, or a short linear warm-up to it followed by a cosine decay to 0
# at the last step (as in one-cycle schedules).
PRETRAIN_SCHEDULES = ("constant", "cosine")
# How the mixture prior starts
# (`vade_tf.training.latent_mixture.fit_latent_mixture`):
# EM for a diagonal Gaussian mixture from the best k-means partition, or
# that k-means partition itself.
MIXTURE_INITS = ("gmm", "kmeans")
# How the mixture optimizer steps: "absolute" is plain Adam, as in the
# original release; "relative" is `vade_tf.training.optimizers.MixtureAdam`,
# whose steps scale with the mixture (variances and weights multiplicatively,
# means in units of their component's standard deviation).
MIXTURE_UPDATES = ("absolute", "relative")
# How the input is scaled before the encoder and the likelihood
# (`vade_tf.workflow.build_model`): "auto" standardises each feature for the
# gaussian likelihood and leaves bernoulli data in [0, 1] as they are.
INPUT_SCALINGS = ("auto", "standardize", "none")
# `tf.distribute` strategies (`vade_tf.training.distribute.make_strategy`).
STRATEGIES = ("none", "mirrored", "multiworker")
# Keras dtype policies of the networks (`vade-tf ... --dtype-policy`); the
# mixture and the ELBO stay float32 under each (docs/reliability.md).
DTYPE_POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")
