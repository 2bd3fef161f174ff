"""SavedModel export: signatures, TensorFlow-only loading, the docs' request."""

import json
import os
import re
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

import vade_tf
from tests.conftest import REPO

# Runs in a separate interpreter that never imports Keras or vade_tf.
TF_ONLY_SCRIPT = r"""
import json, sys
import numpy as np
import tensorflow as tf
# TensorFlow itself may import Keras; loading and serving must add nothing.
baseline = set(sys.modules)
served = tf.saved_model.load(sys.argv[1])
x = np.load(sys.argv[2])
rng = np.random.default_rng(0)
out = {}
sig = served.signatures
res = sig["serving_default"](x=tf.constant(x))
out["serving_default"] = {k: v.numpy().tolist() for k, v in res.items()}
res = sig["embed"](x=tf.constant(x))
out["embed"] = {k: v.numpy().tolist() for k, v in res.items()}
z = np.asarray(out["embed"]["z_mean"], "float32")
out["decode"] = sig["decode"](z=tf.constant(z))["x_hat"].numpy().tolist()
clusters = np.array([0, 1, 2, 1], "int64")
noise = rng.standard_normal((4, z.shape[1])).astype("float32")
out["generate"] = sig["generate"](
    cluster=tf.constant(clusters), noise=tf.constant(noise)
)["x_hat"].numpy().tolist()
out["noise"] = noise.tolist()
out["added"] = sorted(
    m for m in set(sys.modules) - baseline
    if m.split(".")[0] in ("keras", "vade_tf")
)
out["vade_tf"] = sorted(m for m in sys.modules if m.startswith("vade_tf"))
print(json.dumps(out))
"""


@pytest.fixture
def exported(tmp_path, blobs):
    x, _ = blobs
    model = vade_tf.VaDE(12, 3, latent_dim=2, hidden_dims=(16, 8), seed=0)
    model.initialize_mixture(x, random_state=0)
    path = vade_tf.export_saved_model(model, tmp_path / "serving", version=3)
    return model, path, x


def test_layout_and_refusal_to_overwrite(exported, tmp_path):
    model, path, _ = exported
    assert path == os.path.join(tmp_path / "serving", "3")
    assert os.path.isfile(os.path.join(path, "saved_model.pb"))
    # Readable by others as any new folder is (not mkdtemp's 0700).
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o777 & ~umask
    with pytest.raises(FileExistsError, match="overwrite=True"):
        vade_tf.export_saved_model(model, tmp_path / "serving", version=3)
    vade_tf.export_saved_model(
        model, tmp_path / "serving", version=3, overwrite=True
    )
    # No temporary folder is left behind.
    assert sorted(os.listdir(tmp_path / "serving")) == ["3"]
    for version in (0, True, 2.0, "4"):
        with pytest.raises(ValueError, match="version must be an integer"):
            vade_tf.export_saved_model(
                model, tmp_path / "serving", version=version
            )
    # A numpy integer is an integer.
    path = vade_tf.export_saved_model(
        model, tmp_path / "serving", version=np.int64(4)
    )
    assert os.path.basename(path) == "4"


@pytest.mark.slow  # a fresh interpreter importing TensorFlow
def test_tensorflow_only_process_reproduces_the_keras_model(exported, tmp_path):
    model, path, x = exported
    x = x[:7]
    np.save(tmp_path / "x.npy", x)
    script = tmp_path / "serve.py"
    script.write_text(TF_ONLY_SCRIPT)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, str(script), path, str(tmp_path / "x.npy")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["added"] == [] and out["vade_tf"] == []
    served = out["serving_default"]
    np.testing.assert_allclose(
        served["cluster_probs"], model.predict_proba(x), atol=1e-5
    )
    np.testing.assert_array_equal(served["cluster"], model.predict_clusters(x))
    np.testing.assert_allclose(served["z_mean"], model.transform(x), atol=1e-5)
    z_mean, z_log_var = model.encoder.predict(x, verbose=0)
    np.testing.assert_allclose(out["embed"]["z_log_var"], z_log_var, atol=1e-5)
    np.testing.assert_allclose(
        out["decode"], model.decoder.predict(z_mean, verbose=0), atol=1e-5
    )
    c_mean = keras.ops.convert_to_numpy(model.c_mean)
    c_var = keras.ops.convert_to_numpy(model.c_var)
    clusters = np.array([0, 1, 2, 1])
    z = c_mean[clusters] + np.sqrt(c_var[clusters]) * np.asarray(
        out["noise"], "float32"
    )
    np.testing.assert_allclose(
        out["generate"],
        model.decoder.predict(z.astype("float32"), verbose=0),
        atol=1e-5,
    )


@pytest.mark.slow
def test_saved_model_cli_lists_the_signatures(exported):
    _, path, _ = exported
    cli = shutil.which(
        "saved_model_cli", path=os.path.dirname(sys.executable)
    ) or shutil.which("saved_model_cli")
    if cli is None:
        pytest.skip("saved_model_cli (installed with tensorflow) not found")
    result = subprocess.run(
        [cli, "show", "--dir", path, "--all"],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for signature in vade_tf.export.SIGNATURES:
        assert f"signature_def['{signature}']" in result.stdout
    assert "outputs['cluster_probs']" in result.stdout
    assert "dtype: DT_INT64" in result.stdout


def test_docs_request_body_runs_through_the_signature(tmp_path):
    import tensorflow as tf

    text = (REPO / "docs" / "serving.md").read_text()
    match = re.search(r"<!-- request body.*?```json\n(.*?)\n```", text, re.S)
    assert match, "docs/serving.md lost its example request body"
    body = json.loads(match.group(1))
    assert body["signature_name"] == "serving_default"
    instances = np.asarray(body["instances"], "float32")
    x, _ = vade_tf.data.datasets.load_dataset("digits")
    np.testing.assert_allclose(instances, x[:2], atol=1e-4)
    model = vade_tf.VaDE(64, 10, hidden_dims=(32,), seed=0)
    path = vade_tf.export_saved_model(model, tmp_path / "vade")
    served = tf.saved_model.load(path).signatures[body["signature_name"]]
    out = served(x=tf.constant(instances))
    assert out["cluster_probs"].shape == (2, 10)
    np.testing.assert_allclose(
        out["cluster_probs"].numpy(), model.predict_proba(instances), atol=1e-5
    )
