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
from handgrad.check import WIDTH
from handgrad.grade import verdicts

LESSONS = gen.lesson_paths(REPO)
STUDENT_NOTEBOOKS = sorted((REPO / "notebooks").glob("*/*.ipynb"))
# One language per lesson, alternating (00 it, 01 en, 02 it, ...): a student notebook
# costs 10-20 s, and the other language's is the same code (test_lesson_rules checks
# it cell by cell, comments aside), whose solution nbval runs in full.
STUDENT_RUNS = [p for p in STUDENT_NOTEBOOKS
                if p.parent.name == ("it", "en")[int(p.stem[:2]) % 2]]


def printed(cell):
    """Everything a code cell printed or displayed as text (cmp's rows are display_data)."""
    texts = [o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in cell.get("outputs", [])]
    return "".join(t if t.endswith("\n") else t + "\n" for t in texts if t)


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
            found = verdicts(cell)
            assert found and all(v["status"] == "done" for v in found), f"{lang} {cell.metadata.nbgrader.grade_id}"
            assert "✅" in printed(cell)


def test_each_lesson_runs_as_a_student_notebook_in_one_language():
    assert sorted(p.stem for p in STUDENT_RUNS) == sorted(p.stem for p in LESSONS)
    assert {p.parent.name for p in STUDENT_RUNS} == set(gen.LANGUAGES)


@pytest.mark.parametrize("notebook", STUDENT_RUNS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_student_notebook_runs_to_the_end_with_every_check_to_do(notebook, tmp_path):
    """One run per student notebook, several checks on it (each kernel start costs seconds).

    Lesson 00 runs on the lecture's own names file when it is beside the repo,
    and must then print the lecture's numbers.
    """
    lecture = notebook.stem == "00_intro" and REFERENCE_NAMES.exists()
    start = time.perf_counter()
    out = papermill.execute_notebook(str(notebook), str(tmp_path / notebook.name), kernel_name="python3",
                                     parameters={"names_path": str(REFERENCE_NAMES)} if lecture else {},
                                     cwd=str(notebook.parent), progress_bar=False)
    elapsed = time.perf_counter() - start
    checks = [c for c in out.cells if c.metadata.get("nbgrader", {}).get("grade")]
    recap = [c for c in out.cells if "recap" in c.metadata.get("tags", [])]
    assert checks and len(recap) == 1
    for cell in checks:
        found = verdicts(cell)
        assert found and all(v["status"] == "todo" for v in found), f"{cell.metadata.nbgrader.grade_id}: {found}"
        todo = "⏳ da fare" if notebook.parent.name == "it" else "⏳ to do"
        assert todo in printed(cell)
    # the recap must not take autograd's stand-ins for the learner's answers
    statuses = [v["status"] for v in verdicts(recap[0])]
    assert len(statuses) >= len(checks) and set(statuses) == {"todo"}, statuses
    assert not [o for c in out.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    if lecture:
        text = "".join(printed(c) for c in out.cells if c.cell_type == "code")
        assert "32033" in text and "182625" in text
    assert elapsed < 60, f"{notebook.name} took {elapsed:.1f}s"


def test_the_lectures_names_file_is_beside_the_repo():
    """Without it, lesson 00 is checked on data/names.txt only (the cross-check with the lecture is skipped)."""
    if not REFERENCE_NAMES.exists():
        pytest.skip(f"the lecture's names file is not at {REFERENCE_NAMES}: lesson 00 not cross-checked with it")
    assert REFERENCE_NAMES.stat().st_size > 0


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_every_line_of_every_solution_fits_in_the_lab(lesson):
    """cmp wraps at word boundaries within 100 characters; JupyterLab fits about 128 at 1400 px."""
    for lang in gen.LANGUAGES:
        nb = nbformat.read(gen.outputs_for(lesson)[lang, "solution"], as_version=4)
        long = [line for c in nb.cells if c.cell_type == "code" for line in printed(c).splitlines()
                if len(line) > WIDTH]
        assert not long, f"{lang}: {long[:3]}"


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
