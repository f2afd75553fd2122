"""Checkpoints refuse bad input without costing data (issue: bad input, as an attacker and
as a clumsy user would try it).

Every crafted, corrupt, truncated or foreign file gives a one-line ``ValueError`` naming
the path and what is wrong, and the network, its buffers, the optimizer and the schedule
are exactly as they were after a refused load: loading validates every value first, then
applies everything.
"""
import copy
import json
import math
import os
import pickle
import re

import numpy as np
import pytest

from snn_from_scratch import checkpoint
from snn_from_scratch.checkpoint import load_checkpoint, read_header, save_checkpoint
from snn_from_scratch.network import build
from snn_from_scratch.optim import SGD, Adam, CosineAnnealing


def trained(optimizer="adam"):
    """A lif network with every kind of buffer (float, int, arrays), one optimizer step done."""
    net = build("lif", 2, 4, 3, config={"norm": "batch"})
    opt = (Adam(net.params, lr=1e-2) if optimizer == "adam"
           else SGD(net.params, lr=0.1, momentum=0.9))
    sched = CosineAnnealing(opt, T_max=5)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 6, 2))
    loss, grads, _ = net.loss_and_grads(x, rng.integers(0, 3, 6))
    opt.step(grads)
    sched.step()
    return net, opt, sched


def fresh(optimizer="adam"):
    """Another network/optimizer/schedule of the same kind, its values different from the
    checkpoint's (so that an applied value would show)."""
    net = build("lif", 2, 4, 3, config={"norm": "batch"}, seed=7)
    opt = (Adam(net.params, lr=3e-3) if optimizer == "adam"
           else SGD(net.params, lr=0.05, momentum=0.5))
    return net, opt, CosineAnnealing(opt, T_max=5)


def snapshot(net, opt, sched):
    return copy.deepcopy(({k: v.copy() for k, v in net.params.items()},
                          [dict(c.buffers) for c in net.layers],
                          {s: {k: v.copy() for k, v in d.items()} for s, d in opt.state.items()},
                          opt.t, opt.hyper(), sched.state_dict(), opt.params))


def same(a, b):
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def rewrite(src, dst, header=None, arrays=None):
    """Copy checkpoint ``src`` to ``dst`` with ``header(h)`` / ``arrays(a)`` applied in place."""
    with np.load(src) as z:
        a = {k: z[k] for k in z.files}
    h = json.loads(str(a.pop("header")[()]))
    if header:
        header(h)
    if arrays:
        arrays(a)
    np.savez(dst, header=np.array(json.dumps(h)), **a)
    return dst


def _hyper(**kw):
    return lambda h: h["optimizer"]["hyper"].update(kw)


def _truncate(src, dst):
    data = open(src, "rb").read()
    open(dst, "wb").write(data[:len(data) // 2])
    return dst


def _corrupt(src, dst):
    data = bytearray(open(src, "rb").read())
    with np.load(src) as z:  # flip bytes inside a stored array's data (not in a zip header)
        info = z.zip.getinfo("param/0.W.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 128
    for i in range(start, start + 16):
        data[i] ^= 0xFF
    open(dst, "wb").write(bytes(data))
    return dst


def _bad_json(src, dst):
    with np.load(src) as z:
        a = {k: z[k] for k in z.files}
    a["header"] = np.array('{"format": "snn_from_scratch.checkpoint/1", "model": ')
    np.savez(dst, **a)
    return dst


def _no_header(src, dst):
    with np.load(src) as z:
        a = {k: z[k] for k in z.files if k != "header"}
    np.savez(dst, **a)
    return dst


def _write(content):
    def make(src, dst):
        open(dst, "wb").write(content)
        return dst
    return make


def _npy(src, dst):
    np.save(dst, np.zeros(3))
    return str(dst) + ".npy" if not str(dst).endswith(".npy") else dst


def _directory(src, dst):
    os.mkdir(dst)
    return dst


def _unknown_array(src, dst):
    return rewrite(src, dst, arrays=lambda a: a.update({"evil/payload": np.zeros(3)}))


def _optim_array(name, value):
    return lambda src, dst: rewrite(src, dst, arrays=lambda a: a.update({name: value(a[name])}))


#: (label, how the bad file is made from a good checkpoint, error pattern). Every one must
#: give a one-line ValueError naming the path and leave everything untouched.
CASES = [
    # optimizer settings (applied with a bare setattr before): each would wreck the next step
    ("Adam eps = 0", lambda s, d: rewrite(s, d, _hyper(eps=0)), r"eps must be > 0, got 0"),
    ("Adam betas = (1.5, 2)", lambda s, d: rewrite(s, d, _hyper(betas=[1.5, 2])),
     r"betas must be two numbers in \[0, 1\), got \[1.5, 2\]"),
    ("Adam betas = 0.9 (not a pair)", lambda s, d: rewrite(s, d, _hyper(betas=0.9)), r"betas must be two numbers"),
    ("Adam t = -3", lambda s, d: rewrite(s, d, lambda h: h["optimizer"].update(t=-3)),
     r"t must be an integer >= 0, got -3"),
    ("Adam t = 2.5", lambda s, d: rewrite(s, d, lambda h: h["optimizer"].update(t=2.5)),
     r"t must be an integer >= 0, got 2.5"),
    ("lr = -1", lambda s, d: rewrite(s, d, _hyper(lr=-1)), r"lr must be >= 0, got -1"),
    ("lr = NaN", lambda s, d: rewrite(s, d, _hyper(lr=float("nan"))), r"lr must be a finite number, got nan"),
    ("lr = '0.1' (a string)", lambda s, d: rewrite(s, d, _hyper(lr="0.1")), r"lr must be a finite number"),
    ("weight_decay = -0.1", lambda s, d: rewrite(s, d, _hyper(weight_decay=-0.1)), r"weight_decay must be >= 0"),
    ("decoupled = 'yes'", lambda s, d: rewrite(s, d, _hyper(decoupled="yes")), r"decoupled must be True or False"),
    ("a 'params' entry in the optimizer settings",
     lambda s, d: rewrite(s, d, _hyper(params={"0.W": [0.0]})),
     r"hyper-parameters must be exactly \['betas', 'decoupled', 'eps', 'lr', 'weight_decay'\], got .*'params'"),
    ("a missing hyper-parameter", lambda s, d: rewrite(s, d, lambda h: h["optimizer"]["hyper"].pop("eps")),
     r"hyper-parameters must be exactly"),
    ("an extra key in the optimizer header",
     lambda s, d: rewrite(s, d, lambda h: h["optimizer"].update(state="x")),
     r"optimizer header must have exactly the keys \['hyper', 'slots', 't', 'type'\]"),
    ("optimizer of another type", lambda s, d: rewrite(s, d, lambda h: h["optimizer"].update(type="SGD")),
     r"optimizer state is for 'SGD', this optimizer is 'Adam'"),
    ("a missing optimizer slot", lambda s, d: rewrite(
        s, d, lambda h: h["optimizer"].update(slots=["m"]),
        lambda a: [a.pop(k) for k in list(a) if k.startswith("optim/v/")]),
     r"optimizer state slots: \['m'\], expected \['m', 'v'\]"),
    ("optimizer arrays of no slot", lambda s, d: rewrite(s, d, lambda h: h["optimizer"].update(slots=["m"])),
     r"arrays \['optim/v/0.W', .*\] belong to no optimizer slot"),
    ("an optimizer array of another shape", _optim_array("optim/m/0.W", lambda v: np.zeros((3, 3))),
     r"optimizer state m\['0.W'\] is float64\(3, 3\), expected float64\(2, 4\)"),
    ("an optimizer array of another dtype", _optim_array("optim/m/0.W", lambda v: v.astype(np.float32)),
     r"optimizer state m\['0.W'\] is float32\(2, 4\), expected float64\(2, 4\)"),
    ("a NaN in Adam's first moment", _optim_array("optim/m/0.W", lambda v: np.full_like(v, np.nan)),
     r"optimizer state m\['0.W'\] holds non-finite values"),
    ("a negative second moment", _optim_array("optim/v/0.W", lambda v: -1.0 - v),
     r"optimizer state v\['0.W'\] \(a second moment\) holds negative values"),
    # buffers: an unknown kind raised KeyError after the parameters were overwritten
    ("an unknown buffer kind", lambda s, d: rewrite(s, d, lambda h: h["buffers"][0].update(b="pickle")),
     r"layer 0 buffer 'b' has an unknown kind 'pickle'"),
    ("a buffer missing from the header", lambda s, d: rewrite(s, d, lambda h: h["buffers"][0].pop("bn_var")),
     r"layer 0 buffers: checkpoint has .*, model has"),
    ("a buffer array of another shape", _optim_array("buffer/0/bn_mean", lambda v: np.zeros(5)),
     r"buffer/0/bn_mean is float64\(5,\), the model's is float64\(4,\)"),
    ("an int buffer stored as an array", _optim_array("buffer/0/b_updates", lambda v: np.arange(3)),
     r"buffer/0/b_updates should be one int"),
    ("a NaN range b", _optim_array("buffer/0/b", lambda v: np.array(np.nan)), r"buffer/0/b is nan, not a finite number"),
    ("a stored buffer array of no buffer", lambda s, d: rewrite(s, d, arrays=lambda a: a.update({"buffer/0/evil": np.zeros(2)})),
     r"arrays \['buffer/0/evil'\] belong to no buffer"),
    # schedule
    ("schedule epoch = -1", lambda s, d: rewrite(s, d, lambda h: h["schedule"].update(epoch=-1)),
     r"epoch must be an integer >= 0, got -1"),
    ("schedule of another type", lambda s, d: rewrite(s, d, lambda h: h["schedule"].update(type="StepDecay")),
     r"the schedule state is for 'StepDecay', this schedule is 'CosineAnnealing'"),
    ("an extra key in the schedule state", lambda s, d: rewrite(s, d, lambda h: h["schedule"].update(T_max=1)),
     r"schedule state must have exactly the keys \['base_lr', 'epoch'\]"),
    # parameters and the header
    ("a parameter of another shape", _optim_array("param/0.W", lambda v: np.zeros((3, 3))),
     r"parameter '0.W' is float64\(3, 3\), the model's is float64\(2, 4\)"),
    ("a parameter of another dtype", _optim_array("param/0.W", lambda v: v.astype(np.float32)),
     r"parameter '0.W' is float32\(2, 4\), the model's is float64\(2, 4\)"),
    ("a missing parameter", lambda s, d: rewrite(s, d, arrays=lambda a: a.pop("param/0.W")),
     r"parameters \[.*\] differ from the model's"),
    ("an array of an unknown name", _unknown_array, r"unknown array 'evil/payload'"),
    ("header without 'model'", lambda s, d: rewrite(s, d, lambda h: h.pop("model")),
     r"header keys: missing \['model'\], unknown \[\]"),
    ("header with an unknown key", lambda s, d: rewrite(s, d, lambda h: h.update(code="import os")),
     r"header keys: missing \[\], unknown \['code'\]"),
    ("header of another format", lambda s, d: rewrite(s, d, lambda h: h.update(format="keras/2")),
     r"header of another format: 'keras/2', expected 'snn_from_scratch.checkpoint/1'"),
    ("header that is a JSON list", lambda s, d: rewrite(s, d) and _list_header(d), r"bad header: a JSON list"),
    ("extra that is not an object", lambda s, d: rewrite(s, d, lambda h: h.update(extra=[1, 2])),
     r"'extra' must be a JSON object, got list"),
    # files that are not checkpoints
    ("a truncated file", _truncate, r"truncated or corrupt \(File is not a zip file\)"),
    ("corrupt bytes in an array", _corrupt, r"corrupt or truncated \(Bad CRC-32 for file 'param/0.W.npy'\)"),
    ("bad header JSON", _bad_json, r"bad header, not JSON \(Expecting value"),
    ("a .npz without a header", _no_header, r"no header: a .npz file, but not a snn_from_scratch checkpoint"),
    ("a text file", _write(b"epoch,loss\n1,0.5\n"), r"not a checkpoint: not an .npz archive \(zip\)"),
    ("an empty file", _write(b""), r"an empty file, not a checkpoint"),
    ("a pickle", _write(pickle.dumps({"param/0.W": [1.0]})), r"not a checkpoint: a pickle \(checkpoints never hold one\)"),
    ("a .npy array", _npy, r"a single .npy array, not a checkpoint"),
    ("a directory", _directory, r"is a directory, not a checkpoint file"),
]


def _list_header(path):
    with np.load(path) as z:
        a = {k: z[k] for k in z.files}
    a["header"] = np.array("[1, 2]")
    np.savez(path, **a)
    return path


def refused(tmp_path, make, optimizer="adam"):
    """Make the bad file, load it into a live network/optimizer/schedule; return the error
    and check that nothing changed."""
    net, opt, sched = trained(optimizer)
    good = tmp_path / "good.npz"
    save_checkpoint(good, net, opt, schedule=sched, extra={"epoch": 1})
    bad = make(good, tmp_path / "bad.npz")
    net2, opt2, sched2 = fresh(optimizer)
    before = snapshot(net2, opt2, sched2)
    params_dict = opt2.params
    with pytest.raises(ValueError) as e:
        load_checkpoint(bad, net2, opt2, sched2)
    after = snapshot(net2, opt2, sched2)
    assert same(before, after), "a refused load changed the network, optimizer or schedule"
    # the optimizer still updates the network's live arrays (no replaced params dict)
    assert opt2.params is params_dict
    assert all(opt2.params[k] is v for k, v in net2.params.items())
    return str(bad), str(e.value)


@pytest.mark.parametrize("label,make,pattern", CASES, ids=[c[0] for c in CASES])
def test_refused_with_path_and_reason_and_nothing_changed(tmp_path, label, make, pattern):
    path, msg = refused(tmp_path, make)
    assert path in msg, msg
    assert "\n" not in msg, msg
    assert re.search(pattern, msg), msg


def test_sgd_settings_are_validated(tmp_path):
    for hyper, pattern in ((dict(momentum=1.0), r"momentum must be < 1, got 1.0"),
                           (dict(momentum=0.0), r"momentum 0.0: this SGD was built with momentum 0.5"),
                           (dict(nesterov=1), r"nesterov must be True or False"),
                           (dict(lr=math.inf), r"lr must be a finite number, got inf")):
        path, msg = _sgd_case(tmp_path, hyper)
        assert path in msg and "\n" not in msg
        assert re.search(pattern, msg), msg


def _sgd_case(tmp_path, hyper):
    sub = tmp_path / f"case{len(list(tmp_path.iterdir()))}"
    sub.mkdir()
    return refused(sub, lambda s, d: rewrite(s, d, _hyper(**hyper)), optimizer="sgd")


def test_read_header_refuses_foreign_files_too(tmp_path):
    for make, pattern in ((_truncate, "truncated"), (_bad_json, "not JSON"), (_no_header, "no header"),
                          (_write(b"hello"), "not a checkpoint")):
        net, opt, sched = trained()
        sub = tmp_path / f"h{len(list(tmp_path.iterdir()))}"
        sub.mkdir()
        good = save_checkpoint(sub / "good.npz", net, opt)
        bad = make(good, sub / "bad.npz")
        with pytest.raises(ValueError, match=pattern) as e:
            read_header(bad)
        assert str(bad) in str(e.value)
    with pytest.raises(FileNotFoundError):
        read_header(tmp_path / "missing.npz")


def test_a_good_checkpoint_loads_and_a_refused_one_did_not_half_load(tmp_path):
    """Control: the unmodified file loads into the same live objects (so the refusals above
    are not refusals of everything), and restores every value."""
    net, opt, sched = trained()
    good = save_checkpoint(tmp_path / "good.npz", net, opt, schedule=sched)
    net2, opt2, sched2 = fresh()
    load_checkpoint(good, net2, opt2, sched2)
    assert same(snapshot(net, opt, sched)[:6], snapshot(net2, opt2, sched2)[:6])


def test_optimizer_load_state_dict_validates_before_writing():
    net, opt, _ = trained()
    sd = opt.state_dict()
    other = Adam(build("lif", 2, 4, 3, config={"norm": "batch"}, seed=3).params, lr=5e-3)
    before = (other.t, other.hyper(), {s: {k: v.copy() for k, v in d.items()} for s, d in other.state.items()})
    for bad, pattern in ((dict(sd, t=-1), "t must be"), (dict(sd, hyper=dict(sd["hyper"], eps=0.0)), "eps"),
                         (dict(sd, extra=1), "unknown"), (dict(sd, state={"m": sd["state"]["m"]}), "slots")):
        with pytest.raises(ValueError, match=pattern):
            other.load_state_dict(bad)
        assert same(before, (other.t, other.hyper(), other.state))


def test_a_failed_save_leaves_no_partial_file(tmp_path):
    """Saving writes a temporary file and renames it: a save that fails (here: the target is
    a directory) leaves neither a truncated checkpoint nor a stray temporary file."""
    net, opt, sched = trained()
    target = tmp_path / "ck.npz"
    target.mkdir()
    with pytest.raises(OSError):
        save_checkpoint(target, net, opt)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.npz"]
    good = save_checkpoint(tmp_path / "ok.npz", net, opt)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.npz", "ok.npz"]
    assert checkpoint.read_header(good)["format"] == checkpoint.FORMAT
