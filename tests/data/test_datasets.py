"""Named data sets, the IDX reader, and users' own files."""

import gzip
import hashlib
import os

import h5py
import numpy as np
import pytest

from vade_tf.data import datasets, synthetic


def _write_idx(path, array):
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.tobytes())


def _fake_idx_folder(folder, n_train=6, n_test=4):
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = datasets._IDX_FILES[split]
        _write_idx(folder / images, rng.integers(0, 256, (n, 28, 28)))
        _write_idx(folder / labels, rng.integers(0, 10, n))


def test_digits_is_embedded_and_scaled():
    x, y = datasets.load_dataset("digits")
    assert x.shape == (1797, 64) and x.dtype == np.float32
    assert y.shape == (1797,) and set(np.unique(y)) == set(range(10))
    assert x.min() == 0.0 and x.max() == 1.0


def test_idx_files_from_data_dir(tmp_path):
    _fake_idx_folder(tmp_path)
    x, y = datasets.load_dataset("mnist", data_dir=str(tmp_path))
    assert x.shape == (10, 784) and y.shape == (10,)
    assert 0.0 <= x.min() and x.max() <= 1.0
    x_test, _ = datasets.load_dataset(
        "fashion_mnist", data_dir=str(tmp_path), split="test"
    )
    np.testing.assert_array_equal(x_test, x[6:])


def test_environment_variable_subfolder(tmp_path, monkeypatch):
    (tmp_path / "mnist").mkdir()
    _fake_idx_folder(tmp_path / "mnist", n_train=3, n_test=2)
    monkeypatch.setenv("VADE_TF_DATA", str(tmp_path))
    x, _ = datasets.load_dataset("mnist", split="train")
    assert x.shape == (3, 784)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="'cifar'.*digits.*mnist.*fashion"):
        datasets.load_dataset("cifar")
    with pytest.raises(ValueError, match="split"):
        datasets.load_dataset("digits", split="valid")


def test_missing_files_say_where_they_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("VADE_TF_DATA", str(tmp_path / "none"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(
        datasets, "_DEBIAN_DIRS", {"mnist": str(tmp_path / "deb")}
    )

    def no_download(name, split):
        raise AssertionError(
            "a given data_dir must not fall back to a download"
        )

    monkeypatch.setattr(datasets, "_keras_download", no_download)
    given = tmp_path / "mine"
    with pytest.raises(ValueError, match="Looked in") as info:
        datasets.load_dataset("mnist", data_dir=given)
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    # The user's folder first, then the others searched; what is needed.
    assert message.index(str(given)) < message.index(str(tmp_path / "none"))
    assert "train-images-idx3-ubyte.gz" in message
    assert "nothing was downloaded" in message


def test_keras_download_failure_is_a_clear_error(monkeypatch, tmp_path):
    import keras

    def fail():
        raise OSError("no network")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", fail)
    with pytest.raises(
        datasets.DataNotFoundError, match="no network.*VADE_TF_DATA"
    ):
        datasets._keras_download("mnist", "train")


def test_read_idx_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad.gz"
    with gzip.open(bad, "wb") as handle:
        handle.write(b"\x00\x00\x0d\x01" + (3).to_bytes(4, "big") + b"abc")
    with pytest.raises(ValueError, match="magic"):
        datasets.read_idx(str(bad))
    short = tmp_path / "short.gz"
    with gzip.open(short, "wb") as handle:
        handle.write(b"\x00\x00\x08\x01" + (5).to_bytes(4, "big") + b"ab")
    with pytest.raises(ValueError, match="truncated"):
        datasets.read_idx(str(short))
    # A download cut short: the gzip stream itself ends early.
    whole = gzip.compress(b"\x00\x00\x08\x01" + (3).to_bytes(4, "big") + b"abc")
    (tmp_path / "cut.gz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match="cut.gz is truncated or not an IDX"):
        datasets.read_idx(str(tmp_path / "cut.gz"))
    (tmp_path / "text.gz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="text.gz is truncated or not an IDX"):
        datasets.read_idx(str(tmp_path / "text.gz"))
    # A file that is not there is not called truncated.
    with pytest.raises(FileNotFoundError):
        datasets.read_idx(str(tmp_path / "absent.gz"))


@pytest.mark.slow
def test_real_mnist_matches_its_readme(mnist_dir):
    x, y = datasets.load_dataset("mnist", data_dir=mnist_dir)
    assert x.shape == (70000, 784)
    counts = np.bincount(y[:60000])
    np.testing.assert_array_equal(
        counts, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    )
    with gzip.open(
        os.path.join(mnist_dir, "train-images-idx3-ubyte.gz")
    ) as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    assert digest.startswith("ba891046e6505d7a")
    assert x[:60000].mean() == pytest.approx(0.13066, abs=1e-4)


def test_load_array_formats(tmp_path, rng):
    x = rng.uniform(size=(8, 5)).astype("float32")
    y = rng.integers(0, 3, 8)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    np.save(tmp_path / "d.npy", x)
    with h5py.File(tmp_path / "d.h5", "w") as handle:
        handle["x"] = x
        handle["y"] = y
    header = "a,b,c,label,d,e"
    table = np.column_stack([x[:, :3], y, x[:, 3:]])
    np.savetxt(
        tmp_path / "d.csv", table, delimiter=",", header=header, comments=""
    )
    np.savetxt(tmp_path / "plain.csv", x, delimiter=",")
    for name in ("d.npz", "d.h5", "d.csv"):
        got_x, got_y = datasets.load_array(tmp_path / name)
        np.testing.assert_allclose(got_x, x, rtol=1e-6)
        np.testing.assert_array_equal(got_y, y)
    got_x, got_y = datasets.load_array(tmp_path / "d.npy")
    np.testing.assert_array_equal(got_x, x)
    assert got_y is None
    got_x, got_y = datasets.load_array(tmp_path / "plain.csv")
    assert got_x.shape == (8, 5) and got_y is None
    # A column of fractions is no label column.
    with pytest.raises(ValueError, match="whole numbers or names"):
        datasets.load_array(tmp_path / "plain.csv", label_column=0)
    labelled = np.column_stack([y, x[:, 1:]])
    np.savetxt(tmp_path / "first.csv", labelled, delimiter=",")
    got_x, got_y = datasets.load_array(tmp_path / "first.csv", label_column=0)
    assert got_x.shape == (8, 4)
    np.testing.assert_array_equal(got_y, y)


def test_load_array_reads_labels_as_users_write_them(tmp_path, rng):
    x = rng.uniform(size=(6, 3)).round(3)
    names = np.array(["cat", "dog", "cat", "emu", "dog", "cat"])
    expected = np.array([0, 1, 0, 2, 1, 0])
    # Names in a .npz; an array of the user's own name with label_column.
    np.savez(tmp_path / "names.npz", x=x, species=names)
    got_x, got_y = datasets.load_array(tmp_path / "names.npz", "species")
    np.testing.assert_allclose(got_x, x, rtol=1e-6)
    np.testing.assert_array_equal(got_y, expected)
    with pytest.raises(ValueError, match=r"no array 'kind'.*'species', 'x'"):
        datasets.load_array(tmp_path / "names.npz", "kind")
    np.save(tmp_path / "x.npy", x)
    with pytest.raises(ValueError, match="holds x only"):
        datasets.load_array(tmp_path / "x.npy", "species")
    # Rows longer than any sample a separator is guessed from (784 values).
    wide = rng.uniform(size=(4, 784)).round(4)
    for separator in (";", "\t"):
        np.savetxt(tmp_path / "wide.csv", wide, delimiter=separator)
        got_x, _ = datasets.load_array(tmp_path / "wide.csv")
        np.testing.assert_allclose(got_x, wide, rtol=1e-6)
    # A spreadsheet's "CSV UTF-8": a byte-order mark, semicolons, names.
    lines = ["y;a;b;c"] + [
        ";".join([name, *map(str, row)]) for name, row in zip(names, x)
    ]
    (tmp_path / "excel.csv").write_text("\n".join(lines), encoding="utf-8-sig")
    got_x, got_y = datasets.load_array(tmp_path / "excel.csv")
    np.testing.assert_allclose(got_x, x, rtol=1e-6)
    np.testing.assert_array_equal(got_y, expected)
    # Missing labels are an error, not a class of their own.
    (tmp_path / "nan.csv").write_text("a,y\n0.5,1\n0.2,\n0.1,nan\n")
    with pytest.raises(ValueError, match="2 labels are"):
        datasets.load_array(tmp_path / "nan.csv")
    (tmp_path / "na.csv").write_text(
        "a,y\n0.5,T cell\n0.2,NaN\n0.1,B cell\n0.3,NA\n0.4, n/a\n"
    )
    with pytest.raises(ValueError, match="3 labels are missing"):
        datasets.load_array(tmp_path / "na.csv")
    np.savez(tmp_path / "nan.npz", x=x, y=[0, 1, np.nan, 1, 0, 0])
    with pytest.raises(ValueError, match="1 labels are NaN.*sample 2"):
        datasets.load_array(tmp_path / "nan.npz")


def test_load_array_names_what_is_wrong_in_a_csv(tmp_path):
    cases = {
        "header_only.csv": ("a,b,y\n", "a header .* but no data rows"),
        "empty.csv": ("\n\n", "is empty"),
        "text.csv": ("a,b\n1,2\n3,x\n", r"'x' on line 3, column 2 \('b'\)"),
        "ragged.csv": ("1,2,3\n4,5\n", "line 2 has 2 values, expected 3"),
        "labels_only.csv": ("y\n1\n2\n", "only the label column"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ValueError, match=message):
            datasets.load_array(tmp_path / name)
    with pytest.raises(ValueError, match="has 2 columns; label_column=5"):
        datasets.load_array(tmp_path / "text.csv", label_column=5)


def test_load_array_flattens_images_and_checks_errors(tmp_path, rng):
    np.savez(tmp_path / "img.npz", x=rng.uniform(size=(4, 3, 3)))
    x, y = datasets.load_array(tmp_path / "img.npz")
    assert x.shape == (4, 9) and y is None
    with pytest.raises(ValueError, match="No data file"):
        datasets.load_array(tmp_path / "missing.npz")
    (tmp_path / "d.txt").write_text("1,2")
    with pytest.raises(ValueError, match="Unsupported"):
        datasets.load_array(tmp_path / "d.txt")
    np.savez(tmp_path / "two.npz", a=np.zeros(2), b=np.zeros(2))
    with pytest.raises(ValueError, match="named 'x'"):
        datasets.load_array(tmp_path / "two.npz")
    np.savez(tmp_path / "mismatch.npz", x=np.zeros((3, 2)), y=np.zeros(2))
    with pytest.raises(ValueError, match="3 samples but y has 2"):
        datasets.load_array(tmp_path / "mismatch.npz")


def test_load_array_reads_h5ad_with_sparse_x_and_obs_labels(tmp_path):
    anndata = pytest.importorskip("anndata")
    from scipy import sparse

    x = np.array([[0, 3, 1], [2, 0, 0], [0, 0, 7], [1, 1, 1]], "float32")
    path = tmp_path / "cells.h5ad"
    anndata.AnnData(
        X=sparse.csr_matrix(x), obs={"kind": ["b", "a", "b", "c"]}
    ).write_h5ad(path)
    loaded, labels = datasets.load_array(path, label_column="kind")
    np.testing.assert_array_equal(loaded, x)
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(labels, [1, 0, 1, 2])
    assert datasets.load_array(path)[1] is None
    with pytest.raises(ValueError, match="no obs column 'cell'.*'kind'"):
        datasets.load_array(path, label_column="cell")


def test_make_count_clusters_is_seeded_counts():
    x, y = synthetic.make_count_clusters(
        n_samples=50, n_features=30, n_clusters=4, random_state=3
    )
    again, _ = synthetic.make_count_clusters(
        n_samples=50, n_features=30, n_clusters=4, random_state=3
    )
    np.testing.assert_array_equal(x, again)
    assert x.shape == (50, 30) and y.shape == (50,)
    assert (x >= 0).all() and (x == np.round(x)).all()
    assert set(np.unique(y)) <= set(range(4))
    # The dropout zeroes some counts of the same draws and changes no other.
    plain, _ = synthetic.make_count_clusters(
        n_samples=50,
        n_features=30,
        n_clusters=4,
        random_state=3,
        dropout=False,
    )
    kept = x > 0
    np.testing.assert_array_equal(x[kept], plain[kept])
    assert (x == 0).sum() > (plain == 0).sum()


def test_image_arrays_keep_their_shape_and_tables_have_none(tmp_path, rng):
    from vade_tf.data import files, images

    assert images.image_shape_of_samples((7, 16, 16)) == (16, 16)
    assert images.image_shape_of_samples((7, 16, 12, 3)) == (16, 12, 3)
    assert images.image_shape_of_samples((7, 256)) is None
    # Not images: flattened into rows as before.
    assert images.image_shape_of_samples((7, 10, 5, 6)) is None
    assert images.image_shape_of_samples((7, 2, 2, 2, 2)) is None
    assert images.image_shape_of_samples((7, 3, 32, 32)) is None
    assert "transpose(0, 2, 3, 1)" in images.channels_first_hint((7, 3, 32, 32))
    assert images.channels_first_hint((7, 10, 5, 6)) is None
    assert images.channels_first_hint((7, 32, 32, 3)) is None
    assert images.same_images((16, 16), (16, 16, 1))
    assert not images.same_images((16, 16), (16, 16, 3))
    assert not images.same_images((16, 20), (20, 16))
    assert images.check_image_shape([28, 28]) == (28, 28)
    for bad in ("16,16", (16,), (0, 4), (2.5, 4), None):
        with pytest.raises(ValueError, match="image_shape must be"):
            images.check_image_shape(bad)
    np.save(tmp_path / "grey.npy", rng.uniform(size=(5, 16, 16)))
    np.savez(tmp_path / "rgb.npz", x=rng.uniform(size=(5, 6, 7, 3)), y=[0] * 5)
    np.savez(tmp_path / "flat.npz", x=rng.uniform(size=(5, 256)))
    with h5py.File(tmp_path / "grey.h5", "w") as handle:
        handle["x"] = rng.uniform(size=(5, 16, 16, 1))
    expected = {
        "grey.npy": ((16, 16), 256),
        "rgb.npz": ((6, 7, 3), 126),
        "flat.npz": (None, 256),
        "grey.h5": ((16, 16, 1), 256),
    }
    for name, (shape, n_features) in expected.items():
        data = files.read_data(tmp_path / name)
        assert data.image_shape == shape, name
        assert data.x.shape == (5, n_features), name
    # Channels first: a table, as before, with a warning that says so.
    np.save(tmp_path / "first.npy", rng.uniform(size=(5, 3, 16, 16)))
    with pytest.warns(UserWarning, match="first.npy.*channels-first"):
        data = files.read_data(tmp_path / "first.npy")
    assert data.image_shape is None and data.x.shape == (5, 768)


@pytest.mark.parametrize(
    "shape, augments",
    [
        (None, False),
        ((8, 8), False),
        ((15, 40), False),
        ((16, 16), True),
        ((28, 28), True),
        ((32, 32, 3), True),
    ],
)
def test_augmented_pretraining_needs_images_of_16_pixels_a_side(
    shape, augments
):
    from vade_tf.data import images
    from vade_tf.training import recipes

    assert images.augments(shape) is augments
    expected = "augment" if augments else "adam"
    assert recipes.resolve_pretrain_recipe(recipes.TUNED, shape) == expected
    # An explicit recipe is kept whatever the shape.
    explicit = recipes.TUNED.replace(pretrain_recipe="augment")
    assert recipes.resolve_pretrain_recipe(explicit, shape) == "augment"
