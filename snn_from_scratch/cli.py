"""Command line: ``python -m snn_from_scratch COMMAND [options]``.

Each command lives in the module that owns the work and exposes ``main(argv) -> int``;
this file only dispatches, so that adding a command never touches another's code. It also
keeps two ordinary events from ending in a traceback: a closed pipe (``gradcheck --all |
head``) and Ctrl-C.
"""
from __future__ import annotations

import importlib
import sys

#: command -> (module, function, one-line help)
COMMANDS = {
    "tour": ("snn_from_scratch.tour", "main",
             "prove every cell's gradients and train a quick comparison on MNIST-1D"),
    "gradcheck": ("snn_from_scratch.proofs", "main",
                  "print the finite-difference proof table (--cell NAME | --all)"),
    "train": ("snn_from_scratch.train_cli", "main", "train and evaluate a network of one cell type"),
    "evaluate": ("snn_from_scratch.evaluate_cli", "main",
                 "test accuracy, firing rates and a confusion matrix of a saved checkpoint"),
    "reproduce": ("snn_from_scratch.experiments", "main",
                  "run one of the papers' experiments (list them with `reproduce --list`)"),
    "reference": ("snn_from_scratch.reference", "main",
                  "export / compare reference gradients for other frameworks"),
    "fetch": ("snn_from_scratch.fetch", "main",
              "download and verify the real data sets (mnist, fsdd, alice, ...)"),
    "bench": ("snn_from_scratch.cli", "bench",
              "benchmark training steps against PyTorch (runs benchmarks/bench.py of a clone)"),
    "exercises": ("snn_from_scratch.exercises", "main",
                  "build the students' exercise notebooks, or grade a solution with a diagnosis"),
}
NOT_HERE = {}


def bench(argv):
    """``bench``: the benchmarks live outside the package (they need PyTorch), in
    ``benchmarks/`` of a clone of the repository; run there in a fresh interpreter, so that
    the BLAS threads are pinned before NumPy is imported."""
    import pathlib
    import subprocess

    script = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "bench.py"
    if not script.is_file():
        print("the benchmarks are not part of the installed package: in a clone of the "
              "repository run `python -m benchmarks.bench [--fast]` from its root "
              "(benchmarks/README.md)", file=sys.stderr)
        return 2
    return subprocess.call([sys.executable, str(script), *argv])


def usage():
    lines = ["usage: python -m snn_from_scratch COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<11}{help_}" for name, (_, _, help_) in COMMANDS.items()]
    lines += ["", "`python -m snn_from_scratch COMMAND --help` describes a command's options.",
              "Benchmarks against PyTorch: `python -m benchmarks.bench` (outside the package)."]
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd in NOT_HERE:
        print(NOT_HERE[cmd], file=sys.stderr)
        return 2
    if cmd not in COMMANDS:
        print(f"unknown command {cmd!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module, func, _ = COMMANDS[cmd]
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name == module:
            print(f"command {cmd!r} is not available in this version", file=sys.stderr)
            return 2
        raise
    try:
        return int(getattr(mod, func)(rest) or 0)
    except BrokenPipeError:
        # the reader went away (`... | head`): not an error of ours, and no traceback.
        # Point stdout at /dev/null so that the interpreter's final flush stays quiet too.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
