"""One recipe for the tour and `train`; the tour's results; `train --dataset PATH.npz` and `--save`."""
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from snn_from_scratch import checkpoint, cli, recipes, tour, train_cli

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("data"))


def run_module(*args, cwd=ROOT):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", SNN_FAST="1", MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-m", "snn_from_scratch", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=300)


def no_traceback(r):
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr


# ---------------------------------------------------------------------------------- the tour
def test_tour_fast_writes_its_own_folder_with_the_new_fields(tmp_path, data_dir, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rc = cli.main(["tour", "--fast", "--skip-proofs", "--cells", "rnn", "lif", "--epochs", "1",
                   "--data-dir", data_dir])
    text = capsys.readouterr().out
    assert rc == 0, text
    out = tmp_path / "runs" / "tour-fast"          # never runs/tour: a full run's results stay
    assert not (tmp_path / "runs" / "tour").exists()
    for f in ("results.json", "learning_curves.png", "accuracy.png"):
        assert (out / f).is_file()
        assert str(pathlib.Path("runs/tour-fast") / f) in text  # every figure's path is printed
    res = json.load(open(out / "results.json"))["results"]
    assert [r["cell"] for r in res] == ["rnn", "lif"]
    for r in res:
        for key in ("test_acc", "readout", "encoding", "firing_rate", "dead_fraction", "n_params"):
            assert key in r
        assert r["readout"] == recipes.recipe(r["cell"])["readout"]
    assert res[0]["firing_rate"] is None                     # a smooth cell has no spikes
    assert 0 <= res[1]["firing_rate"] <= 1 and 0 <= res[1]["dead_fraction"] <= 1
    assert "chance: 10%" in text
    # at least one line per cell and epoch in a log (stdout is not a terminal here)
    assert "rnn           epoch 1/1" in text and "lif           epoch 1/1" in text


def test_tour_settings_are_the_recipes():
    assert tour.SETTINGS is recipes.RECIPES
    rec = tour.tour_settings("gated_lif")
    assert rec == recipes.recipe("gated_lif") and rec["config"]["variant"] == "v2"
    assert tour.tour_settings("gru", hidden=7, epochs=2)["hidden"] == 7
    assert set(recipes.TARGETS) <= set(recipes.RECIPES)


def test_tour_prints_why_a_cell_misses_its_target():
    r = {"cell": "lif", "encoding": "raw", "readout": "li-max", "kappa": 0.9, "layers": 1, "hidden": 8,
         "lr": 0.01, "n_params": 10, "test_acc": 0.2, "target": 0.45, "met_target": False,
         "firing_rate": 0.1, "dead_fraction": 0.5, "sec_per_epoch": 0.1, "config": {}, "why": "because"}
    text = tour.format_table([r])
    assert "lif below its target: because" in text and "20.0%!" in text


# ---------------------------------------------------------------------------- one recipe
def args_of(*argv):
    return train_cli.parser().parse_args(list(argv))


@pytest.mark.parametrize("cell", ["lif", "src", "spiking_lstm", "gru"])
def test_train_and_tour_build_the_same_network(cell, monkeypatch):
    monkeypatch.setenv("SNN_FAST", "0")  # the full recipe (fast mode shortens train's epochs)
    rec_train = train_cli.settings(args_of("--cell", cell))
    assert rec_train == tour.tour_settings(cell) == recipes.recipe(cell)
    a = recipes.build(cell, 1, 10, rec_train, seed=0)
    b = recipes.build(cell, 1, 10, tour.tour_settings(cell), seed=0)
    assert a.describe() == b.describe()
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])


def test_train_and_tour_give_the_same_accuracy(tmp_path, data_dir, capsys):
    rc = cli.main(["tour", "--fast", "--skip-proofs", "--cells", "src", "--epochs", "1", "--hidden", "16",
                   "--out", str(tmp_path), "--data-dir", data_dir])
    assert rc == 0
    capsys.readouterr()
    acc_tour = json.load(open(tmp_path / "results.json"))["results"][0]["test_acc"]
    args = args_of("--cell", "src", "--fast", "--epochs", "1", "--hidden", "16", "--quiet", "--data-dir", data_dir)
    res = train_cli.run(args)
    assert res["test_acc"] == acc_tour


def test_config_overrides_the_recipe_key_by_key(monkeypatch):
    monkeypatch.setenv("SNN_FAST", "0")
    rec = train_cli.settings(args_of("--cell", "gated_lif", "--config", "n_bits=4"))
    assert rec["config"] == {**recipes.recipe("gated_lif")["config"], "n_bits": 4}
    rec = train_cli.settings(args_of("--cell", "gated_lif", "--no-recipe", "--readout", "li-mean"))
    assert rec["config"] == {} and rec["readout"] == "li-mean" and rec["encoding"] == "raw"
    assert train_cli.settings(args_of("--cell", "gru", "--clip", "0"))["clip"] is None


def test_train_help_lists_recipes_and_config_keys():
    r = run_module("train", "--help")
    assert r.returncode == 0
    assert "recipes" in r.stdout and "li-max" in r.stdout
    for key in ("threshold_levels", "b_h_init", "theta_c", "recurrent"):
        assert key in r.stdout


def test_encodings():
    X = np.arange(2 * 5 * 1, dtype=np.float32).reshape(2, 5, 1)
    f, k = recipes.encoder("delay:3", X)
    assert k == 3 and f(X).shape == (2, 5, 3) and f(X)[0, 4].tolist() == [4, 3, 2]
    f, k = recipes.encoder("thermometer:4", X)
    assert k == 4 and set(np.unique(f(X))) <= {0.0, 1.0} and f(X).shape == (2, 5, 4)
    for bad in ("delay", "delay:0", "spikes", "thermometer:x"):
        with pytest.raises(ValueError, match="encoding"):
            recipes.parse_encoding(bad)


# ---------------------------------------------------------------------- --dataset PATH.npz
def test_train_on_a_users_npz(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 6, 2)).astype(np.float32)
    y = (x[:, :, 0].sum(1) > 0).astype(np.int64)
    path = tmp_path / "mine.npz"
    np.savez(path, x=x, y=y)
    rc = cli.main(["train", "--cell", "gru", "--dataset", str(path), "--epochs", "2", "--hidden", "4", "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "32 train / 8 test, 2 classes" in out and "6 steps x 2 inputs" in out
    np.savez(path, x=x[:, :, 0], y=y, x_test=x[:5, :, 0], y_test=y[:5].astype(float))  # (N, T): one input
    Xtr, ytr, Xte, yte, desc = train_cli.load_data(str(path))
    assert Xtr.shape == (40, 6, 1) and Xte.shape == (5, 6, 1) and yte.dtype == np.int64


@pytest.mark.parametrize("arrays, word", [
    (dict(y=np.zeros(4, int)), "missing array"),
    (dict(x=np.zeros(4), y=np.zeros(4, int)), "shape (N, T, n_in)"),
    (dict(x=np.full((4, 3, 1), np.nan), y=np.zeros(4, int)), "NaN"),
    (dict(x=np.zeros((4, 3, 1)), y=-np.ones(4, int)), ">= 0"),
    (dict(x=np.zeros((4, 3, 1)), y=np.full(4, 0.5)), "integer"),
    (dict(x=np.zeros((4, 3, 1)), y=np.zeros(3, int)), "4 samples but y has 3"),
    (dict(x=np.zeros((4, 3, 1)), y=np.zeros(4, int), x_test=np.zeros((2, 3, 1))), "both x_test and y_test"),
    (dict(x=np.zeros((4, 3, 1)), y=np.zeros(4, int), x_test=np.zeros((2, 3, 2)), y_test=np.zeros(2, int)),
     "inputs per step"),
])
def test_bad_npz_is_refused_in_one_line(tmp_path, arrays, word, capsys):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    assert cli.main(["train", "--cell", "rnn", "--dataset", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and word in err


def test_not_an_npz(tmp_path):
    for name, content in (("text.npz", b"hello"), ("missing.npz", None)):
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        r = run_module("train", "--cell", "rnn", "--dataset", str(path), "--quiet")
        assert r.returncode == 2 and r.stderr.count("\n") == 1
        no_traceback(r)
    r = run_module("train", "--cell", "rnn", "--dataset", "mnist3d", "--quiet")
    assert r.returncode == 2 and "unknown dataset" in r.stderr
    no_traceback(r)


# ------------------------------------------------------------------------------- --save
def test_save_is_checked_before_training(tmp_path):
    (tmp_path / "afile").write_text("x")
    for target, word in ((tmp_path, "is a folder"), (tmp_path / "afile" / "m.npz", "not a folder")):
        r = run_module("train", "--cell", "rnn", "--quiet", "--save", str(target))
        assert r.returncode == 2 and word in r.stderr and r.stderr.count("\n") == 1
        assert "data    :" not in r.stdout  # refused before loading data and training
        no_traceback(r)


def test_save_falls_back_when_writing_fails(tmp_path, data_dir, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    real = checkpoint.save_checkpoint
    target = tmp_path / "out" / "m.npz"

    def failing(path, *a, **k):
        if pathlib.Path(path) == target:
            raise PermissionError(13, "Permission denied")
        return real(path, *a, **k)

    monkeypatch.setattr(checkpoint, "save_checkpoint", failing)
    rc = cli.main(["train", "--cell", "rnn", "--fast", "--hidden", "4", "--quiet", "--save", str(target),
                   "--data-dir", data_dir])
    err = capsys.readouterr().err
    assert rc == 1 and "saved to" in err and "Permission denied" in err
    fallback = list(tmp_path.glob("snn_checkpoint-*.npz"))
    assert len(fallback) == 1
    net, extra = checkpoint.load_checkpoint(fallback[0])
    assert net.layers[0].name == "rnn"


def test_expected_failures_have_no_traceback():
    for argv in (("train", "--cell", "nope"), ("train", "--cell", "rnn", "--lr", "-1"),
                 ("train", "--cell", "rnn", "--encoding", "delay:x"),
                 ("train", "--cell", "rnn", "--config", "bogus=1"),
                 ("tour", "--cells", "nope"), ("tour", "--epochs", "0")):
        r = run_module(*argv)
        assert r.returncode == 2, argv
        assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, (argv, r.stderr)
        no_traceback(r)
