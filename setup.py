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
    packages=setuptools.find_packages(include=["vade_tf", "vade_tf.*"]),
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
        "test": ["pytest>=7", "tensorboard"],
        "examples": ["tensorboard"],
        "dev": ["pytest>=7", "tensorboard", "ruff"],
    },
    entry_points={"console_scripts": ["vade-tf=vade_tf.cli:main"]},
)
