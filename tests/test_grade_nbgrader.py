"""nbgrader accepts solutions/ as they are, and its scores agree with `make grade` on honest submissions.

nbgrader 0.9.6 installs beside the pinned stack without changing it, but it
brings notebook 7, ipywidgets and SQLAlchemy into the course's JupyterLab; so
it lives in build/nbgrader-venv, a venv that sees .venv's packages (torch,
handgrad, Jupyter) and adds only nbgrader's own (tests/fixtures/grade/
nbgrader-requirements.txt).  `make test-nbgrader` creates it (~20 s, from the
package index) and runs this file; elsewhere it is skipped.

The test: `nbgrader generate_assignment` on every notebook of solutions/en and
solutions/it; then, for lesson 01, learners' notebooks made from nbgrader's
release version are graded by `nbgrader autograde` and by handgrad.grade.  On
honest submissions (right, wrong, not done, raising) the points agree, check
cell by check cell.  On a tampered one (cmp redefined in an exercise cell)
nbgrader awards the point and handgrad.grade does not: the reason for
handgrad.grade.
"""
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import REPO
from handgrad.grade import grade_folder
from handgrad.grading import course, run

VENV = REPO / "build" / "nbgrader-venv"
REQUIREMENTS = REPO / "tests" / "fixtures" / "grade" / "nbgrader-requirements.txt"

pytestmark = pytest.mark.skipif(os.environ.get("HANDGRAD_NBGRADER_TEST") != "1",
                                reason="nbgrader runs in its own environment: `make test-nbgrader`")

RIGHT = {"ex_dlogprobs": "dlogprobs = torch.zeros_like(logprobs)\ndlogprobs[range(n), Yb] = -1.0/n",
         "ex_dprobs": "dprobs = (1.0 / probs) * dlogprobs"}
HONEST = {  # (assignment = language, answers)
    "alice": ("en", RIGHT),
    "bob": ("en", dict(RIGHT, ex_dlogprobs=RIGHT["ex_dlogprobs"].replace("-1.0", "1.0"))),
    "carol": ("en", {}),  # nbgrader's own stubs: raise NotImplementedError()
    "erin": ("en", dict(RIGHT, ex_dprobs="dprobs = 1.0 / probz")),
    "paolo": ("it", dict(RIGHT, ex_dprobs="dprobs = (1.0 / probs).sum(1)")),
}
TAMPERED = {"dave": ("en", dict(RIGHT, ex_dlogprobs="def cmp(*args, **kwargs):\n    return args[1]\ndlogprobs = 0"))}


def nbgrader_python():
    """build/nbgrader-venv/bin/python, made if missing: a venv that reads .venv's site-packages, plus nbgrader."""
    python = VENV / "bin" / "python"
    marker = VENV / ".installed"
    if marker.is_file() and marker.read_text() == REQUIREMENTS.read_text():
        return python
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(VENV)], check=True)
    own = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         check=True, capture_output=True, text=True).stdout.strip()
    course_packages = sysconfig.get_paths()["purelib"]
    # addsitedir, not a bare path: .venv's own .pth files (the editable handgrad) must run too
    Path(own, "_handgrad_course.pth").write_text(f"import site; site.addsitedir({course_packages!r})\n")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-r", str(REQUIREMENTS), "-c", str(REPO / "constraints.txt")], check=True)
    marker.write_text(REQUIREMENTS.read_text())
    return python


def nbgrader(python, course_dir, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("HANDGRAD_STRICT", "NBGRADER_EXECUTION")}
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"  # the kernel's `python` is the venv's
    result = subprocess.run([str(python), "-m", "nbgrader", *args, "--force"], cwd=course_dir, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


SCORES = """
import json, sys
from nbgrader.api import Gradebook
with Gradebook("sqlite:///gradebook.db") as gb:
    print(json.dumps({s: {g.name: g.score for g in gb.find_submission_notebook(sys.argv[1], a, s).grades}
                      for s, a in json.loads(sys.argv[2]).items()}))
"""


def test_nbgrader_accepts_the_solutions_and_agrees_with_handgrad_grade(tmp_path):
    python = nbgrader_python()
    course_dir = tmp_path / "course"
    (course_dir / "nbgrader_config.py").parent.mkdir()
    (course_dir / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'handgrad'\n")
    for lang in ("en", "it"):
        solutions = sorted((REPO / "solutions" / lang).glob("*.ipynb"))
        shutil.copytree(REPO / "solutions" / lang, course_dir / "source" / lang)
        nbgrader(python, course_dir, "generate_assignment", lang)
        released = sorted((course_dir / "release" / lang).glob("*.ipynb"))
        assert [p.name for p in released] == [p.name for p in solutions]
        for path in released:  # every grade cell kept its id and its point
            cells = json.loads(path.read_text())["cells"]
            ids = [c["metadata"]["nbgrader"]["grade_id"] for c in cells if c["metadata"].get("nbgrader", {}).get("grade")]
            assert ids and all(c["metadata"]["nbgrader"].get("points") == 1 for c in cells
                               if c["metadata"].get("nbgrader", {}).get("grade"))

    students = {**HONEST, **TAMPERED}
    mine = tmp_path / "submissions"
    for student, (lang, answers) in students.items():
        nb = json.loads((course_dir / "release" / lang / "01_dlogprobs.ipynb").read_text())
        for cell in nb["cells"]:
            grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
            if grade_id in answers:
                cell["source"] = answers[grade_id]
        for path in (course_dir / "submitted" / student / lang / "01_dlogprobs.ipynb",
                     mine / student / "01_dlogprobs.ipynb"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(nb))
    for lang in ("en", "it"):
        nbgrader(python, course_dir, "autograde", lang)
    theirs = json.loads(subprocess.run(
        [str(python), "-c", SCORES, "01_dlogprobs", json.dumps({s: a for s, (a, _) in students.items()})],
        cwd=course_dir, check=True, capture_output=True, text=True).stdout)

    rows = {r["student"]: r for r in grade_folder(mine, tmp_path / "gradebook.csv", jobs=2, progress=False,
                                                  limits=run.Limits(cell_timeout=60))}
    lesson = course.load(REPO, "lessons/01_dlogprobs.md", "en")
    for student in students:
        ours = {c.grade_id: int(rows[student]["points"][("01_dlogprobs", e.grade_id)])
                for e in lesson.exercises for c in e.checks}
        nbg = {name: int(score) for name, score in theirs[student].items()}
        if student in HONEST:
            assert ours == nbg, (student, ours, nbg, rows[student]["status"])
        else:  # nbgrader runs the learner's cmp; handgrad.grade compares outside the learner's code
            assert nbg == {"check_logprobs": 1, "check_probs": 1}
            assert ours == {"check_logprobs": 0, "check_probs": 1}
            assert "tampering:ex_dlogprobs" in rows[student]["status"]
