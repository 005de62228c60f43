"""Grade learners' notebooks without nbgrader: a quick check for a class.

    python -m handgrad.grade alice/01_dlogprobs.ipynb bob/01_dlogprobs.ipynb

For each notebook: put back the course's own version of every locked cell
(setup, check, demo, recap), as nbgrader's OverwriteCells does, so that an
edited check cannot award itself a point; run it in learner mode, which never
stops on a mistake; then count the check cells whose `cmp` verdicts (kept as data in the
outputs' metadata, not read from the printed text) all say "done".
"""
import argparse
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from .check import VERDICT_KEY
from .generate import LANGUAGES, REPO_DIR, build_notebook, read_lesson


def verdicts(cell):
    """The verdicts `cmp` left in a cell's outputs (as data in their metadata), in order."""
    return [o["metadata"][VERDICT_KEY] for o in cell.get("outputs", [])
            if o.get("output_type") == "display_data" and VERDICT_KEY in o.get("metadata", {})]


def course_notebook(nb):
    """The course's own version of a learner's notebook, found through the metadata the generator wrote."""
    info = nb.metadata.get("handgrad", {})
    source, lang = info.get("source"), info.get("language")
    if not source or lang not in LANGUAGES:
        raise ValueError("not a handgrad notebook (no metadata.handgrad.source / language)")
    return build_notebook(read_lesson(REPO_DIR / source), lang, "student", source)


def restore_locked_cells(nb, reference):
    """Locked cells get the course's source back; exercise cells keep the learner's code."""
    originals = {c.metadata["nbgrader"]["grade_id"]: c.source
                 for c in reference.cells if c.metadata.get("nbgrader", {}).get("locked")}
    for cell in nb.cells:
        grading = cell.metadata.get("nbgrader", {})
        if grading.get("grade_id") in originals:
            cell.source = originals[grading["grade_id"]]
    return nb


def cell_passed(cell):
    """A check cell passes when it raised nothing and every verdict `cmp` gave in it is "done"."""
    outputs = cell.get("outputs", [])
    if any(o.get("output_type") == "error" for o in outputs):
        return False
    found = verdicts(cell)
    return bool(found) and all(v["status"] == "done" for v in found)


def scores(nb):
    """(grade_id, points, earned) for every check cell of an executed notebook."""
    rows = []
    for cell in nb.cells:
        grading = cell.metadata.get("nbgrader", {})
        if grading.get("grade"):
            earned = grading["points"] if cell_passed(cell) else 0
            rows.append((grading["grade_id"], grading["points"], earned))
    return rows


def grade(path, timeout=600):
    nb = nbformat.read(path, as_version=4)
    restore_locked_cells(nb, course_notebook(nb))
    NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True, record_timing=False,
                   resources={"metadata": {"path": str(Path(path).parent)}}).execute()
    return scores(nb)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+")
    args = parser.parse_args(argv)
    for path in args.notebooks:
        rows = grade(path)
        print(f"{path}: {sum(r[2] for r in rows)}/{sum(r[1] for r in rows)}")
        for grade_id, points, earned in rows:
            print(f"  {grade_id:28s} {earned}/{points}")


if __name__ == "__main__":
    sys.exit(main())
