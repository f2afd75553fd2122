"""A public clone works on its own: nothing reads data from outside the repository."""
import re
from pathlib import Path

import numpy as np

from snn_from_scratch import datasets

ROOT = Path(__file__).resolve().parents[1]


def test_no_code_or_chapter_reads_a_neighbouring_shared_folder():
    pattern = re.compile(r"\.\./shared|shared/data|parents\[2\]")
    offenders = []
    for path in [*ROOT.glob("snn_from_scratch/**/*.py"), *ROOT.glob("chapters/*.ipynb"),
                 *ROOT.glob("tests/*.py"), *ROOT.glob("examples/*.py"), *ROOT.glob("benchmarks/*.py"),
                 *ROOT.glob("validation/**/*.py")]:
        if path.name == Path(__file__).name:
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".ipynb":  # sources only: committed outputs are checked elsewhere
            import json
            text = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"])
        if pattern.search(text):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"these read data from outside the repository: {offenders}"


def test_the_offline_mnist_subset_is_in_the_package(monkeypatch, tmp_path):
    monkeypatch.delenv("SNN_MNIST5K", raising=False)
    m = datasets.load_mnist("mnist", data_dir=tmp_path)
    assert m["source"] == "mnist5k: snn_from_scratch/data/mnist5k"
    assert np.bincount(m["y_test"]).tolist() == [100] * 10
