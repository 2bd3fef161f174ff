"""`MixtureAdam`: Adam whose steps on the mixture prior are relative to it.

Adam moves each parameter by about its learning rate per step, whatever the
parameter's size. For the mixture prior that makes the step depend on the
scale of the latent space: at the original rate 0.002, a component variance
of 1e-3 is doubled in one step, and on tight latent spaces (variances near
1e-3) VaDE merges well-separated clusters within a few dozen steps.
`MixtureAdam` takes Adam's step in coordinates where the mixture has unit
scale, and maps it back:

- `c_var`: the step is taken on `log c_var` (gradient `g * c_var`), so
  `c_var <- c_var * exp(-step)`, a relative change of about the learning
  rate per step;
- `c_mean`: the step is taken on `c_mean / sqrt(c_var)` (gradient
  `g * sqrt(c_var)`), so each mean moves by about the learning rate times
  its component's standard deviation;
- `theta_p`: the step is taken on `log theta_p` (gradient `g * theta_p`),
  an exponentiated-gradient step, then the simplex constraint renormalises.

The variables keep their meaning (`theta_p`, `c_mean`, `c_var` are still
the model's trainable weights, with their constraints); only the optimizer's
geometry changes. Variables of other names get plain Adam. The transform is
its own inverse to first order: with the variable's scale constant, the
steps equal Adam's on the rescaled parameter exactly.
"""

import keras
import tensorflow as tf
from keras import ops

# The mixture weights' names
# (`vade_tf.model.mixture_prior.MixturePrior.add_weight`).
_LOG_SCALE = ("theta_p", "c_var")
_MEAN = "c_mean"
_VAR = "c_var"


@keras.saving.register_keras_serializable(package="vade_tf")
class MixtureAdam(keras.optimizers.Adam):
    """Adam with steps relative to the scale of the mixture prior.

    Takes the arguments of `keras.optimizers.Adam`. Built on the variables
    of a `vade_tf.model.mixture_prior.MixturePrior`
    (`VaDE.mixture_variables`), it updates `c_var` and `theta_p`
    multiplicatively and `c_mean` in units of its
    component's standard deviation (see the module docstring).

    Example:

    ```python
    model.compile(
        mixture_optimizer=MixtureAdam(0.002, epsilon=1e-4)
    )
    ```
    """

    def build(self, var_list):
        super().build(var_list)
        by_path = {
            variable.path: index for index, variable in enumerate(var_list)
        }
        # Per variable index: "log" (theta_p, c_var) or the index of the
        # c_var whose standard deviation rescales a c_mean.
        self._rules = {}
        for index, variable in enumerate(var_list):
            if variable.name in _LOG_SCALE:
                self._rules[index] = "log"
            elif variable.name == _MEAN:
                variance = by_path.get(variable.path[: -len(_MEAN)] + _VAR)
                if variance is not None:
                    self._rules[index] = variance
        self._mixture_variables = list(var_list)

    def update_step(self, gradient, variable, learning_rate):
        rule = getattr(self, "_rules", {}).get(
            self._get_variable_index(variable)
        )
        if rule is None:
            return super().update_step(gradient, variable, learning_rate)
        # `tf.identity` reads the value now (a converted variable would be
        # read after Adam's update).
        old = tf.identity(variable)
        if rule == "log":
            scale = old
        else:
            variance = self._mixture_variables[rule]
            scale = ops.sqrt(tf.identity(variance.value))
        scale = ops.cast(scale, gradient.dtype)
        super().update_step(gradient * scale, variable, learning_rate)
        # Adam's step in the rescaled coordinates, mapped back.
        step = old - tf.identity(variable)
        if rule == "log":
            self.assign(variable, old * ops.exp(-step))
        else:
            self.assign(variable, old - scale * step)
