"""Setup for vade_tf: Variational Deep Embedding for Keras 3 / TensorFlow."""

import pathlib

import setuptools

HERE = pathlib.Path(__file__).parent

setuptools.setup(
    name="vade_tf",
    version="0.1.0",
    description=(
        "Variational Deep Embedding (VaDE): deep generative clustering "
        "for Keras 3 / TensorFlow"
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf8"),
    long_description_content_type="text/markdown",
    license="MIT",
    # The shipped autoencoder weights and trained models are package data,
    # installed as vade_tf/pretrain_weights/ and vade_tf/models/ (see
    # vade_tf.shipped).
    packages=[
        *setuptools.find_packages(include=["vade_tf", "vade_tf.*"]),
        "vade_tf.pretrain_weights",
        "vade_tf.models",
    ],
    package_dir={
        "vade_tf.pretrain_weights": "pretrain_weights",
        "vade_tf.models": "models",
    },
    package_data={
        "vade_tf.pretrain_weights": ["*.weights.h5", "*.json"],
        "vade_tf.models": ["*.keras", "*.json", "README.md"],
    },
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.16",
        "keras>=3.3",
        "numpy>=1.23",
        "scikit-learn>=1.2",
        "scipy>=1.9",
        "h5py>=3.7",
        "matplotlib>=3.6",
    ],
    extras_require={
        # pdoc: tests/test_docs.py builds the API reference (docs/build_api.py).
        "test": [
            "pytest>=7",
            "hypothesis>=6",
            "tensorboard",
            "anndata>=0.10",
            "pdoc>=16.0",
        ],
        # The HTML API reference from the docstrings: python docs/build_api.py
        "docs": ["pdoc>=16.0"],
        # Single-cell data: `--data file.h5ad` (vade_tf.data.files.load_array).
        "singlecell": ["anndata>=0.10"],
        "examples": ["tensorboard"],
        # The PyTorch reference of benchmarks.speed.versus_pytorch; the package
        # and its tests never import torch.
        "bench": ["torch>=2.4"],
        "dev": [
            "pytest>=7",
            "hypothesis>=6",
            "tensorboard",
            "anndata>=0.10",
            "pdoc>=16.0",
            "ruff",
        ],
    },
    # The console script quiets TensorFlow's start-up logs before importing
    # it (vade_tf_cli.py).
    py_modules=["vade_tf_cli"],
    entry_points={"console_scripts": ["vade-tf=vade_tf_cli:main"]},
)
