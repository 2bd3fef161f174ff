"""SavedModel export for TF Serving.

`export_saved_model(model, export_dir, version=1)` writes
`export_dir/<version>/`, the layout TF Serving watches, with four signatures:

- `serving_default`: `x` float32 `[N, input_dim]` -> `cluster_probs`
  `[N, K]` (q(c|x) at z_mean), `cluster` int64 `[N]`, `z_mean` `[N, D]`;
- `embed`: `x` -> `z_mean`, `z_log_var`, each `[N, D]`;
- `decode`: `z` float32 `[N, D]` -> `x_hat` `[N, input_dim]`;
- `generate`: `cluster` int64 `[N]` and `noise` float32 `[N, D]` (standard
  normal draws) -> `x_hat`, decoding `c_mean[c] + sqrt(c_var[c]) * noise`.

The SavedModel needs only TensorFlow to load (`tf.saved_model.load`).
"""

import os
import shutil
import tempfile

import keras
import tensorflow as tf

from vade_tf import validation

SIGNATURES = ("serving_default", "embed", "decode", "generate")


def export_saved_model(model, export_dir, version=1, overwrite=False):
    """Writes `model` as a versioned SavedModel for TF Serving.

    Args:
        model: a `vade_tf.VaDE`.
        export_dir: str, the model's base folder (TF Serving's
            `--model_base_path`).
        version: int >= 1, the subfolder name.
        overwrite: bool; an existing version is kept unless True.

    Returns:
        str, the path of the written version folder.
    """
    version = validation.check_int(version, "version", 1)
    target = os.path.join(os.fspath(export_dir), str(version))
    if os.path.exists(target) and not overwrite:
        raise FileExistsError(
            f"{target} exists. Pass overwrite=True (--overwrite) to replace "
            "it, or export under a new version number."
        )
    os.makedirs(os.fspath(export_dir), exist_ok=True)
    archive = _build_archive(model)
    staging = tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=export_dir)
    try:
        archive.write_out(staging, verbose=False)
        # mkdtemp made the folder private (0700); the version folder gets
        # the permissions of any new folder, for a TF Serving process that
        # runs as another user.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)
        if os.path.exists(target):
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging)
    return target


def _build_archive(model):
    x_spec = tf.TensorSpec([None, model.input_dim], tf.float32, name="x")
    z_spec = tf.TensorSpec([None, model.latent_dim], tf.float32, name="z")
    cluster_spec = tf.TensorSpec([None], tf.int64, name="cluster")
    noise_spec = tf.TensorSpec(
        [None, model.latent_dim], tf.float32, name="noise"
    )

    def serve(x):
        z_mean, _ = model.encoder_outputs(x)
        probs = model.gmm.p_c_z(z_mean)
        return {
            "cluster_probs": probs,
            "cluster": tf.argmax(probs, axis=-1, output_type=tf.int64),
            "z_mean": z_mean,
        }

    def embed(x):
        z_mean, z_log_var = model.encoder_outputs(x)
        return {"z_mean": z_mean, "z_log_var": z_log_var}

    def decode(z):
        return {"x_hat": model.decoder_mean(z)}

    def generate(cluster, noise):
        mean = tf.gather(model.c_mean, cluster)
        std = tf.sqrt(tf.gather(model.c_var, cluster))
        return {"x_hat": model.decoder_mean(mean + std * noise)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", serve, input_signature=[x_spec])
    archive.add_endpoint("embed", embed, input_signature=[x_spec])
    archive.add_endpoint("decode", decode, input_signature=[z_spec])
    archive.add_endpoint(
        "generate", generate, input_signature=[cluster_spec, noise_spec]
    )
    return archive
