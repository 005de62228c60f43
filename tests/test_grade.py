"""handgrad.grade: a teacher's quick grading of learners' notebooks."""
import nbformat

from conftest import REPO
from handgrad.grade import grade


def test_grade_counts_done_checks_and_ignores_tampered_ones(tmp_path):
    nb = nbformat.read(REPO / "notebooks" / "en" / "01_dlogprobs.ipynb", as_version=4)
    by_id = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}
    by_id["ex_dlogprobs"].source = "dlogprobs = torch.zeros_like(logprobs)\ndlogprobs[range(n), Yb] = -1.0/n"
    by_id["ex_dprobs"].source = "dprobs = 1.0 / probs  # forgot the chain rule"
    by_id["check_probs"].source = "print('✅')"  # an edited check must not award a point
    submitted = tmp_path / "01_dlogprobs.ipynb"
    nbformat.write(nb, submitted)
    rows = {grade_id: (points, earned) for grade_id, points, earned in grade(submitted)}
    assert rows["check_logprobs"] == (1, 1)
    assert rows["check_probs"] == (1, 0)
