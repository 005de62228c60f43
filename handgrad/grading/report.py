"""The gradebook (CSV) and one feedback page (HTML) per submission.

The gradebook is rewritten whole after every graded notebook, through a
temporary file and `os.replace`: whoever reads it (or a grading run that was
interrupted) sees the old version or the new one, never half of one.  Its
`sha256` column lets the next run keep the rows whose notebooks have not
changed.
"""
import csv
import html
import os
import tempfile
from pathlib import Path

from ..check import render
from ..i18n import LANGUAGES, get_language, say, set_language

BEFORE = ["student", "lesson", "language"]
AFTER = ["total", "max", "status", "file", "sha256", "feedback"]


def number(value):
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:g}"


# --- the gradebook ---------------------------------------------------------------

def read_gradebook(path):
    """The rows of an existing gradebook, each with its points as {(lesson, grade id): text}; [] if unreadable."""
    try:
        with open(path, newline="", encoding="utf-8") as source:
            reader = csv.DictReader(source)
            fields = reader.fieldnames or []
            rows = []
            for raw in reader:
                row = {k: raw.get(k) or "" for k in BEFORE + AFTER}
                row["points"] = {}
                for column in fields:
                    if column in BEFORE + AFTER or not raw.get(column):
                        continue
                    lesson, _, grade_id = column.rpartition(":")
                    row["points"][(lesson or row["lesson"], grade_id)] = raw[column]
                rows.append(row)
            return rows
    except (OSError, csv.Error, UnicodeDecodeError):
        return []


def columns(rows, order=None):
    """The exercise columns, lesson by lesson in `order` ({lesson: [grade ids]}), then any the rows add."""
    found = {}
    for lesson, ids in sorted((order or {}).items()):
        found.setdefault(lesson, list(ids))
    for row in rows:
        for lesson, grade_id in row["points"]:
            ids = found.setdefault(lesson, [])
            if grade_id not in ids:
                ids.append(grade_id)
    return [(lesson, grade_id) for lesson in sorted(found) for grade_id in found[lesson]]


def write_gradebook(path, rows, order=None):
    """Write all rows at once, atomically: a temporary file beside `path`, then os.replace."""
    path = Path(path)
    exercise_columns = columns(rows, order)
    lessons = {lesson for lesson, _ in exercise_columns}
    names = [gid if len(lessons) <= 1 else f"{lesson}:{gid}" for lesson, gid in exercise_columns]
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(BEFORE + names + AFTER)
            for row in sorted(rows, key=lambda r: (r["student"], r["lesson"], r["file"])):
                writer.writerow([row[k] for k in BEFORE] + [row["points"].get(key, "") for key in exercise_columns]
                                + [row[k] for k in AFTER])
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# --- the feedback page ------------------------------------------------------------

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h1 { font-size: 1.4rem; } .total { font-size: 1.2rem; font-weight: bold; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: .4rem .6rem; vertical-align: top; text-align: left; }
th { background: #f3f3f3; } code, pre { font-family: ui-monospace, monospace; font-size: .9rem; }
pre { white-space: pre-wrap; margin: .3rem 0; } .done { color: #176b2c; } .wrong { color: #a3171b; }
.todo { color: #7a5a00; } .note { margin: .2rem 0; } .flag { color: #a3171b; font-weight: bold; }
.notes { background: #fff8e1; border-left: 4px solid #f0b400; padding: .5rem 1rem; }
"""


def _in(lang, key, **values):
    """A message in `lang`; both languages (Italian / English) when the submission's is unknown."""
    if lang in LANGUAGES:
        previous = get_language()
        set_language(lang)
        try:
            return say(key, **values)
        finally:
            set_language(previous)
    return " / ".join(_in(each, key, **values) for each in LANGUAGES)


def _verdict_html(lang, name, verdict):
    previous = get_language()
    set_language(lang if lang in LANGUAGES else "en")
    try:
        lines = [verdict.row(name)] + [render(key, values) for key, values in verdict.notes]
    finally:
        set_language(previous)
    return "<pre>" + "\n".join(html.escape(line) for line in lines) + "</pre>"


def feedback_html(page):
    """The page for one submission; `page` is the dict handgrad.grade builds (see its `feedback_page`)."""
    lang = page.get("lang")
    esc = html.escape
    parts = [f"<!DOCTYPE html>\n<html lang=\"{esc(lang or 'en')}\"><head><meta charset=\"utf-8\">",
             f"<title>{esc(_in(lang, 'grade_page_title', lesson=page['title']))}</title>",
             f"<style>{STYLE}</style></head><body>",
             f"<h1>{esc(_in(lang, 'grade_page_title', lesson=page['title']))}</h1>",
             f"<p>{esc(_in(lang, 'grade_student', student=page['student'], file=page['file']))}</p>"]
    if page.get("max"):
        parts.append(f"<p class=\"total\">{esc(_in(lang, 'grade_total', earned=number(page['total']), max=number(page['max'])))}</p>")
    if page.get("notes"):
        parts.append("<div class=\"notes\">" + "".join(
            f"<p class=\"note\">{esc(_in(lang, key, **values))}</p>" for key, values in page["notes"]) + "</div>")
    if page.get("exercises"):
        parts.append(f"<p>{esc(_in(lang, 'grade_how'))}</p>")
        parts.append(f"<table><tr><th>{esc(_in(lang, 'grade_col_exercise'))}</th>"
                     f"<th>{esc(_in(lang, 'grade_col_points'))}</th><th>{esc(_in(lang, 'grade_col_result'))}</th></tr>")
        for item in page["exercises"]:
            cells = [f"<p class=\"{item['css']}\">{esc(_in(lang, item['status']))}</p>"]
            for key, values in item["notes"]:
                cls = "flag" if key.startswith("grade_flag") else "note"
                cells.append(f"<p class=\"{cls}\">{esc(_in(lang, key, **values))}</p>")
            for name, verdict in item["verdicts"]:
                cells.append(_verdict_html(lang, name, verdict))
            parts.append(f"<tr><td><code>{esc(item['label'])}</code></td>"
                         f"<td>{esc(number(item['earned']))}/{esc(number(item['points']))}</td>"
                         f"<td>{''.join(cells)}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_text(path, text):
    """Write a file atomically (temporary file + os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
