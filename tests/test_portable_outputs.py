"""Committed chapters and docs name no folder of the machine that produced them."""
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# absolute paths of a machine: /home/..., /root/..., /work/..., /tmp/..., /Users/..., C:\...
ABSOLUTE = re.compile(r"(?<![\w.~])(/home/|/root/|/work/|/tmp/|/Users/|/private/var/|[A-Z]:\\\\Users)")


def _outputs_text(nb_path):
    nb = json.loads(nb_path.read_text())
    parts = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            parts.append(json.dumps(out))
    return "\n".join(parts)


@pytest.mark.parametrize("nb", sorted((ROOT / "chapters").glob("*.ipynb")), ids=lambda p: p.name)
def test_committed_outputs_have_no_absolute_paths(nb):
    hits = sorted(set(m.group(0) for m in ABSOLUTE.finditer(_outputs_text(nb))))
    assert not hits, f"{nb.name}: outputs contain absolute paths starting {hits}; re-run it"


def test_docs_have_no_absolute_paths():
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text()
        assert not ABSOLUTE.search(text), f"{doc.name} contains an absolute path"


def test_the_pattern_catches_a_path():
    assert ABSOLUTE.search('"text": "mnist5k: /work/elsewhere/mnist5k"')
    assert not ABSOLUTE.search('"text": "mnist5k: snn_from_scratch/data/mnist5k"')
