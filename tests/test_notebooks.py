"""The generated notebooks: in sync with lessons/, runnable by a learner, strict in the solutions."""
import json
import os
import subprocess
import sys
import time

import nbformat
import papermill
import pytest

from conftest import REFERENCE_NAMES, REPO
from handgrad import generate as gen

LESSONS = gen.lesson_paths(REPO)
STUDENT_NOTEBOOKS = sorted((REPO / "notebooks").glob("*/*.ipynb"))


def printed(cell):
    """Everything a code cell printed."""
    return "".join(o.get("text", "") for o in cell.get("outputs", []))


def comparable(nb):
    """What `make notebooks` decides in a solution notebook: cells and metadata, not what running it printed."""
    cells = [(c.cell_type, c.id, c.source, json.dumps(c.metadata, sort_keys=True)) for c in nb.cells]
    meta = {k: v for k, v in nb.metadata.items() if k != "language_info"}
    return cells, meta


def test_there_are_lessons():
    assert len(LESSONS) >= 2


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_committed_notebooks_are_in_sync_with_the_lesson(lesson):
    stale = []
    for (lang, variant), fresh in gen.render(lesson).items():
        path = gen.outputs_for(lesson)[lang, variant]
        if not path.exists():
            stale.append(f"{path} is missing")
            continue
        if variant == "student":
            if path.read_text(encoding="utf-8") != nbformat.writes(fresh) + "\n":
                stale.append(str(path))
        else:
            committed = nbformat.read(path, as_version=4)
            if comparable(committed) != comparable(fresh):
                stale.append(str(path))
    assert not stale, "out of sync with lessons/ (run `make notebooks`): " + ", ".join(stale)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_committed_solutions_were_executed(lesson):
    for lang in gen.LANGUAGES:
        nb = nbformat.read(gen.outputs_for(lesson)[lang, "solution"], as_version=4)
        checks = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
        assert checks, "a lesson with exercises has check cells"
        for cell in checks:
            text = printed(cell)
            assert "✅" in text, f"{lang} {cell.metadata.nbgrader.grade_id}: {text!r}"


@pytest.mark.parametrize("notebook", STUDENT_NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_student_notebook_runs_to_the_end_with_every_check_to_do(notebook, tmp_path):
    start = time.perf_counter()
    out = papermill.execute_notebook(str(notebook), str(tmp_path / notebook.name), kernel_name="python3",
                                     cwd=str(notebook.parent), progress_bar=False)
    elapsed = time.perf_counter() - start
    checks = [c for c in out.cells if c.metadata.get("nbgrader", {}).get("grade")]
    recap = [c for c in out.cells if "recap" in c.metadata.get("tags", [])]
    assert checks and len(recap) == 1
    todo = "⏳ da fare" if notebook.parent.name == "it" else "⏳ to do"
    for cell in checks:
        text = printed(cell)
        assert todo in text, f"{cell.metadata.nbgrader.grade_id}: {text!r}"
    # the recap must not take autograd's stand-ins for the learner's answers
    rows = [line for line in printed(recap[0]).splitlines() if " | exact: " in line]
    assert len(rows) >= len(checks) and all(todo in row for row in rows), rows
    assert elapsed < 60, f"{notebook.name} took {elapsed:.1f}s"


@pytest.mark.skipif(not REFERENCE_NAMES.exists(), reason="the lecture's names file is not beside the repo")
@pytest.mark.parametrize("lang", gen.LANGUAGES)
def test_intro_with_the_lectures_file_prints_the_lectures_numbers(lang, tmp_path, monkeypatch):
    monkeypatch.setenv("HANDGRAD_STRICT", "1")
    notebook = REPO / "solutions" / lang / "00_intro.ipynb"
    out = papermill.execute_notebook(str(notebook), str(tmp_path / "out.ipynb"), kernel_name="python3",
                                     parameters={"names_path": str(REFERENCE_NAMES)},
                                     cwd=str(notebook.parent), progress_bar=False)
    text = "".join(printed(c) for c in out.cells if c.cell_type == "code")
    assert "32033" in text and "182625" in text


def test_nbval_fails_a_wrong_solution_and_passes_a_right_one(tmp_path):
    """The CI check of solutions/ is only worth something if a wrong gradient makes it fail."""
    fixture = (REPO / "tests" / "fixtures" / "lessons" / "99_try.md").read_text()
    wrong = fixture.replace("dlogprobs[range(n), Yb] = -1.0/n", "dlogprobs[range(n), Yb] = 1.0/n")
    assert wrong != fixture
    results = {}
    for label, text in (("right", fixture), ("wrong", wrong)):
        lesson = tmp_path / label / "lessons" / "99_try.md"
        lesson.parent.mkdir(parents=True)
        lesson.write_text(text)
        gen.generate([lesson], run=False)
        solution = gen.outputs_for(lesson)["en", "solution"]
        env = dict(os.environ, HANDGRAD_STRICT="1")
        results[label] = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", str(solution)],
            capture_output=True, text=True, env=env, cwd=tmp_path)
    assert results["right"].returncode == 0, results["right"].stdout[-2000:]
    assert results["wrong"].returncode != 0
    assert "AssertionError" in results["wrong"].stdout
