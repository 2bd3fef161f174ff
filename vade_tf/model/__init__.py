"""The model: the `VaDE` class (in `vade`) and the parts it is made of.

- `vade`: the `VaDE` Keras model, the contract (the ELBO, the train and test
  steps, two optimizers, its config);
- `config`: the model's defaults, written once (`ModelConfig`);
- `networks`: the encoder and decoder;
- `layers`: the small layers and constraints they use;
- `mixture_prior`: the Gaussian mixture prior layer (`MixturePrior`: p(c|z));
- `likelihoods`: p(x|z) families (Bernoulli, Gaussian, NB, ZINB);
- `elbo`: the ELBO's terms as pure functions;
- `baselines`: the VAE + GMM baseline (a `VaDE` with another prior term);
- `inference`, `fitting`, `start`: what `VaDE`'s inference, `fit`/`compile`
  and mixture-start methods delegate to.

Like `vade_tf.data` and `vade_tf.training`, this package imports nothing when
imported.
"""


def __getattr__(name):
    # `vade_tf.model` was the module `vade_tf.model.vade` is now: its public
    # names (`from vade_tf.model import VaDE`) are still found here.
    if name in (
        "VaDE",
        "INFERENCE_BATCH_SIZE",
        "STEPS_PER_EXECUTION",
        "dtype_policy_scope",
    ):
        import importlib

        return getattr(importlib.import_module("vade_tf.model.vade"), name)
    raise AttributeError(f"module 'vade_tf.model' has no attribute {name!r}")
