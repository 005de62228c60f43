"""Grade a class: every learner's notebook, each exercise on its own, on points the learner's code cannot fake.

    make grade SUBMISSIONS=submissions
    python -m handgrad.grade submissions --out gradebook.csv [--jobs N] [--timeout 300] [--cell-timeout 60]

Submissions: `DIR/<student>/<name>.ipynb`, one folder per student, one notebook
per lesson (the file's name does not matter: the lesson and the language come
from the notebook's metadata, which the course writes).  Any other file under
DIR gets a row of its own saying so.

Output: the gradebook (CSV: student, lesson, language, one column per graded
exercise, named by its grade id, then total, max, status, file, sha256,
feedback) and one feedback page per submission, in its language
(`feedback/<student>/<name>.html` beside the gradebook).  The gradebook is
rewritten atomically after every notebook; running the same command again
keeps every row whose notebook has not changed (same sha256) and grades the
rest.

How a notebook is graded (handgrad/grading/ has one module per step):

1. reference: the course's own solution of the lesson runs once per grading
   run (per lesson and language), with the grader's cells around each
   exercise: what every global holds before it, autograd's gradient after
   each check cell.
2. run: the notebook that runs is the course's student notebook, locked cells
   as the course wrote them, with the learner's code in the exercise cells.
   Before each exercise a reset cell puts back the solution's values of every
   earlier exercise (and of any course name an earlier learner cell
   overwrote), and undoes monkeypatches of torch, torch.Tensor, F, builtins
   and handgrad; after it, a capture cell saves the values of the names the
   solution assigns.  It runs in a worker process of its own, with papermill,
   several at once, under a memory limit, a per-cell and a per-notebook
   timeout; a kernel that dies is restarted from the next exercise.
3. compare: here, in the grader's process, `check()` compares each captured
   answer with the reference gradient: verdict, points, diagnosis.  Nothing
   the kernel printed or displayed counts, so a redefined `cmp`, a patched
   `torch.allclose` or a printed "✅ done" earn nothing.
4. scan: the exercise cells are read (not run) for answers taken from
   autograd (`.grad`, `.backward()`, `torch.autograd`, ...): such an exercise
   is not scored, and is flagged in the gradebook and the feedback.

Status codes (the gradebook's `status` column, space-separated):
ok; exception:IDS (an exercise cell raised); timeout:IDS; memory:IDS;
kernel-died:IDS; time-limit (exercises left unrun); autograd:IDS (not scored);
tampering:IDS; review:IDS; missing-cells:IDS; reordered-cells;
duplicate-cells:IDS; same-lesson-twice; invalid-notebook;
not-handgrad; unknown-lesson; unrecognised-file; grader-error.
"""
import argparse
import concurrent.futures as futures
import hashlib
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .check import VERDICT_KEY
from .generate import LANGUAGES, REPO_DIR
from .grading import course, report, run, scan

MAX_NOTEBOOK = 32 * 2 ** 20
LAYOUT = "DIR/<student>/<lesson>.ipynb"


def verdicts(cell):
    """The verdicts `cmp` left in a cell's outputs (as data in their metadata), in order."""
    return [o["metadata"][VERDICT_KEY] for o in cell.get("outputs", [])
            if o.get("output_type") == "display_data" and VERDICT_KEY in o.get("metadata", {})]


# --- submissions ------------------------------------------------------------------

@dataclass
class Submission:
    path: Path
    rel: str
    student: str
    sha256: str = ""
    lesson: object = None
    lang: str = None
    answers: dict = field(default_factory=dict)  # exercise grade id -> [the learner's cell, cells added after it]
    missing: list = field(default_factory=list)
    codes: list = field(default_factory=list)  # status codes found before running
    notes: list = field(default_factory=list)  # (message key, values) for the page
    extra: set = field(default_factory=set)  # exercises the learner added code cells after
    error: str = ""  # what went wrong in the grader, for a grader-error

    @property
    def final(self):
        """True when nothing can be run: the row is just a status."""
        return self.lesson is None


def find(folder):
    """Every file under `folder` (hidden ones aside), as a Submission; files not at DIR/<student>/<x>.ipynb say so."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath, name)
            parts = path.relative_to(folder).parts
            sub = Submission(path, "/".join(parts), parts[0] if len(parts) > 1 else "")
            if len(parts) != 2 or path.suffix != ".ipynb":
                sub.codes.append("unrecognised-file")
            found.append(sub)
    return found


def sha256(path):
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as source:
            for block in iter(lambda: source.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return ""
    return digest.hexdigest()


def _source(cell):
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(str(s) for s in source)
    return source if isinstance(source, str) else ""


def map_cells(nb, lesson, sub):
    """The learner's exercise cells by grade id (a cell whose nbgrader metadata was lost is found by its cell id);
    code cells the learner added right after an exercise go with it.  Missing, duplicated, reordered: status codes."""
    exercise_ids = [e.grade_id for e in lesson.exercises]
    check_ids = [c.grade_id for e in lesson.exercises for c in e.checks]
    by_cell_id = {e.cell_id: e.grade_id for e in lesson.exercises}
    course_ids = {c.id for c in lesson.cells}
    seen, duplicates, extra, current = [], [], set(), None
    for cell in nb.get("cells", []):
        if not isinstance(cell, dict):
            continue
        meta = cell.get("metadata", {})
        meta = meta if isinstance(meta, dict) else {}
        grading = meta.get("nbgrader", {})
        grade_id = grading.get("grade_id") if isinstance(grading, dict) else None
        if cell.get("cell_type") != "code":
            continue
        if grade_id is None and cell.get("id") in by_cell_id:
            grade_id = by_cell_id[cell.get("id")]
        if grade_id is None and (cell.get("id") in course_ids or "parameters" in (meta.get("tags") or [])):
            current = None  # a course cell without nbgrader metadata (the parameters cell)
            continue
        if grade_id in exercise_ids:
            current = None
            if grade_id in sub.answers:
                duplicates.append(grade_id)
                continue
            sub.answers[grade_id] = [_source(cell)]
            seen.append(grade_id)
            current = grade_id
        elif grade_id is not None:
            current = None
            if grade_id in check_ids and grade_id not in seen:
                seen.append(grade_id)
        elif current is not None and _source(cell).strip():
            sub.answers[current].append(_source(cell))
            extra.add(current)
    sub.extra = extra
    # the cells that carry points (an ungraded exercise, a shape question say, is not missed)
    course_order = [g for e in lesson.graded for g in [e.grade_id] + [c.grade_id for c in e.checks]]
    sub.missing = [g for g in course_order if g not in seen]
    if sub.missing:
        sub.codes.append("missing-cells:" + ",".join(sub.missing))
        sub.notes.append(("grade_missing_cells", {"cells": ", ".join(sub.missing)}))
    if [g for g in course_order if g in seen] != [g for g in seen if g in course_order]:
        sub.codes.append("reordered-cells")
        sub.notes.append(("grade_reordered", {}))
    if duplicates:
        sub.codes.append("duplicate-cells:" + ",".join(dict.fromkeys(duplicates)))
        sub.notes.append(("grade_duplicate", {"cells": ", ".join(dict.fromkeys(duplicates))}))


def read(sub, root):
    """Read a submission: its lesson and language, its exercise cells; or a status saying why it cannot be graded."""
    if sub.codes:  # unrecognised-file
        return sub
    try:
        if sub.path.stat().st_size > MAX_NOTEBOOK:
            raise ValueError(f"larger than {MAX_NOTEBOOK // 2 ** 20} MiB")
        nb = nbformat.reads(sub.path.read_text(encoding="utf-8"), as_version=4)
        if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
            raise ValueError("no list of cells")
    except Exception as error:
        sub.codes.append("invalid-notebook")
        sub.notes.append(("grade_invalid", {"error": f"{type(error).__name__}: {str(error)[:200]}"}))
        return sub
    meta = nb.get("metadata", {})
    info = meta.get("handgrad") if isinstance(meta, dict) else None
    if not isinstance(info, dict) or not isinstance(info.get("source"), str):
        sub.codes.append("not-handgrad")
        sub.notes.append(("grade_not_handgrad", {}))
        return sub
    lang = info.get("language")
    sub.lang = lang if lang in LANGUAGES else None
    try:
        sub.lesson = course.load(root, info["source"], lang)
    except Exception:
        sub.codes.append("unknown-lesson")
        sub.notes.append(("grade_unknown_lesson", {"source": info["source"][:100], "lang": str(lang)[:10]}))
        return sub
    map_cells(nb, sub.lesson, sub)
    return sub


def prepare(sub, ref):
    """The job for the worker (the notebook to run, the reset data of each exercise) and each exercise's flags."""
    lesson = sub.lesson
    cells = [(e.grade_id, sub.answers.get(e.grade_id, [e.stub])) for e in lesson.exercises]
    resets, bound = {}, set()
    for k, (_, sources) in enumerate(cells):
        resets[k] = run.reset_data(lesson, ref, k, overwritten=bound)
        for source in sources:
            bound |= scan.usage(source)[0]
    restored = [set(resets[k]["set"]) | set(resets[k]["delete"]) for k in range(len(cells))]
    flags = scan.scan_exercises([(gid, "\n".join(sources)) for gid, sources in cells], restored)
    job = {"notebook": course.run_notebook(lesson, answers=dict(cells)), "exercises": len(cells),
           "resets": {str(k): run.encode_blob(data) for k, data in resets.items()}}
    return job, flags


# --- what a run left ---------------------------------------------------------------------

def outcome(events, count):
    """What happened to each exercise: ran, exception, timeout, memory, kernel-died, time-limit or not-run."""
    seen = {k: {"error": None, "timeout": False, "captured": False, "died": None, "memory": False}
            for k in range(count)}
    time_limit = False
    for event in events:
        ex = event.get("ex")
        state = seen.get(ex) if isinstance(ex, int) else None
        kind, role = event.get("event"), event.get("role")
        if kind == "end" and state is not None:
            if role == "exercise":
                state["error"] = state["error"] or event.get("error")
                state["timeout"] = state["timeout"] or bool(event.get("timeout"))
            elif role == "capture" and event.get("file"):
                state["captured"] = True
        elif kind == "stop" and state is not None and event.get("reason") == "memory":
            state["memory"] = True
        elif kind == "died":
            if state is not None and role in ("exercise", "capture"):
                state["died"] = event.get("reason")
            if event.get("reason") == "time-limit":
                time_limit = True
    found = {}
    for k, state in seen.items():
        error = state["error"] or {}
        memory = state["memory"] or error.get("ename") == "MemoryError" or "can't allocate memory" in str(
            error.get("evalue", ""))
        if state["timeout"] or state["died"] == "timeout":
            found[k] = ("timeout", error)
        elif memory:
            found[k] = ("memory", error)
        elif state["died"] in ("kernel-died", "time-limit"):
            found[k] = (state["died"], error)
        elif state["error"]:
            found[k] = ("exception", error)
        elif not state["captured"]:
            found[k] = ("time-limit" if time_limit else "not-run", error)
        else:
            found[k] = ("ran", error)
    return found


STATE_NOTES = {"timeout": "grade_timeout", "memory": "grade_memory", "kernel-died": "grade_kernel_died",
               "time-limit": "grade_time_limit", "not-run": "grade_not_run", "exception": "grade_exception"}
FLAG_CODES = {"autograd": "autograd", "tamper": "tampering", "review": "review"}
HIDDEN_NOTES = {"carry_on_autograd", "todo_line"}  # written for a notebook, not for a page


def results(sub, ref, events, files, flags, limits):
    """Each exercise of the submission: its verdicts, points and notes, for the row and the page."""
    lesson = sub.lesson
    states = outcome(events, len(lesson.exercises))
    items = []
    for k, exercise in enumerate(lesson.exercises):
        state, error = states[k]
        captured = run.load(Path(files, f"answer_{k}.pt")) if state != "not-run" else None
        checks = run.compare(exercise, ref, captured)
        earned = sum(points for _, points, _ in checks)
        notes = []
        if exercise.grade_id in sub.missing:
            notes.append(("grade_missing", {}))
        if exercise.grade_id in sub.extra:
            notes.append(("grade_extra", {}))
        if state in STATE_NOTES:
            seconds = limits.cell_timeout if state == "timeout" else limits.timeout
            values = {"seconds": report.number(seconds), "limit": f"{limits.memory / 2 ** 30:g} GiB",
                      "error": f"{error.get('ename', '')}: {error.get('evalue', '')}".strip(": ")[:300]}
            notes.append((STATE_NOTES[state], values))
        autograd = [f for f in flags[k] if f.kind == "autograd"]
        for flag in flags[k]:
            key = "grade_flag_via" if flag.via else f"grade_flag_{flag.kind}"
            notes.append((key, {"what": flag.what, "line": flag.line, "via": flag.via}))
        if autograd:
            earned = 0
        shown = [(call.name, verdict) for _, _, found in checks for call, verdict in found]
        if autograd:
            status, css = "grade_flagged", "wrong"
        elif exercise.graded and earned == exercise.points:
            status, css = "done", "done"
        elif any(v.status == "wrong" for _, v in shown):
            status, css = "wrong", "wrong"
        else:
            status, css = "todo", "todo"
        for _, verdict in shown:
            verdict.notes = [(key, values) for key, values in verdict.notes if key not in HIDDEN_NOTES]
        items.append({"exercise": exercise, "state": state, "earned": earned, "points": exercise.points,
                      "flags": flags[k], "notes": notes, "status": status, "css": css,
                      "verdicts": shown if state not in ("not-run", "time-limit") else []})
    return items


def codes(sub, items):
    """The status codes of a graded submission."""
    found = []
    for kind, code in FLAG_CODES.items():
        ids = [i["exercise"].grade_id for i in items if any(f.kind == kind for f in i["flags"])]
        if ids:
            found.append(f"{code}:{','.join(ids)}")
    for state in ("exception", "timeout", "memory", "kernel-died"):
        ids = [i["exercise"].grade_id for i in items if i["state"] == state]
        if ids:
            found.append(f"{state}:{','.join(ids)}")
    if any(i["state"] in ("time-limit", "not-run") for i in items):
        found.append("time-limit")
    return found + sub.codes


# --- rows and pages ---------------------------------------------------------------------

def feedback_path(sub, feedback):
    return Path(feedback, sub.student or "_", Path(sub.rel).stem + ".html")


def row_for(sub, items, status_codes, page_path, out):
    lesson = sub.lesson
    points, total = {}, 0
    for item in items or []:
        if item["exercise"].graded:
            points[(lesson.stem, item["exercise"].grade_id)] = report.number(item["earned"])
            total += item["earned"]
    try:
        shown = os.path.relpath(page_path, Path(out).parent) if page_path else ""
    except ValueError:
        shown = str(page_path)
    return {"student": sub.student, "lesson": lesson.stem if lesson else "", "language": sub.lang or "",
            "points": points, "total": report.number(total), "max": report.number(lesson.points) if lesson else "",
            "status": " ".join(dict.fromkeys(status_codes)) or "ok", "file": sub.rel, "sha256": sub.sha256,
            "feedback": shown.replace(os.sep, "/")}


def page_for(sub, items, status_codes):
    lesson = sub.lesson
    exercises = [{"label": ", ".join(i["exercise"].names) or i["exercise"].grade_id, "earned": i["earned"],
                  "points": i["points"], "status": i["status"], "css": i["css"], "notes": i["notes"],
                  "verdicts": i["verdicts"]}
                 for i in items or [] if i["exercise"].graded or i["flags"]]
    notes = list(sub.notes)
    if "grader-error" in status_codes:
        notes.append(("grade_grader_error", {"error": sub.error[:300]}))
    return {"lang": sub.lang, "title": lesson.title if lesson else sub.rel, "student": sub.student or "-",
            "file": sub.rel, "total": sum(i["earned"] for i in items or [] if i["exercise"].graded),
            "max": lesson.points if lesson else 0, "notes": notes, "exercises": exercises}


def finish(sub, items, status_codes, feedback, out):
    """The submission's row, and its page written (none for a file that is not a submission)."""
    page_path = None
    if "unrecognised-file" not in status_codes:
        page_path = feedback_path(sub, feedback)
        report.write_text(page_path, report.feedback_html(page_for(sub, items, status_codes)))
    return row_for(sub, items, status_codes, page_path, out)


def mark_twice(rows):
    """`same-lesson-twice` on every row of a student who handed in a lesson more than once (and on no other)."""
    groups = {}
    for row in rows:
        if row["lesson"]:
            groups.setdefault((row["student"], row["lesson"]), []).append(row)
    for row in rows:
        codes_ = [c for c in row["status"].split() if c not in ("same-lesson-twice", "ok")]
        if row["lesson"] and len(groups[(row["student"], row["lesson"])]) > 1:
            codes_.append("same-lesson-twice")
        row["status"] = " ".join(codes_) or "ok"
    return rows


# --- the whole class --------------------------------------------------------------------

def keep(previous, sub, out):
    """Whether the previous run's row still holds: same file, same bytes, not a grader error, its page still there."""
    if previous is None or not sub.sha256 or previous["sha256"] != sub.sha256 or "grader-error" in previous["status"]:
        return False
    return not previous["feedback"] or Path(out).parent.joinpath(previous["feedback"]).is_file()


def grade_folder(folder, out="gradebook.csv", feedback=None, jobs=None, limits=None, root=REPO_DIR, resume=True,
                 progress=True, work=None):
    """Grade every submission under `folder`; write the gradebook `out` and the pages; return the rows."""
    folder, out = Path(folder), Path(out)
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder {folder}")
    feedback = Path(feedback) if feedback else out.parent / "feedback"
    limits = limits or run.Limits()
    jobs = jobs or max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    previous = {row["file"]: row for row in report.read_gradebook(out)} if resume else {}
    rows, order, waiting = {}, {}, {}
    for sub in find(folder):
        sub.sha256 = sha256(sub.path)
        if keep(previous.get(sub.rel), sub, out):
            rows[sub.rel] = previous[sub.rel]
            continue
        read(sub, root)
        if sub.final:
            rows[sub.rel] = finish(sub, None, sub.codes, feedback, out)
        else:
            order[sub.lesson.stem] = [e.grade_id for e in sub.lesson.graded]
            waiting.setdefault((sub.lesson.source, sub.lesson.lang), []).append(sub)

    def save():
        report.write_gradebook(out, mark_twice(list(rows.values())), order)

    save()
    total = sum(len(subs) for subs in waiting.values())
    if not total:
        return list(rows.values())
    own_work = work is None
    work = Path(tempfile.mkdtemp(prefix="handgrad-grade-") if own_work else work)
    bar = _bar(total, progress)
    run._stopping.clear()
    pool = futures.ThreadPoolExecutor(max_workers=jobs)
    try:
        pending = {}
        for n, (key, subs) in enumerate(sorted(waiting.items())):
            pending[pool.submit(run.reference, subs[0].lesson, work / f"reference-{n}", limits)] = ("ref", key)
        count = 0
        while pending:
            done, _ = futures.wait(pending, return_when=futures.FIRST_COMPLETED)
            for future in done:
                kind, item = pending.pop(future)
                if kind == "ref":
                    try:
                        ref = future.result()
                    except Exception as error:
                        ref = run.Reference(error=f"{type(error).__name__}: {error}")
                    for sub in waiting[item]:
                        if ref.error:
                            sub.error = ref.error
                            rows[sub.rel] = finish(sub, None, ["grader-error"] + sub.codes, feedback, out)
                            bar.update()
                            continue
                        count += 1
                        job, flags = prepare(sub, ref)
                        folder_n = work / f"submission-{count}"
                        pending[pool.submit(run.run_worker, job, folder_n, limits)] = (
                            "sub", (sub, ref, flags, folder_n))
                    save()
                    continue
                sub, ref, flags, folder_n = item
                try:
                    events = future.result()
                    items = results(sub, ref, events, folder_n / "worker" / "files", flags, limits)
                    found = codes(sub, items)
                    sub.error = run.failure(events)
                    if sub.error:
                        found.insert(0, "grader-error")
                    rows[sub.rel] = finish(sub, items, found, feedback, out)
                except Exception as error:
                    sub.error = f"{type(error).__name__}: {error}"
                    rows[sub.rel] = finish(sub, None, ["grader-error"] + sub.codes, feedback, out)
                if own_work:
                    shutil.rmtree(folder_n, ignore_errors=True)
                save()
                bar.update()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        run.stop_all()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
        if own_work and not os.environ.get("HANDGRAD_GRADE_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
    return list(rows.values())


def _bar(total, progress):
    from tqdm import tqdm
    return tqdm(total=total, unit="notebook", desc="grading", disable=not progress, file=sys.stderr)


def _bytes(text):
    match = re.fullmatch(r"\s*([0-9.]+)\s*([KMGT]?)i?B?\s*", text, re.IGNORECASE)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 4G, 3500M)")
    return int(float(match[1]) * 1024 ** " KMGT".index(match[2].upper() or " "))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m handgrad.grade",
                                     description=__doc__.split("\n\n")[0] + f"\n\nSubmissions: {LAYOUT}",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", help=f"the submissions, as {LAYOUT}")
    parser.add_argument("--out", default="gradebook.csv", help="the gradebook to write (default: %(default)s)")
    parser.add_argument("--feedback", help="where the feedback pages go (default: feedback/ beside the gradebook)")
    parser.add_argument("--jobs", type=int, help="notebooks run at once (default: the available cores)")
    parser.add_argument("--timeout", type=float, default=run.Limits.timeout,
                        help="seconds for one notebook, restarts included (default: %(default)s)")
    parser.add_argument("--cell-timeout", type=float, default=run.Limits.cell_timeout,
                        help="seconds for one cell (default: %(default)s)")
    parser.add_argument("--memory", type=_bytes, default=run.Limits.memory,
                        help="address space of one notebook's Python, e.g. 4G (default: 4G)")
    parser.add_argument("--restart", action="store_true", help="grade everything again, ignoring the gradebook")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    limits = run.Limits(cell_timeout=args.cell_timeout, timeout=args.timeout, memory=args.memory)
    try:
        rows = grade_folder(args.folder, args.out, args.feedback, args.jobs, limits, resume=not args.restart,
                            progress=not args.quiet)
    except FileNotFoundError as error:
        print(error, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted: {args.out} holds the notebooks graded so far; run again to go on", file=sys.stderr)
        return 130
    problems = sum(1 for r in rows if r["status"] != "ok")
    print(f"{len(rows)} rows in {args.out} ({problems} with a status other than ok)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
