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


def pytest_collection_modifyitems(items):
    """Under `-n 2 --dist loadgroup`, all the cells of one notebook run on one worker, in order.

    nbval turns every cell of a solution notebook into a test item, and they
    share one kernel; the other tests are spread one by one over both cores.
    """
    for item in items:
        if item.nodeid.endswith(".ipynb") or ".ipynb::" in item.nodeid:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
