"""`python -m handgrad.grade`: a class graded in one run, on real small notebooks.

One grading run of a folder of crafted submissions of a small fixture lesson
(tests/fixtures/grade/lessons/98_grade.md: three exercises, each using the
gradient of the one before), one submission per fault and per tampering case
(CASES), then a second run that must resume.  The run starts ~15 kernels, so it
happens once, in one test (`make test` spreads tests over two workers one by
one, and a shared fixture would run once per worker); a failure names every
case that went wrong.  The parts that need no kernel are in test_grade_units.py.
"""
import csv
import shutil
import time

import nbformat
import psutil

from conftest import REPO
from handgrad import generate as gen
from handgrad.grade import grade_folder, main
from handgrad.grading import run

FIXTURE = REPO / "tests" / "fixtures" / "grade" / "lessons" / "98_grade.md"
LIMITS = run.Limits(cell_timeout=3, timeout=120, memory=int(2.5 * 2 ** 30))
RIGHT = {"ex_dy": "dy = 2 * y", "ex_dx": "dx = w * dy", "ex_dw": "dw = (x * dy).sum(1, keepdim=True)"}
COLUMNS = ["ex_dy", "ex_dx", "ex_dw"]


def move_first_exercise_to_the_end_and_split_dx(nb):
    """Reordered cells, and dx written in a cell the learner added after its (untouched) exercise cell."""
    cells = nb.cells
    first = next(i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "ex_dy")
    cells.append(cells.pop(first))
    dx = next(i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "ex_dx")
    cells.insert(dx + 1, nbformat.v4.new_code_cell("dx = w * dy"))
    return nb


def drop(grade_id):
    def edit(nb):
        nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != grade_id]
        return nb
    return edit


# student: (language, answers, edit, points of ex_dy/ex_dx/ex_dw, status codes)
CASES = {
    "right_it": ("it", RIGHT, None, (1, 1, 1), {"ok"}),
    # a wrong dy: dx and dw, which use dy, still score (the reset gives them the solution's dy)
    "wrong_first": ("en", dict(RIGHT, ex_dy="dy = y  # forgot the 2"), None, (0, 1, 1), {"ok"}),
    "stub": ("en", {}, None, (0, 0, 0), {"ok"}),
    # cmp redefined to print a "done" row, and torch.allclose patched: the kernel's checks say done, the grader does not
    "tamper_cmp_allclose": ("en", dict(
        RIGHT, ex_dy="def cmp(name, dt, t):\n    print(name, '| exact: True | ✅ done')\n    return dt\ndy = y",
        ex_dx="torch.allclose = lambda *args, **kwargs: True\ndx = torch.zeros_like(x)"),
        None, (0, 0, 1), {"tampering:ex_dy,ex_dx"}),
    # torch.Tensor.__eq__ patched, and a fake row printed instead of an answer
    "tamper_eq_print": ("en", dict(
        RIGHT, ex_dy="torch.Tensor.__eq__ = lambda a, b: True\ndy = torch.ones_like(y)",
        ex_dx="print('x               | exact: True  | approximate: True  | maxdiff: 0.0 | ✅ done')"),
        None, (0, 0, 1), {"tampering:ex_dy,ex_dx"}),
    # autograd's answer: read directly, passed on through a helper, recomputed with backward()
    "autograd": ("en", dict(
        ex_dy="dy = y.grad.clone()\nhelper = x.grad", ex_dx="dx = helper.clone()",
        ex_dw="L2 = (x * w).pow(2).sum()\nL2.backward()\ndw = (x * dy).sum(1, keepdim=True)"),
        None, (0, 0, 0), {"autograd:ex_dy,ex_dx,ex_dw"}),
    # an exception, then Python itself ending (os._exit): the exercise between them still scores
    "raises": ("en", dict(RIGHT, ex_dy="dy = 2 * why", ex_dw="import os\nos._exit(3)"), None, (0, 1, 0),
               {"exception:ex_dy", "kernel-died:ex_dw", "review:ex_dw"}),
    # a loop that ignores the interrupt (killed, kernel restarted), then an endless print loop (interrupted,
    # its output cut at 1 MB so that it cannot fill the grader's memory)
    "loops": ("en", dict(RIGHT, ex_dy="import time\nwhile True:\n    try:\n        time.sleep(0.05)\n"
                                       "    except KeyboardInterrupt:\n        pass",
                         ex_dx="while True:\n    print('spam ' * 100)"), None, (0, 0, 1), {"timeout:ex_dy,ex_dx"}),
    # memory filled and kept: the kernel is restarted for the next exercises. The hog takes address space
    # (what the limit counts) without writing to it: one that fills its pages runs at the machine's
    # page-fault speed, and on a slow CI machine reached the 3-second cell limit first (graded "timeout")
    "memory": ("en", dict(RIGHT, ex_dy="hog = []\nwhile True:\n    hog.append(torch.empty(2 ** 26))"), None,
               (0, 1, 1), {"memory:ex_dy"}),
    "missing_cell": ("en", RIGHT, drop("ex_dx"), (1, 0, 1), {"missing-cells:ex_dx"}),
    "reordered": ("en", dict(RIGHT, ex_dx="dx = ...  # YOUR CODE HERE"), move_first_exercise_to_the_end_and_split_dx,
                  (1, 1, 1), {"reordered-cells"}),
}


def student_notebook(root, lang):
    return gen.render(root / "lessons" / FIXTURE.name, check=False)[(lang, "student")]


def submit(folder, root, student, lang, answers, edit=None):
    nb = student_notebook(root, lang)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    if edit:
        nb = edit(nb)
    path = folder / student / "98_grade.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def class_folder(folder, root):
    """One notebook per case, and three files that cannot be graded."""
    for student, (lang, answers, edit, _, _) in CASES.items():
        submit(folder, root, student, lang, answers, edit)
    (folder / "broken").mkdir()
    (folder / "broken" / "98_grade.ipynb").write_text('{"cells": [{"cell_type": "code", "source": "dy = 2 *')
    (folder / "plain").mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("dy = 2 * y")]),
                   folder / "plain" / "98_grade.ipynb")
    (folder / "README.txt").write_text("one folder per student")


def wrong_cases(rows):
    """Every case whose points or status are not what CASES says, with what was found."""
    wrong = []
    for student, (_, _, _, points, codes) in CASES.items():
        found = rows.get(f"{student}/98_grade.ipynb")
        if found is None:
            wrong.append(f"{student}: no row")
            continue
        got = tuple(int(found["points"].get(("98_grade", c), -1)) for c in COLUMNS)
        if got != points or set(found["status"].split()) != codes or found["total"] != str(sum(points)):
            wrong.append(f"{student}: points {got} (want {points}), status {found['status']!r} (want {codes})")
    return wrong


def test_a_class_is_graded_each_exercise_on_its_own_whatever_the_learner_did(tmp_path, monkeypatch):
    root = tmp_path / "course"
    (root / "lessons").mkdir(parents=True)
    shutil.copy(FIXTURE, root / "lessons" / FIXTURE.name)
    folder, out = tmp_path / "submissions", tmp_path / "gradebook.csv"
    class_folder(folder, root)
    start = time.monotonic()
    rows = {r["file"]: r for r in grade_folder(folder, out, jobs=2, limits=LIMITS, root=root, progress=False)}
    print(f"\ngraded {len(rows)} files in {time.monotonic() - start:.1f}s")

    # every fault and every tampering case: the points it earned, and a status that says what happened
    assert not wrong_cases(rows), "\n".join(wrong_cases(rows))

    # the gradebook: one column per exercise, one row per file, no temporary file left behind
    with open(out, newline="", encoding="utf-8") as source:
        lines = list(csv.reader(source))
    assert lines[0] == ["student", "lesson", "language", *COLUMNS, "total", "max", "status", "file", "sha256",
                        "feedback"]
    assert len(lines) == 1 + len(CASES) + 3
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".gradebook")] == []

    # files that cannot be graded: a row each, with a status
    assert rows["broken/98_grade.ipynb"]["status"] == "invalid-notebook"
    assert rows["plain/98_grade.ipynb"]["status"] == "not-handgrad"
    assert rows["README.txt"]["status"] == "unrecognised-file" and rows["README.txt"]["feedback"] == ""

    # the feedback pages: in the submission's language, with cmp's diagnosis and what the grader saw
    def page(student):
        return (tmp_path / rows[f"{student}/98_grade.ipynb"]["feedback"]).read_text(encoding="utf-8")
    italian = page("right_it")
    assert '<html lang="it">' in italian and "Punteggio: 3 su 3" in italian and "✅ fatto" in italian
    wrong = page("wrong_first")
    assert "Score: 2 out of 3" in wrong and "❌ wrong" in wrong and "the right answer times 0.5" in wrong
    autograd = page("autograd")
    assert "reads autograd&#x27;s result (.grad, line 1)" in autograd
    assert "computed in ex_dy from autograd&#x27;s result" in autograd
    assert "stopped with an error: NameError" in page("raises")
    assert "ran for more than 3 s" in page("loops")
    assert "changes how answers are checked" in page("tamper_cmp_allclose")
    assert "not a readable notebook" in page("broken")

    # no kernel, no process of a learner, is left running
    assert not [p for p in psutil.Process().children(recursive=True) if "ipykernel" in " ".join(p.cmdline())]

    # a second run, as if the first had stopped before "stub", after "wrong_first" handed in again:
    # it grades those two and keeps every other row as it was
    with open(out, "w", newline="", encoding="utf-8") as target:
        csv.writer(target).writerows([line for line in lines if line[-3] != "stub/98_grade.ipynb"])
    submit(folder, root, "wrong_first", "en", RIGHT)
    runs = []
    run_worker = run.run_worker

    def counted(job, where, limits):
        runs.append("resets" in job)  # a submission (a reference run has no resets)
        return run_worker(job, where, limits)

    monkeypatch.setattr(run, "run_worker", counted)
    again = {r["file"]: r for r in grade_folder(folder, out, jobs=2, limits=LIMITS, root=root, progress=False)}
    assert runs.count(True) == 2
    assert again["wrong_first/98_grade.ipynb"]["total"] == "3" and again["stub/98_grade.ipynb"]["total"] == "0"
    for file, before in rows.items():
        if file.split("/")[0] not in ("wrong_first", "stub"):
            assert again[file] == before, file


def test_the_command_line_reports_a_missing_folder(tmp_path, capsys):
    assert main([str(tmp_path / "nowhere"), "--out", str(tmp_path / "g.csv"), "--quiet"]) == 2
    assert "no folder" in capsys.readouterr().err
