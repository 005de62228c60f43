"""Shared fixtures: the tests choose cmp's mode themselves, whatever `make test` exports."""
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
REFERENCE_NAMES = REPO.parent / "shared" / "reference-data" / "makemore-names.txt"


@pytest.fixture(autouse=True)
def learner_mode(monkeypatch):
    """Every test starts in learner mode, as a plain `from handgrad import cmp` in JupyterLab."""
    monkeypatch.delenv("HANDGRAD_STRICT", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    from handgrad import set_language
    set_language("en")

