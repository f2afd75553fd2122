"""``python -m snn_from_scratch evaluate``: accuracy, firing rates and the confusion matrix of
a checkpoint, on a user's .npz, the data set recorded by ``train``; one-line errors."""
from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from snn_from_scratch import checkpoint, cli, evaluate_cli, network, optim, training

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _task(n, seed):
    """A 3-class task a tiny network learns in a few epochs: which of 3 inputs is largest
    on average over 6 steps (sample-major, float32)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = 0.3 * rng.standard_normal((n, 6, 3)).astype(np.float32)
    x[np.arange(n), :, y] += 1.0
    return x.astype(np.float32), y


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    x, y = _task(120, 0)
    xt, yt = _task(60, 1)
    path = d / "mine.npz"
    np.savez(path, x=x, y=y, x_test=xt, y_test=yt)
    return path


def _trained(cell, data_file, tmp_path, extra=None, readout="linear", hidden=8):
    z = np.load(data_file)
    net = network.build(cell, 3, hidden, 3, readout=readout, seed=0, dtype=np.float32)
    opt = optim.Adam(net.params, lr=0.02)
    training.train(net, z["x"], z["y"], opt, 3, 20, np.random.default_rng(0), progress=False)
    path = tmp_path / f"{cell}.npz"
    checkpoint.save_checkpoint(path, net, opt, extra=extra)
    return net, path


def _run(argv, capsys):
    code = evaluate_cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_accuracy_rates_and_figure(data_file, tmp_path, capsys):
    net, ckpt = _trained("lif", data_file, tmp_path)
    code, out, err = _run(["--checkpoint", str(ckpt), "--dataset", str(data_file), "--out", str(tmp_path / "ev")],
                          capsys)
    assert code == 0, err
    z = np.load(data_file)
    _, acc = network.evaluate(net, z["x_test"], z["y_test"])
    assert f"test accuracy: {acc:.4f} (60 sequences)" in out
    # the firing rate: the fraction of non-zero outputs of the layer over the test set
    y, _ = net.layers[0].forward(np.ascontiguousarray(z["x_test"].transpose(1, 0, 2)))
    assert f"layer 0 (lif): firing rate {np.count_nonzero(y) / y.size:.4f}" in out
    fig = tmp_path / "ev" / "confusion_lif.png"
    js = tmp_path / "ev" / "evaluate_lif.json"
    assert f"figure written to {fig}" in out and f"results written to {js}" in out
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    res = json.loads(js.read_text())
    conf = np.array(res["confusion"])
    assert conf.shape == (3, 3) and conf.sum() == 60
    assert np.trace(conf) / 60 == pytest.approx(acc)
    assert res["layers"][0]["spiking"] and 0 <= res["layers"][0]["dead_fraction"] <= 1
    # the network is left as it was: no wrapper left on the layers, training flag restored
    assert "forward" not in vars(net.layers[0])


def test_evaluate_leaves_layers_unwrapped(data_file, tmp_path):
    net, _ = _trained("lif", data_file, tmp_path)
    net.train()
    z = np.load(data_file)
    res = evaluate_cli.evaluate(net, z["x_test"], z["y_test"], batch_size=7)
    assert res["n"] == 60 and len(res["predictions"]) == 60
    assert all("forward" not in vars(c) for c in net.layers)
    assert all(c.training for c in net.layers)


def test_dataset_recorded_by_train_is_used(data_file, tmp_path, capsys):
    extra = {"command": "train", "args": {"dataset": str(data_file), "seed": 0, "fast": False},
             "recipe": {"encoding": "raw"}}
    _, ckpt = _trained("gru", data_file, tmp_path, extra=extra)
    code, out, err = _run(["--checkpoint", str(ckpt), "--out", str(tmp_path / "ev")], capsys)
    assert code == 0, err
    assert "mine.npz" in out and "(60 sequences)" in out
    assert "layer 0 (gru): not a spiking layer" in out


def test_train_then_evaluate_agree(tmp_path, capsys, monkeypatch):
    """A checkpoint written by `train --save` (its recipe's encoding: a delay line for src)
    evaluates to the accuracy train reported."""
    from snn_from_scratch import train_cli

    monkeypatch.chdir(tmp_path)
    x, y = _task(100, 2)
    np.savez(tmp_path / "d.npz", x=x, y=y)   # no test set: train's seeded 20% split
    assert train_cli.main(["--cell", "src", "--dataset", "d.npz", "--epochs", "1", "--hidden", "8",
                           "--save", "m.npz", "--quiet", "--fast"]) == 0
    out = capsys.readouterr().out
    trained = float(out.split("test accuracy: ")[1].split()[0])
    code, out, err = _run(["--checkpoint", "m.npz"], capsys)
    assert code == 0, err
    assert f"test accuracy: {trained:.4f} (20 sequences)" in out
    from snn_from_scratch import recipes
    assert f"{recipes.RECIPES['src']['encoding']} encoding" in out
    fig = out.split("figure written to ")[1].split()[0]
    assert (tmp_path / fig).is_file()
    # the default folder says which mode wrote it (SNN_FAST=1 under pytest: runs/fast/...)
    assert fig == str(pathlib.Path("runs", "fast" if evaluate_cli.fast_mode() else "", "evaluate", "confusion_m.png"))


@pytest.mark.parametrize("case", ["missing", "not_npz", "truncated", "no_dataset", "missing_data",
                                  "wrong_inputs", "bad_dataset_name"])
def test_expected_failures_are_one_line(case, data_file, tmp_path, capsys):
    _, ckpt = _trained("lif", data_file, tmp_path)
    argv = ["--checkpoint", str(ckpt), "--out", str(tmp_path / "ev")]
    if case == "missing":
        argv[1] = str(tmp_path / "nope.npz")
    elif case == "not_npz":
        (tmp_path / "text.npz").write_text("not a checkpoint\n")
        argv[1] = str(tmp_path / "text.npz")
    elif case == "truncated":
        (tmp_path / "cut.npz").write_bytes(ckpt.read_bytes()[:200])
        argv[1] = str(tmp_path / "cut.npz")
    elif case == "missing_data":
        argv += ["--dataset", str(tmp_path / "absent.npz")]
    elif case == "wrong_inputs":
        np.savez(tmp_path / "five.npz", x=np.zeros((4, 6, 5), np.float32), y=np.arange(4) % 3)
        argv += ["--dataset", str(tmp_path / "five.npz")]
    elif case == "bad_dataset_name":
        argv += ["--dataset", "cifar"]
    code, out, err = _run(argv, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in out + err
    expect = {"missing": "no checkpoint at", "not_npz": "not an .npz archive", "truncated": "not a readable",
              "no_dataset": "records no data set", "missing_data": "no such file",
              "wrong_inputs": "expects 3", "bad_dataset_name": "unknown dataset"}[case]
    assert expect in lines[0]


def test_command_line(data_file, tmp_path):
    """`python -m snn_from_scratch evaluate` is wired into the command line."""
    assert "evaluate" in cli.COMMANDS, "cli.py: add the 'evaluate' command (snn_from_scratch.evaluate_cli)"
    _, ckpt = _trained("lif", data_file, tmp_path)
    r = subprocess.run([sys.executable, "-m", "snn_from_scratch", "evaluate", "--checkpoint", str(ckpt),
                        "--dataset", str(data_file), "--out", str(tmp_path / "cli")],
                       capture_output=True, text=True, env={"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",
                                                            **__import__("os").environ})
    assert r.returncode == 0, r.stderr
    assert "test accuracy:" in r.stdout and (tmp_path / "cli" / "confusion_lif.png").is_file()
