"""The model's defaults, written once: `ModelConfig` and `DEFAULTS`.

`vade_tf.VaDE`, `vade_tf.VaDEClustering` and the `vade-tf` command read their
defaults from `DEFAULTS`, so a default changes in one place. NumPy-free and
TensorFlow-free: the command line's parser reads it before TensorFlow loads.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The architecture and ELBO settings of a `VaDE`, with their defaults.

    Attributes:
        latent_dim: int, the size of z. The original release's 10.
        hidden_dims: tuple of ints, the encoder's hidden widths (the decoder
            mirrors them). The original release's `(500, 500, 2000)`.
        likelihood: str, p(x|z) of a `VaDE` built directly: `"bernoulli"`,
            the original release's. `VaDEClustering` and the command line
            choose it from the data (`"auto"`).
        alpha: float, the weight of the reconstruction term.
        beta: float, the weight of the KL terms.
        gamma_mode: `"exact"` (the Bayes posterior p(c|z)) or `"original"`
            (the original release's formula).
        kernel_initializer: the Dense layers' initializer.
    """

    latent_dim: int = 10
    hidden_dims: tuple = (500, 500, 2000)
    likelihood: str = "bernoulli"
    alpha: float = 1.0
    beta: float = 1.0
    gamma_mode: str = "exact"
    kernel_initializer: str = "glorot_uniform"


DEFAULTS = ModelConfig()
