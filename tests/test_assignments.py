"""Unlabelled data end to end: K chosen, assignments written, new rows
predicted, and the errors of that path."""

import json

import keras
import numpy as np
import pytest

import vade_tf
from vade_tf import assignments, cli

FAST = [
    "--hidden-dims",
    "32,16",
    "--latent-dim",
    "2",
    "--mixture-n-init",
    "2",
    "--verbose",
    "0",
]


@pytest.fixture
def table(tmp_path):
    """An unlabelled CSV of 3 well-separated groups (header, raw units),
    its held-out rows and the true groups of both."""
    rng = np.random.default_rng(3)
    centres = rng.uniform(-10, 10, size=(3, 5))
    y = np.repeat(np.arange(3), 60)
    rng.shuffle(y)
    x = (centres[y] + 0.5 * rng.standard_normal((180, 5))) * 40 + 200
    train, held = x[:150], x[150:]
    path = tmp_path / "table.csv"
    header = "height,width,depth,mass,age"
    np.savetxt(path, train, delimiter=",", header=header, comments="")
    held_path = tmp_path / "new.csv"
    np.savetxt(held_path, held, delimiter=",", header=header, comments="")
    return path, held_path, y[:150], y[150:]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A small trained model on 6 features, 3 clusters."""
    rng = np.random.default_rng(0)
    x = np.clip(
        rng.uniform(0.1, 0.9, (3, 6))[np.repeat(np.arange(3), 30)]
        + 0.03 * rng.standard_normal((90, 6)),
        0,
        1,
    ).astype("float32")
    model = vade_tf.VaDE(6, 3, latent_dim=2, hidden_dims=(16,), seed=0)
    model.pretrain(x, epochs=2, verbose=0)
    model.initialize_mixture(x, random_state=0)
    return model, x


def test_write_assignments_keeps_row_order_and_probabilities(tmp_path):
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(4), size=25)
    path = tmp_path / "a.csv"
    assignments.write_assignments(str(path), proba, proba=True)
    rows = np.loadtxt(path, delimiter=",", skiprows=1)
    header = path.read_text().splitlines()[0].split(",")
    assert header == ["cluster", "probability", "p_0", "p_1", "p_2", "p_3"]
    np.testing.assert_array_equal(rows[:, 0], proba.argmax(1))
    np.testing.assert_allclose(rows[:, 1], proba.max(1), rtol=1e-5)
    np.testing.assert_allclose(rows[:, 2:], proba, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rows[:, 2:].sum(1), 1.0, atol=1e-5)

    npz = tmp_path / "a.npz"
    assignments.write_assignments(str(npz), proba, proba=True)
    with np.load(npz) as arrays:
        np.testing.assert_array_equal(arrays["cluster"], proba.argmax(1))
        np.testing.assert_allclose(arrays["proba"], proba)
    npy = tmp_path / "a.npy"
    assignments.write_assignments(str(npy), proba)
    np.testing.assert_array_equal(np.load(npy), proba.argmax(1))


@pytest.mark.parametrize(
    "name, kwargs, error, fragment",
    [
        ("a.txt", {}, ValueError, ".csv, .npz or .npy"),
        ("a.npy", {"proba": True}, ValueError, "one array"),
        ("exists.csv", {}, FileExistsError, "exists"),
    ],
)
def test_bad_output_paths_are_refused_before_writing(
    tmp_path, name, kwargs, error, fragment
):
    (tmp_path / "exists.csv").write_text("keep me")
    with pytest.raises(error, match=fragment):
        assignments.write_assignments(
            str(tmp_path / name), np.full((3, 2), 0.5), **kwargs
        )
    assert (tmp_path / "exists.csv").read_text() == "keep me"


@pytest.mark.parametrize("chunk_rows", [7, 1000])
def test_predict_file_streams_in_chunks_in_order(fitted, tmp_path, chunk_rows):
    model, x = fitted
    expected = model.predict_proba(x)
    source = tmp_path / "rows.csv"
    np.savetxt(source, x, delimiter=",")
    for data in (str(source), x):
        out = tmp_path / f"out-{chunk_rows}-{type(data).__name__}.csv"
        rows = assignments.predict_file(
            model, data, str(out), proba=True, chunk_rows=chunk_rows
        )
        assert rows == len(x)
        written = np.loadtxt(out, delimiter=",", skiprows=1)
        np.testing.assert_array_equal(written[:, 0], expected.argmax(1))
        np.testing.assert_allclose(written[:, 2:], expected, atol=1e-5)
    npy = tmp_path / "rows.npy"
    np.save(npy, x)
    out = tmp_path / "from-npy.npz"
    assignments.predict_file(model, str(npy), str(out), chunk_rows=chunk_rows)
    with np.load(out) as arrays:
        np.testing.assert_array_equal(arrays["cluster"], expected.argmax(1))


def test_predict_file_leaves_no_output_after_a_bad_row(fitted, tmp_path):
    model, x = fitted
    bad = x.copy()
    bad[20, 3] = np.nan
    source = tmp_path / "bad.csv"
    np.savetxt(source, bad, delimiter=",")
    out = tmp_path / "out.csv"
    with pytest.raises(ValueError, match="rows 15 to 21"):
        assignments.predict_file(model, str(source), str(out), chunk_rows=7)
    assert not out.exists()
    assert not list(tmp_path.glob(".tmp-*"))
    wide = tmp_path / "wide.csv"
    np.savetxt(wide, np.c_[x, x[:, :1]], delimiter=",")
    with pytest.raises(
        ValueError, match="7 features per row; the model takes 6"
    ):
        assignments.predict_file(model, str(wide), str(out))
    assert not out.exists()


@pytest.mark.slow  # two whole runs on a small table, about a minute
def test_unlabelled_table_gets_k_the_assignments_and_predict(
    table, tmp_path, capsys
):
    data, held, y, y_held = table
    out = tmp_path / "run"
    status = cli.main(
        [
            "train",
            "--data",
            str(data),
            "--out",
            str(out),
            "--proba",
            "--pretrain-epochs",
            "40",
            "--epochs",
            "5",
            *FAST,
        ]
    )
    printed = capsys.readouterr().out
    assert status == 0
    assert "labels: no labels" in printed
    assert "Clusters chosen from K = 2..15 by bic" in printed
    assert "Clusters K = 3 (bic" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_clusters"] == 3
    assert metrics["k_selection"]["criterion"] == "bic"
    assert set(metrics["k_scores"]) == {str(k) for k in range(2, 16)}
    for name in ("k_selection.png", "profiles.png", "clusters.csv"):
        assert (out / name).is_file(), name
    assert not (out / "samples.png").exists()
    rows = np.loadtxt(out / "clusters.csv", delimiter=",", skiprows=1)
    assert rows.shape == (150, 5)
    np.testing.assert_allclose(rows[:, 2:].sum(1), 1.0, atol=1e-4)
    acc, _ = vade_tf.metrics.cluster_acc(y, rows[:, 0].astype(int))
    assert acc == 1.0

    predicted = tmp_path / "held.csv"
    status = cli.main(
        [
            "predict",
            "--model",
            str(out / "model.keras"),
            "--data",
            str(held),
            "--out",
            str(predicted),
        ]
    )
    assert status == 0
    held_rows = np.loadtxt(predicted, delimiter=",", skiprows=1)
    model = keras.models.load_model(out / "model.keras")
    x_held = np.loadtxt(held, delimiter=",", skiprows=1).astype("float32")
    np.testing.assert_array_equal(
        held_rows[:, 0], model.predict_clusters(x_held)
    )
    acc, _ = vade_tf.metrics.cluster_acc(y_held, held_rows[:, 0].astype(int))
    assert acc == 1.0


@pytest.mark.slow  # over 6 s on 2 cores
def test_auto_k_in_the_estimator_and_the_workflow(table):
    data, _, y, _ = table
    x = np.loadtxt(data, delimiter=",", skiprows=1).astype("float32")
    clustering = vade_tf.VaDEClustering(
        n_clusters="auto",
        k_range=(2, 6),
        hidden_dims=(32, 16),
        latent_dim=2,
        pretrain_epochs=40,
        epochs=2,
        mixture_n_init=2,
        random_state=0,
    ).fit(x)
    assert clustering.n_clusters_ == 3
    assert clustering.model_.n_clusters == 3
    assert sorted(clustering.k_scores_) == [2, 3, 4, 5, 6]
    assert clustering.predict_proba(x).shape == (150, 3)
    assert clustering.k_selection_.n_clusters == 3


def _fail(argv, capsys):
    status = cli.main(argv)
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    return err


@pytest.mark.parametrize("value", ["0", "-2", "1", "three"])
def test_n_clusters_below_two_is_one_line(table, tmp_path, capsys, value):
    data = table[0]
    err = _fail(
        [
            "train",
            "--data",
            str(data),
            "--out",
            str(tmp_path / "r"),
            f"--n-clusters={value}",
            *FAST,
        ],
        capsys,
    )
    assert "--n-clusters must be an integer >= 2 or 'auto'" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "k_range, fragment",
    [
        ("5:3", "2 <= k_min <= k_max"),
        ("2:500", "above the 150 samples"),
        ("x", "MIN:MAX"),
    ],
)
def test_bad_k_range_is_one_line_before_any_work(
    table, tmp_path, capsys, k_range, fragment
):
    err = _fail(
        [
            "train",
            "--data",
            str(table[0]),
            "--out",
            str(tmp_path / "r"),
            "--n-clusters",
            "auto",
            "--k-range",
            k_range,
            *FAST,
        ],
        capsys,
    )
    assert fragment in err and "--k-range" in err
    assert not (tmp_path / "r").exists()


def test_predict_refuses_what_is_not_a_vade_model(
    table, fitted, tmp_path, capsys
):
    data = str(table[1])
    out = tmp_path / "out.csv"
    err = _fail(
        ["predict", "--model", data, "--data", data, "--out", str(out)], capsys
    )
    assert "not a vade_tf model file" in err
    other = tmp_path / "other.keras"
    keras.Sequential([keras.Input((5,)), keras.layers.Dense(2)]).save(other)
    err = _fail(
        ["predict", "--model", str(other), "--data", data, "--out", str(out)],
        capsys,
    )
    assert "not a vade_tf model" in err
    model, _ = fitted
    saved = tmp_path / "six.keras"
    model.save(saved)
    err = _fail(
        ["predict", "--model", str(saved), "--data", data, "--out", str(out)],
        capsys,
    )
    assert "5 features per row; the model takes 6" in err
    assert not out.exists()


def test_a_column_that_looks_like_labels_is_pointed_out(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3))
    kind = rng.integers(0, 3, 100)
    path = tmp_path / "kinds.csv"
    np.savetxt(
        path, np.c_[x, kind], delimiter=",", header="a,b,c,kind", comments=""
    )
    data = vade_tf.data.files.read_data(str(path))
    assert data.y is None and data.feature_names == ["a", "b", "c", "kind"]
    assert "--label-key 'kind'" in data.label_hint
    labelled = vade_tf.data.files.read_data(str(path), label_column="kind")
    assert labelled.y is not None and "kind" in labelled.labels_from
    assert labelled.label_hint is None


def test_read_clusters_reads_every_format_and_run_folders(tmp_path):
    probabilities = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    for name in ("a.csv", "a.npz", "a.npy"):
        assignments.write_assignments(tmp_path / name, probabilities)
        np.testing.assert_array_equal(
            assignments.read_clusters(tmp_path / name), [1, 0, 1]
        )
    run = tmp_path / "run"
    run.mkdir()
    assignments.write_assignments(run / "clusters.csv", probabilities, True)
    np.testing.assert_array_equal(assignments.read_clusters(run), [1, 0, 1])
    with pytest.raises(FileNotFoundError, match="has no clusters.csv"):
        assignments.read_clusters(tmp_path)
    (tmp_path / "other.csv").write_text("group,score\n1,0.5\n")
    with pytest.raises(ValueError, match="no 'cluster' column"):
        assignments.read_clusters(tmp_path / "other.csv")
    np.savez(tmp_path / "other.npz", labels=np.zeros(3))
    with pytest.raises(ValueError, match="no 'cluster' array"):
        assignments.read_clusters(tmp_path / "other.npz")
    # A byte-order mark and blank lines, as spreadsheets write them.
    (tmp_path / "bom.csv").write_text("\ufeffcluster\n2\n\n0\n", "utf8")
    np.testing.assert_array_equal(
        assignments.read_clusters(tmp_path / "bom.csv"), [2, 0]
    )
    (tmp_path / "bad.csv").write_text("cluster\n1\n1.5\n")
    with pytest.raises(ValueError, match="line 3.*'1.5'"):
        assignments.read_clusters(tmp_path / "bad.csv")
    np.save(tmp_path / "proba.npy", probabilities)
    with pytest.raises(ValueError, match="1-D array of ints"):
        assignments.read_clusters(tmp_path / "proba.npy")
