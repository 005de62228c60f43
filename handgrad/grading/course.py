"""What a lesson asks, as the grader sees it, and the notebooks the grader runs for it.

A lesson (one source file, one language) has exercises in order; each is an
exercise cell (nbgrader `solution`) followed by the check cells (nbgrader
`grade`) that call `cmp('X', dX, X)` on it.  The grader never runs a learner's
notebook as it comes: it runs the course's own cells with the learner's code
put into the exercise cells, and cells of its own around each exercise:

    reset    before an exercise: the names of every earlier exercise (and any
             course name an earlier learner cell overwrote) get the values of
             the course's own solution run, so a mistake cannot carry over
    capture  after an exercise: the values of the names the solution assigns
             are saved, raw, to be compared in the grader's process

The reference run of the course's solution has `snapshot` cells before each
exercise and `grads` cells after each check cell (autograd's gradients).
"""
import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from nbformat.v4 import new_code_cell, new_notebook

from ..generate import LANGUAGES, build_notebook, read_lesson, solution_names

LESSON_SOURCE = re.compile(r"^lessons/[0-9A-Za-z][0-9A-Za-z_\-]*\.md$")
ROLE = "handgrad_grade"  # the metadata key that tells the worker what a cell of a run is
KERNEL_MODULE = "handgrad.grading.kernel"


@dataclass
class Call:
    """One `cmp(name, dt, t)` of a check cell: the label, and the source of its two expressions."""
    name: str
    dexpr: str
    texpr: str


@dataclass
class Check:
    grade_id: str
    points: float
    calls: list


@dataclass
class Exercise:
    grade_id: str
    index: int  # position among the code cells of the course's notebook
    cell_id: str
    names: list  # what the course's solution assigns
    stub: str  # the student notebook's version of the cell
    checks: list = field(default_factory=list)

    @property
    def points(self):
        return sum(c.points for c in self.checks)

    @property
    def graded(self):
        return self.points > 0

    def captured(self):
        """The expressions whose values are saved after the exercise: the solution's names, then what cmp checks."""
        found = list(self.names)
        for check in self.checks:
            found += [c.dexpr for c in check.calls if c.dexpr not in found]
        return found


@dataclass
class Lesson:
    source: str  # lessons/NN_slug.md
    lang: str
    title: str
    cells: list  # the code cells of the student notebook, in order
    solution_cells: list
    exercises: list

    @property
    def stem(self):
        return Path(self.source).stem

    @property
    def graded(self):
        return [e for e in self.exercises if e.graded]

    @property
    def points(self):
        return sum(e.points for e in self.exercises)

    def exercise(self, grade_id):
        return next(e for e in self.exercises if e.grade_id == grade_id)


def python(source):
    """A cell's code as plain Python: IPython's `%magics` and `!shell` lines become calls, line for line."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        return TransformerManager().transform_cell(source)
    except Exception:  # pragma: no cover - a source IPython itself cannot read
        return source


def cmp_calls(source):
    """The `cmp(name, dt, t)` calls of a check cell, in order (calls without a literal name are skipped)."""
    code = python(source)
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "cmp"):
            continue
        args = {k: v for k, v in zip(("name", "dt", "t"), node.args)}
        args.update({kw.arg: kw.value for kw in node.keywords if kw.arg in ("name", "dt", "t")})
        if not all(k in args for k in ("name", "dt", "t")):
            continue
        if not (isinstance(args["name"], ast.Constant) and isinstance(args["name"].value, str)):
            continue
        found.append((node.lineno, node.col_offset, Call(args["name"].value, ast.get_source_segment(code, args["dt"]),
                                                         ast.get_source_segment(code, args["t"]))))
    return [call for _, _, call in sorted(found, key=lambda f: f[:2])]


def lesson_path(root, source):
    """The lesson file a notebook's metadata names, inside `root`, or None (a name that is not a lesson's)."""
    if not isinstance(source, str) or not LESSON_SOURCE.match(source):
        return None
    path = Path(root, source)
    return path if path.is_file() else None


_cache = {}


def load(root, source, lang):
    """The lesson `source` (lessons/NN_slug.md inside `root`) in language `lang`; LookupError if there is none."""
    path = lesson_path(root, source)
    if path is None or lang not in LANGUAGES:
        raise LookupError(f"no lesson {source!r} in language {lang!r} under {root}")
    key = (str(path.resolve()), lang, path.stat().st_mtime_ns)
    if key not in _cache:
        _cache[key] = _build(path, source, lang)
    return _cache[key]


def _nbgrader(cell):
    meta = cell.metadata.get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def _build(path, source, lang):
    text = read_lesson(path)
    student = build_notebook(text, lang, "student", source)
    solution = build_notebook(text, lang, "solution", source)
    title = next((line.lstrip("#").strip().replace("`", "") for c in student.cells if c.cell_type == "markdown"
                  for line in c.source.splitlines() if line.startswith("#")), Path(source).stem)
    cells = [c for c in student.cells if c.cell_type == "code"]
    solution_cells = [c for c in solution.cells if c.cell_type == "code"]
    if [c.id for c in cells] != [c.id for c in solution_cells]:  # pragma: no cover - build_notebook keeps ids
        raise ValueError(f"{source}: the student and solution notebooks do not have the same cells")
    exercises = []
    for index, (cell, solved) in enumerate(zip(cells, solution_cells)):
        grading = _nbgrader(cell)
        if grading.get("solution"):
            exercises.append(Exercise(grading["grade_id"], index, cell.id, solution_names(solved.source), cell.source))
        elif grading.get("grade") and exercises:
            exercises[-1].checks.append(Check(grading["grade_id"], grading.get("points", 0), cmp_calls(cell.source)))
    return Lesson(source, lang, title, cells, solution_cells, exercises)


# --- the notebooks the grader runs ----------------------------------------------

def _call(function, *args):
    return f"import {KERNEL_MODULE} as __hg__\n__hg__.{function}({', '.join(args)})"


def _getters(expressions):
    """A dict literal of lambdas: each expression is evaluated by the kernel only when the cell runs."""
    return "{" + ", ".join(f"{json.dumps(e)}: lambda: (\n{e}\n)" for e in expressions) + "}"


def _cell(source, role, **meta):
    return new_code_cell(source, metadata={ROLE: dict(role=role, **meta)})


def _is_recap(cell):
    return "recap" in cell.metadata.get("tags", [])


def run_notebook(lesson, answers=None):
    """The notebook to run: the course's code cells (no recap) with the grader's cells around each exercise.

    `answers` maps an exercise's grade id to the learner's code (a list: their
    cell, then the cells they added right after it): a learner run, with reset
    and capture cells.  Without it: the reference run of the course's
    solution, with snapshot, capture and grads cells.
    """
    reference = answers is None
    by_index = {e.index: (k, e) for k, e in enumerate(lesson.exercises)}
    checks = {c.grade_id: c for e in lesson.exercises for c in e.checks}
    cells, after = [], -1
    source_cells = lesson.solution_cells if reference else lesson.cells
    for index, course_cell in enumerate(source_cells):
        if _is_recap(course_cell):
            continue
        if index in by_index:
            k, exercise = by_index[index]
            after = k
            if reference:
                cells.append(_cell(_call("snapshot", json.dumps(f"stage_{k}.pt"), "globals()"), "snapshot", ex=k,
                                   out=f"stage_{k}.pt"))
                cells.append(_cell(course_cell.source, "exercise", ex=k))
            else:
                cells.append(_cell(_call("reset", json.dumps("reset.pt"), "globals()"), "reset", ex=k))
                sources = answers.get(exercise.grade_id, [exercise.stub])
                for n, source in enumerate([sources] if isinstance(sources, str) else sources):
                    # the learner's cell, then any code cell they added right after it
                    cells.append(_cell(source, "exercise", ex=k, stub=exercise.stub if n == 0 else ""))
            out = f"answer_{k}.pt"
            cells.append(_cell(_call("capture", json.dumps(out), _getters(exercise.captured())), "capture", ex=k,
                               out=out))
            continue
        cells.append(_cell(course_cell.source, "course", after=after))
        grade_id = _nbgrader(course_cell).get("grade_id")
        if reference and grade_id in checks and checks[grade_id].calls:
            out = f"grads_{grade_id}.pt"
            cells.append(_cell(_call("grads", json.dumps(out), _getters([c.texpr for c in checks[grade_id].calls])),
                               "grads", after=after, out=out))
    metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                "language_info": {"name": "python"}}
    return new_notebook(cells=cells, metadata=metadata)
