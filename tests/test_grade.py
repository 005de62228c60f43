"""handgrad.grade: a teacher's quick grading of learners' notebooks, and the same scores as nbgrader's mode."""
import nbformat
import pytest
from nbclient import NotebookClient

from conftest import REPO
from handgrad.grade import grade, scores


def submission(tmp_path, **answers):
    """The English student notebook of lesson 01 with some exercise cells answered (by grade id)."""
    nb = nbformat.read(REPO / "notebooks" / "en" / "01_dlogprobs.ipynb", as_version=4)
    by_id = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}
    for grade_id, source in answers.items():
        by_id[grade_id].source = source
    path = tmp_path / "01_dlogprobs.ipynb"
    nbformat.write(nb, path)
    return path


WRONG_DLOGPROBS = "dlogprobs = torch.zeros_like(logprobs)\ndlogprobs[range(n), Yb] = 1.0/n  # wrong sign"
RIGHT_DPROBS = "dprobs = (1.0 / probs) * dlogprobs"


def test_grade_counts_done_checks_and_ignores_tampered_ones(tmp_path):
    path = submission(tmp_path, ex_dlogprobs="dlogprobs = torch.zeros_like(logprobs)\ndlogprobs[range(n), Yb] = -1.0/n",
                      ex_dprobs="dprobs = 1.0 / probs  # forgot the chain rule",
                      check_probs="print('✅ done')")  # an edited check must not award a point
    rows = {grade_id: (points, earned) for grade_id, points, earned in grade(path)}
    assert rows["check_logprobs"] == (1, 1)
    assert rows["check_probs"] == (1, 0)


def nbgrader_scores(path):
    """What nbgrader's autograde counts: a grade cell earns its points when it raises no error."""
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return [(c.metadata.nbgrader.grade_id, c.metadata.nbgrader.points,
             0 if any(o.output_type == "error" for o in c.outputs) else c.metadata.nbgrader.points)
            for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


@pytest.mark.parametrize("mode", ["NBGRADER_EXECUTION=autograde", "HANDGRAD_STRICT=1"])
def test_each_exercise_is_graded_on_its_own_in_strict_modes_as_in_handgrad_grade(tmp_path, monkeypatch, mode):
    """A wrong dlogprobs and a right dprobs: 1 of 2 in every mode (the mistake does not carry over)."""
    path = submission(tmp_path, ex_dlogprobs=WRONG_DLOGPROBS, ex_dprobs=RIGHT_DPROBS)
    ours = {g: e for g, _, e in grade(path)}
    monkeypatch.setenv(*mode.split("="))
    strict = {g: e for g, _, e in nbgrader_scores(path)}
    assert ours == strict == {"check_logprobs": 0, "check_probs": 1}


def cell(outputs):
    return nbformat.v4.new_code_cell("", metadata={"nbgrader": {"grade": True, "grade_id": "check_x", "points": 1}},
                                     outputs=outputs)


def verdict(status):
    return nbformat.v4.new_output("display_data", data={"text/plain": "✅ done"},
                                  metadata={"handgrad": {"status": status}})


@pytest.mark.parametrize("outputs, earned", [
    ([verdict("done")], 1),
    ([verdict("done"), verdict("wrong")], 0),
    ([verdict("done"), nbformat.v4.new_output("error", ename="AssertionError", evalue="", traceback=[])], 0),
    ([nbformat.v4.new_output("stream", name="stdout", text="x | ✅ done\n")], 0),  # printed text is not a verdict
    ([], 0),
])
def test_scores_read_the_verdicts_not_the_text(outputs, earned):
    nb = nbformat.v4.new_notebook(cells=[cell(outputs)])
    assert scores(nb) == [("check_x", 1, earned)]
