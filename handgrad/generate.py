"""Turn each bilingual lesson source into four notebooks.

    lessons/NN_slug.md  →  notebooks/{it,en}/NN_slug.ipynb   (student: stubs, no outputs)
                        →  solutions/{it,en}/NN_slug.ipynb   (solved, executed, outputs kept)

Each step is one small function, in the order they run: pick the cells of a
language, pick the comment lines of a language, say what kind each code cell
is, give it nbgrader's metadata, replace solutions by stubs, execute.
Usage: python -m handgrad.generate [--no-execute] [lessons/NN_slug.md ...]
"""
import argparse
import ast
import os
import re
import sys
import textwrap
from pathlib import Path

import jupytext
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO_DIR = Path(__file__).resolve().parent.parent
LANGUAGES = ("it", "en")
STUB_COMMENT = {"it": "IL TUO CODICE QUI", "en": "YOUR CODE HERE"}
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
LINE_MARKER = re.compile(r"^(?P<code>.*?)\s*#\s*(?P<lang>it|en):\s?(?P<text>.*)$")
CMP_NAME = re.compile(r"""\bcmp\(\s*['"]([^'"]+)['"]""")


# --- one language -----------------------------------------------------------

def cell_language(cell):
    """'it', 'en', or None for a cell that belongs to both languages."""
    tags = cell.metadata.get("tags", [])
    found = [lang for lang in LANGUAGES if f"lang-{lang}" in tags]
    return found[0] if found else None


def without_language_tags(cell):
    """The cell's metadata minus the `lang-*` tags, which only the generator needs."""
    meta = {k: v for k, v in cell.metadata.items() if k != "tags"}
    tags = [t for t in cell.metadata.get("tags", []) if not t.startswith("lang-")]
    if tags:
        meta["tags"] = tags
    return meta


def code_for_language(source, lang):
    """Keep the lines of `lang` and the untagged ones; drop the `it:`/`en:` marker itself."""
    kept = []
    for line in source.splitlines():
        match = LINE_MARKER.match(line)
        if not match:
            kept.append(line)
        elif match["lang"] == lang:
            code, text = match["code"], match["text"]
            if not code.strip():
                indent = line[: len(line) - len(line.lstrip())]
                kept.append(f"{indent}# {text}".rstrip())
            else:
                kept.append(f"{code}  # {text}" if text else code)
    return "\n".join(kept)


# --- what kind of cell ------------------------------------------------------

def cell_kind(cell):
    """parameters, exercise, check, demo, recap or setup (see lessons/README.md)."""
    tags = cell.metadata.get("tags", [])
    for tag in ("parameters", "demo", "recap"):
        if tag in tags:
            return tag
    if BEGIN in cell.source:
        return "exercise"
    if CMP_NAME.search(cell.source):
        return "check"
    return "setup"


def assigned_names(code):
    """Names an exercise solution assigns, in order: `dX = …`, `dX += …`, `dX[i] = …` all give dX."""
    names = []

    def base(target):
        while isinstance(target, (ast.Subscript, ast.Attribute, ast.Starred)):
            target = target.value
        if isinstance(target, ast.Name):
            return [target.id]
        if isinstance(target, (ast.Tuple, ast.List)):
            return [n for elt in target.elts for n in base(elt)]
        return []

    for node in ast.walk(ast.parse(code)):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            names += [n for n in base(target) if n not in names]
    return names


def solution_region(source):
    """Split an exercise cell into (before, solution lines, indentation of the markers, after)."""
    lines = source.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == BEGIN)
    stop = next(i for i, line in enumerate(lines) if line.strip() == END)
    indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
    return lines[:start], lines[start + 1:stop], indent, lines[stop + 1:]


def stub_source(source, lang):
    """The student's version: each name the solution assigns becomes `dX = ...  # YOUR CODE HERE`."""
    before, solution, indent, after = solution_region(source)
    names = assigned_names(textwrap.dedent("\n".join(solution)))
    stubs = [f"{indent}{name} = ...  # {STUB_COMMENT[lang]}" for name in names]
    return "\n".join(before + stubs + after)


def grade_id(kind, source, counters):
    """Stable nbgrader ids, the same in both languages: ex_dX, check_X, setup_N, demo_N, recap."""
    if kind == "exercise":
        _, solution, _, _ = solution_region(source)
        names = assigned_names(textwrap.dedent("\n".join(solution)))
        base = f"ex_{names[0]}" if names else "ex"
    elif kind == "check":
        base = "check_" + re.sub(r"\W+", "_", CMP_NAME.search(source)[1]).strip("_")
    elif kind == "recap":
        base = "recap"
    else:
        base = kind
    counters[base] = counters.get(base, 0) + 1
    numbered = kind in ("setup", "demo")
    if numbered or counters[base] > 1:
        return f"{base}_{counters[base]}"
    return base


def nbgrader_metadata(kind, cell_id):
    """nbgrader schema-v3 metadata: exercises are solution cells, checks are 1-point grade cells, the rest locked."""
    if kind == "parameters":
        return None
    meta = {"grade": False, "grade_id": cell_id, "locked": True, "schema_version": 3,
            "solution": False, "task": False}
    if kind == "exercise":
        meta.update(locked=False, solution=True)
    elif kind == "check":
        meta.update(grade=True, points=1)
    return meta


# --- whole notebooks --------------------------------------------------------

def read_lesson(path):
    return jupytext.read(path, fmt="md:myst")


def build_notebook(lesson, lang, variant, source_name):
    """The cells of one language and one variant ('student' or 'solution'), without outputs."""
    cells, counters = [], {}
    for index, cell in enumerate(lesson.cells):
        cell_id = f"c{index:03d}"
        if cell.cell_type == "markdown":
            if cell_language(cell) in (None, lang):
                cells.append(new_markdown_cell(cell.source, id=cell_id, metadata=without_language_tags(cell)))
            continue
        if cell.cell_type != "code" or cell_language(cell) not in (None, lang):
            continue
        kind = cell_kind(cell)
        gid = grade_id(kind, cell.source, counters)
        source = code_for_language(cell.source, lang)
        if kind == "exercise" and variant == "student":
            source = stub_source(source, lang)
        meta = without_language_tags(cell)
        grading = nbgrader_metadata(kind, gid)
        if grading:
            meta["nbgrader"] = grading
        cells.append(new_code_cell(source, id=cell_id, metadata=meta))
    metadata = {
        "kernelspec": dict(lesson.metadata.get("kernelspec", {})) or
        {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "handgrad": {"source": source_name, "language": lang, "variant": variant,
                     "note": "generated by `make notebooks`: edit the source, not this file"},
    }
    return new_notebook(cells=cells, metadata=metadata)


def outputs_for(lesson_path):
    """Where the four notebooks of lessons/NN_slug.md go, beside lessons/: {(lang, variant): path}."""
    root = Path(lesson_path).resolve().parent.parent
    name = Path(lesson_path).stem + ".ipynb"
    return {(lang, variant): Path(root) / folder / lang / name
            for lang in LANGUAGES
            for variant, folder in (("student", "notebooks"), ("solution", "solutions"))}


def render(lesson_path):
    """All four notebooks of a lesson, unexecuted: {(lang, variant): notebook}."""
    lesson = read_lesson(lesson_path)
    source_name = f"lessons/{Path(lesson_path).name}"
    return {key: build_notebook(lesson, key[0], key[1], source_name) for key in outputs_for(lesson_path)}


def execute(nb, workdir, timeout=600):
    """Run a solution notebook in strict mode (any wrong gradient raises) and keep its outputs.

    Stream outputs are coalesced, so that how the kernel happened to chunk a
    cell's prints does not show up as a change in solutions/.
    """
    from nbclient import NotebookClient
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    previous = os.environ.get("HANDGRAD_STRICT")
    os.environ["HANDGRAD_STRICT"] = "1"
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                       resources={"metadata": {"path": str(workdir)}}).execute()
    finally:
        if previous is None:
            del os.environ["HANDGRAD_STRICT"]
        else:
            os.environ["HANDGRAD_STRICT"] = previous
    CoalesceStreamsPreprocessor().preprocess(nb, {})
    return nb


def lesson_paths(root=REPO_DIR):
    return sorted(Path(root, "lessons").glob("[0-9][0-9]_*.md"))


def generate(paths, run=True):
    for path in paths:
        for (lang, variant), nb in render(path).items():
            target = outputs_for(path)[(lang, variant)]
            target.parent.mkdir(parents=True, exist_ok=True)
            if variant == "solution" and run:
                execute(nb, target.parent)
            nbformat.write(nb, target)
            print(f"wrote {target}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lessons", nargs="*", help="lesson sources (default: all of lessons/)")
    parser.add_argument("--no-execute", action="store_true", help="write the solutions without running them")
    args = parser.parse_args(argv)
    paths = [Path(p).resolve() for p in args.lessons] or lesson_paths()
    generate(paths, run=not args.no_execute)


if __name__ == "__main__":
    sys.exit(main())
