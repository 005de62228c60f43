"""Under nbgrader's autograder (and HANDGRAD_STRICT=1) a wrong answer fails its own check cell only.

The strict `cmp` raises in the check cell, but first leaves autograd's
gradient in the learner's variable, so the next exercise is graded on its own:
a wrong dlogprobs and a right dprobs score 1 of 2, as `make grade` scores them
(tests/test_grade.py checks the same case on its fixture lesson).
"""
import nbformat
from nbclient import NotebookClient

from conftest import REPO

WRONG_DLOGPROBS = "dlogprobs = torch.zeros_like(logprobs)\ndlogprobs[range(n), Yb] = 1.0/n  # wrong sign"
RIGHT_DPROBS = "dprobs = (1.0 / probs) * dlogprobs"


def test_a_wrong_answer_fails_only_its_own_check_under_nbgrader_autograde(tmp_path, monkeypatch):
    nb = nbformat.read(REPO / "notebooks" / "en" / "01_dlogprobs.ipynb", as_version=4)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    cells["ex_dlogprobs"].source = WRONG_DLOGPROBS
    cells["ex_dprobs"].source = RIGHT_DPROBS
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    NotebookClient(nb, kernel_name="python3", allow_errors=True,  # as nbgrader's autograde runs it
                   resources={"metadata": {"path": str(REPO / "notebooks" / "en")}}).execute()
    failed = {c.metadata.nbgrader.grade_id: any(o.output_type == "error" for o in c.outputs)
              for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}
    assert failed == {"check_logprobs": True, "check_probs": False}
