"""The autoencoder weights and trained models that ship with the package.

`pretrain_weights/` and `models/` of the repository are installed as package
data (`vade_tf/pretrain_weights/`, `vade_tf/models/`), so the paths below
work from a wheel as from a clone.
"""

import os

_PACKAGE = os.path.dirname(os.path.abspath(__file__))
_REPOSITORY = os.path.dirname(_PACKAGE)


def _find(folder, filename):
    """The file in the installed package, else in the repository clone."""
    for base in (_PACKAGE, _REPOSITORY):
        path = os.path.join(base, folder, filename)
        if os.path.isfile(path):
            return path
    return None


def _available(folder, prefix, suffix):
    names = set()
    for base in (_PACKAGE, _REPOSITORY):
        directory = os.path.join(base, folder)
        if os.path.isdir(directory):
            names.update(
                name[len(prefix) : -len(suffix)]
                for name in os.listdir(directory)
                if name.startswith(prefix) and name.endswith(suffix)
            )
    return sorted(names)


def autoencoder_weights(dataset):
    """The path of the shipped autoencoder weights for a named data set.

    Args:
        dataset: str, for example `"mnist"` or `"fashion_mnist"`.

    Returns:
        str, the path of `ae_<dataset>.weights.h5`.
    """
    path = _find("pretrain_weights", f"ae_{dataset}.weights.h5")
    if path is None:
        raise FileNotFoundError(
            f"No shipped autoencoder weights for {dataset!r}; shipped: "
            f"{_available('pretrain_weights', 'ae_', '.weights.h5')}. "
            "Pretrain instead (leave out --pretrained)."
        )
    return path


def model_path(dataset):
    """The path of the shipped trained model `vade_<dataset>.keras`.

    Args:
        dataset: str, for example `"mnist"` or `"fashion_mnist"`.

    Returns:
        str.
    """
    path = _find("models", f"vade_{dataset}.keras")
    if path is None:
        raise FileNotFoundError(
            f"No shipped model for {dataset!r}; shipped: "
            f"{_available('models', 'vade_', '.keras')}."
        )
    return path
