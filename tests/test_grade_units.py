"""The grader's parts that need no kernel: the code scan, the cell mapping, the gradebook file, the kernel helpers."""
import csv
import io

import nbformat
import pytest
import torch

from conftest import REPO
from handgrad import generate as gen
from handgrad.check import Gradient
from handgrad.grade import Submission, _bytes, find, map_cells, mark_twice
from handgrad.grading import course, kernel, report, run, scan

FIXTURE_ROOT = REPO / "tests" / "fixtures" / "grade"


@pytest.mark.parametrize("source, kind, what", [
    ("dy = y.grad.clone()", "autograd", ".grad"),
    ("L.backward()\ndy = x", "autograd", ".backward"),
    ("from torch.autograd import grad\ndy = grad(L, y)[0]", "autograd", "import torch.autograd"),
    ("dy = torch.autograd.grad(L, y)[0]", "autograd", "torch.autograd"),
    ("from torch import func", "autograd", "import torch"),
    ("dy = getattr(y, 'grad')", "autograd", "getattr(…, 'grad')"),
    ("dy = cmp('y', ..., y)", "autograd", "= cmp(…)"),
    ("def cmp(*a):\n    return True", "tamper", "cmp = …"),
    ("from handgrad import cmp as check, check_shape as cmp", "tamper", "cmp = …"),
    ("torch.allclose = lambda *a, **k: True", "tamper", "torch.allclose = …"),
    ("torch.Tensor.__eq__ = lambda a, b: True", "tamper", "torch.Tensor.__eq__ = …"),
    ("T = torch.Tensor\nT.__eq__ = None", "tamper", "T.__eq__ = …"),
    ("import torch as t\nt.allclose = max", "tamper", "t.allclose = …"),
    ("setattr(torch, 'allclose', max)", "tamper", "setattr(…)"),
    ("globals()['cmp'] = print", "tamper", "globals(…)[…] = …"),
    ("print('y | exact: True | ✅ done')", "tamper", "'y | exact: True | ✅ done'"),
    ("print(f'{name} ✅ done')", "tamper", "' ✅ done'"),
    ("import os\nos.system('ls')", "review", "import os"),
    ("!ls", "review", "get_ipython(…)"),
    ("exec('dy = 2 * y')", "review", "exec(…)"),
    ("dy = getattr(y, name)", "review", "getattr(…)"),
    ("open('/etc/passwd').read()", "review", "open(…)"),
    ("torch.save(dy, '../worker/files/answer_0.pt')", "review", "torch.save(…)"),
    ("import torch.multiprocessing as mp", "review", "import torch.multiprocessing"),
])
def test_the_scan_flags_what_a_gradient_does_not_need(source, kind, what):
    assert (kind, what) in [(f.kind, f.what) for f in scan.scan(source)]


@pytest.mark.parametrize("source", [
    "dy = 2 * y",
    "dx = torch.zeros_like(x)\ndx += w * dy  # .grad in a comment is fine",
    "dlogits = F.one_hot(logits.max(1).indices, num_classes=27) * dlogit_maxes",
    "with torch.no_grad():\n    dy = y * 2",
    "cmp('y', dy, y)",  # a bare check, its value unused
    "print('gradient:', dy)",
    "dy = 2 * y\nprint(dy.shape)",
    "this is not python",
])
def test_the_scan_leaves_ordinary_answers_alone(source):
    assert scan.scan(source) == []


def test_an_answer_built_from_an_earlier_autograd_read_is_flagged_unless_the_grader_resets_it():
    cells = [("ex_a", "stash = y.grad\ndy = stash"), ("ex_b", "dx = w * stash"), ("ex_c", "dw = dy * x")]
    flags = scan.scan_exercises(cells, restored=[set(), {"dy"}, {"dy", "dx"}])
    assert [f.kind for f in flags[0]] == ["autograd"]
    assert [(f.kind, f.what, f.via) for f in flags[1]] == [("autograd", "stash", "ex_a")]
    assert flags[2] == []  # dy was put back by the grader before ex_c


def lesson(lang="en"):
    return course.load(FIXTURE_ROOT, "lessons/98_grade.md", lang)


def test_the_course_structure_of_a_lesson():
    found = lesson("it")
    assert found.title == "98 · Prova per il correttore" and found.points == 3
    assert [(e.grade_id, e.names, [c.grade_id for c in e.checks]) for e in found.exercises] == [
        ("ex_dy", ["dy"], ["check_y"]), ("ex_dx", ["dx"], ["check_x"]), ("ex_dw", ["dw"], ["check_w"])]
    assert found.exercises[0].stub == "dy = ...  # IL TUO CODICE QUI"
    with pytest.raises(LookupError):
        course.load(FIXTURE_ROOT, "../../etc/passwd", "en")
    with pytest.raises(LookupError):
        course.load(FIXTURE_ROOT, "lessons/98_grade.md", "fr")


def test_the_notebook_the_grader_runs_has_its_cells_around_each_exercise():
    nb = course.run_notebook(lesson(), answers={"ex_dx": ["dx = w * dy", "print(dx)"]})
    roles = [(c.metadata[course.ROLE]["role"], c.metadata[course.ROLE].get("ex")) for c in nb.cells]
    assert roles[:2] == [("course", None), ("course", None)]  # parameters, setup
    assert roles[2:9] == [("reset", 0), ("exercise", 0), ("capture", 0), ("course", None),
                          ("reset", 1), ("exercise", 1), ("exercise", 1)]
    assert not any("recap" in c.metadata.get("tags", []) for c in nb.cells)
    assert "cmp(" not in "".join(c.source for c in nb.cells if c.metadata[course.ROLE]["role"] != "course")


def submission_of(nb):
    sub = Submission(path=None, rel="a/98_grade.ipynb", student="a")
    map_cells(nb, lesson(), sub)
    return sub


def student():
    return gen.render(FIXTURE_ROOT / "lessons" / "98_grade.md", check=False)[("en", "student")]


def test_cells_are_found_by_grade_id_or_by_cell_id_and_faults_are_named():
    nb = student()
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "ex_dx":
            del cell.metadata["nbgrader"]  # an editor that drops metadata: found by its cell id
            cell.source = "dx = w * dy"
    sub = submission_of(nb)
    assert sub.answers["ex_dx"] == ["dx = w * dy"] and not sub.codes

    nb = student()
    dw = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex_dw")
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "check_x"]
    nb.cells.insert(0, nbformat.from_dict(dict(dw, source="dw = 1")))
    sub = submission_of(nb)
    assert sub.codes == ["missing-cells:check_x", "reordered-cells", "duplicate-cells:ex_dw"]
    assert sub.answers["ex_dw"] == ["dw = 1"]  # the first copy counts, as with nbgrader


def test_an_ungraded_exercise_cell_is_not_missed():
    """Lesson 02's shape questions are exercise cells without points: deleting one changes no grade."""
    from handgrad.generate import REPO_DIR, build_notebook, read_lesson
    real = course.load(REPO_DIR, "lessons/02_broadcasting.md", "en")
    ungraded = [e.grade_id for e in real.exercises if not e.graded]
    assert ungraded
    nb = build_notebook(read_lesson(REPO_DIR / "lessons" / "02_broadcasting.md"), "en", "student",
                        "lessons/02_broadcasting.md")
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != ungraded[0]]
    sub = Submission(path=None, rel="a/02.ipynb", student="a")
    map_cells(nb, real, sub)
    assert sub.codes == []


def test_find_names_every_file_that_is_not_a_submission(tmp_path):
    for name in ("alice/01.ipynb", "alice/notes.txt", "bob/deep/01.ipynb", "loose.ipynb", ".hidden/x.ipynb",
                 "carol/.ipynb_checkpoints/01-checkpoint.ipynb"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    found = {s.rel: (s.student, s.codes) for s in find(tmp_path)}
    assert found == {"alice/01.ipynb": ("alice", []), "alice/notes.txt": ("alice", ["unrecognised-file"]),
                     "bob/deep/01.ipynb": ("bob", ["unrecognised-file"]), "loose.ipynb": ("", ["unrecognised-file"])}


def rows(*specs):
    return [{"student": s, "lesson": lesson_, "language": "en", "points": {(lesson_, "ex_a"): "1"}, "total": "1",
             "max": "1", "status": "ok", "file": f"{s}/{n}", "sha256": "x", "feedback": ""}
            for s, lesson_, n in specs]


def test_the_gradebook_is_replaced_whole_or_not_at_all(tmp_path):
    out = tmp_path / "gradebook.csv"
    report.write_gradebook(out, rows(("a", "01", "1.ipynb")))
    before = out.read_bytes()
    broken = rows(("b", "01", "1.ipynb"))
    del broken[0]["sha256"]  # fails half-way through writing
    with pytest.raises(KeyError):
        report.write_gradebook(out, rows(("a", "01", "1.ipynb")) + broken)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["gradebook.csv"]


def test_a_gradebook_of_several_lessons_names_columns_by_lesson_and_reads_back(tmp_path):
    out = tmp_path / "gradebook.csv"
    written = rows(("a", "01", "1.ipynb"), ("a", "02", "2.ipynb"))
    report.write_gradebook(out, written)
    header = next(csv.reader(io.StringIO(out.read_text())))
    assert header[3:5] == ["01:ex_a", "02:ex_a"]
    assert report.read_gradebook(out) == written


def test_a_lesson_handed_in_twice_is_marked_on_both_rows():
    found = mark_twice(rows(("a", "01", "1.ipynb"), ("a", "01", "1 (copy).ipynb"), ("b", "01", "1.ipynb")))
    assert [r["status"] for r in found] == ["same-lesson-twice", "same-lesson-twice", "ok"]


def test_sizes_read_as_a_person_writes_them():
    assert _bytes("4G") == 4 * 2 ** 30 and _bytes("3500M") == 3500 * 2 ** 20 and _bytes("2.5GiB") == 2.5 * 2 ** 30


def test_values_travel_as_plain_data_and_come_back_the_same(tmp_path):
    gradient = torch.ones(2, 3).as_subclass(Gradient)
    gradient.replaced = "todo"
    import numpy
    values = {"t": torch.arange(6.0).view(2, 3), "n": 3, "s": (3, 1), "e": ..., "a": numpy.ones(2),
              "g": gradient, "size": torch.Size([2, 3]), "f": print, "o": object()}
    path = str(tmp_path / "v.pt")
    kernel.capture(path, {k: (lambda v=v: v) for k, v in values.items()} | {"u": lambda: undefined_name})  # noqa
    data = run.load(path)
    back = {k: run.answer_value(v, k) for k, v in data.items()}
    assert torch.equal(back["t"], values["t"]) and back["n"] == 3 and back["s"] == (3, 1) and back["e"] is ...
    assert isinstance(back["a"], numpy.ndarray) and back["size"] == torch.Size([2, 3])
    assert isinstance(back["g"], Gradient) and back["g"].replaced == "todo"
    assert type(back["o"]).__name__ == "object" and back["u"] is ...
    assert data["f"]["kind"] == "import"


def test_a_file_the_learner_could_have_written_is_never_unpickled_as_an_object(tmp_path):
    import pickle

    class Boom:
        def __reduce__(self):
            return (print, ("this ran",))
    (tmp_path / "evil.pt").write_bytes(pickle.dumps({"x": Boom()}))
    assert run.load(tmp_path / "evil.pt") is None
    (tmp_path / "link.pt").symlink_to(tmp_path / "evil.pt")
    assert run.load(tmp_path / "link.pt") is None


def test_a_kernel_that_dies_before_answering_is_started_again(tmp_path, monkeypatch):
    """On a busy machine two kernels may race for a port: the grader retries, the learner loses nothing."""
    calls = []

    def once(job, folder, limits):
        calls.append(folder)
        if len(calls) == 1:
            return [{"event": "died", "reason": "kernel-died", "cell": None,
                     "error": "RuntimeError: Kernel died before replying to kernel_info"}]
        return [{"event": "finished"}]

    monkeypatch.setattr(run, "_run_worker_once", once)
    assert run.run_worker({}, tmp_path / "w", run.Limits()) == [{"event": "finished"}]
    assert len(calls) == 2
