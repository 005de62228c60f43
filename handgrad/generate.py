"""Turn each bilingual lesson source into four notebooks.

    lessons/NN_slug.md  →  notebooks/{it,en}/NN_slug.ipynb   (student: stubs, no outputs)
                        →  solutions/{it,en}/NN_slug.ipynb   (solved, executed, outputs kept)

Each step is one small function, in the order they run: check the lesson
against the rules of lessons/README.md (every broken rule stops the build with
a `LessonError` naming the file, the line of the cell and the rule), pick the
cells of a language, pick the comment lines of a language, say what kind each
code cell is, give it nbgrader's metadata, replace solutions by stubs, execute.
Usage: python -m handgrad.generate [--check | --no-execute] [lessons/NN_slug.md ...]
"""
import argparse
import ast
import functools
import io
import os
import re
import sys
import textwrap
import tokenize
from pathlib import Path

import jupytext
import nbformat
from jupytext.myst import myst_to_notebook
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO_DIR = Path(__file__).resolve().parent.parent
LANGUAGES = ("it", "en")
STUB_COMMENT = {"it": "IL TUO CODICE QUI", "en": "YOUR CODE HERE"}
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
LINE_MARKER = re.compile(r"^(?P<code>.*?)\s*#\s*(?P<lang>it|en):\s?(?P<text>.*)$")
CMP_NAME = re.compile(r"""\bcmp\(\s*['"]([^'"]+)['"]""")

# The tags a lesson may use (see lessons/README.md); anything else is a mistake.
LANGUAGE_TAGS = tuple(f"lang-{lang}" for lang in LANGUAGES)
KIND_TAGS = ("parameters", "demo", "recap")
ALLOWED_TAGS = {"markdown": LANGUAGE_TAGS, "code": KIND_TAGS}

# `# it: …` / `# en: …` at the start of a comment; the one code line a marker may
# follow is the setup cell's `set_language("it")  # it:`.
COMMENT_MARKER = re.compile(r"^#\s*(?P<lang>it|en):")
SET_LANGUAGE = re.compile(r"""^set_language\((?P<q>['"])(?P<lang>it|en)(?P=q)\)$""")
MARKER_LIKE = re.compile(r"\b(BEGIN|END)\s+SOLUTION\b", re.IGNORECASE)
CHECK_FUNCTIONS = ("cmp", "check_shape")


class LessonError(Exception):
    """A lesson breaks the rules of lessons/README.md; `faults` holds one `file:line: rule` per fault."""

    def __init__(self, faults):
        self.faults = list(faults)
        super().__init__("\n".join(self.faults))


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


def resolve_tr(source, lang):
    """`tr("testo", "text")` becomes the literal of `lang`, so a learner reads only their language.

    The lesson keeps one code for both languages; the notebook of each
    language shows just its own string (`tr` still works if a learner types it).
    Cells that are not plain Python (IPython magics) are left as they are.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    calls = [node for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "tr"
             and len(node.args) == 2 and not node.keywords]
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line.encode("utf-8")))
    encoded = source.encode("utf-8")

    def at(lineno, col):
        return offsets[lineno - 1] + col

    outermost = [c for c in calls if not any(o is not c and at(o.lineno, o.col_offset) <= at(c.lineno, c.col_offset)
                                             and at(c.end_lineno, c.end_col_offset) <= at(o.end_lineno, o.end_col_offset)
                                             for o in calls)]
    for call in sorted(outermost, key=lambda c: at(c.lineno, c.col_offset), reverse=True):
        chosen = call.args[LANGUAGES.index(lang)]
        text = encoded[at(chosen.lineno, chosen.col_offset):at(chosen.end_lineno, chosen.end_col_offset)]
        encoded = encoded[:at(call.lineno, call.col_offset)] + text + encoded[at(call.end_lineno, call.end_col_offset):]
    resolved = encoded.decode("utf-8")
    if "tr(" not in resolved.replace("from handgrad import", ""):
        resolved = _drop_tr_import(resolved)
    return resolved


def _drop_tr_import(source):
    """`from handgrad import cmp, tr` → `from handgrad import cmp` once no `tr(` is left in the cell."""
    def fix(match):
        names = [n.strip() for n in match["names"].split(",") if n.strip() and n.strip() != "tr"]
        return f"{match['head']}{', '.join(names)}\n" if names else ""
    return re.sub(r"^(?P<head>\s*from handgrad import )(?P<names>[^\n(]+)\n?", fix, source, flags=re.M)


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
    for tag in KIND_TAGS:
        if tag in tags:
            return tag
    if BEGIN in cell.source:
        return "exercise"
    if CMP_NAME.search(cell.source):
        return "check"
    return "setup"


def _base_names(target):
    """The variable names an assignment target binds: `dX`, `dX[i]`, `dX.a` and `(dX, dY)` all count."""
    while isinstance(target, (ast.Subscript, ast.Attribute, ast.Starred)):
        target = target.value
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for elt in target.elts for n in _base_names(elt)]
    return []


def assigned_names(code):
    """Names an exercise solution assigns, in order: `dX = …`, `dX += …`, `dX[i] = …` all give dX."""
    names = []
    for node in ast.walk(ast.parse(code)):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            names += [n for n in _base_names(target) if n not in names]
    return names


def solution_regions(lines):
    """The (BEGIN, END) line indices of every solution region, and the marker faults found.

    Faults: an END with no BEGIN before it, a BEGIN inside a region (nested),
    a BEGIN never closed.  Regions found before a fault are still returned.
    """
    regions, faults, begin = [], [], None
    for i, line in enumerate(lines):
        marker = line.strip()
        if marker == BEGIN:
            if begin is not None:
                faults.append(f"exercise cell has a BEGIN SOLUTION inside another solution "
                              f"(line {i + 1} of the cell): solutions cannot be nested")
            else:
                begin = i
        elif marker == END:
            if begin is None:
                faults.append(f"exercise cell has an END SOLUTION without a BEGIN SOLUTION before it "
                              f"(line {i + 1} of the cell)")
            else:
                regions.append((begin, i))
                begin = None
    if begin is not None:
        faults.append(f"exercise cell has a BEGIN SOLUTION without END SOLUTION (line {begin + 1} of the cell)")
    return regions, faults


def _regions_or_raise(source):
    lines = source.splitlines()
    regions, faults = solution_regions(lines)
    if faults:
        raise ValueError("; ".join(faults))
    return lines, regions


def solution_names(source):
    """Every name the solutions of an exercise cell assign, in order."""
    lines, regions = _regions_or_raise(source)
    names = []
    for begin, end in regions:
        names += [n for n in assigned_names(textwrap.dedent("\n".join(lines[begin + 1:end])))
                  if n not in names]
    return names


def stub_source(source, lang):
    """The student's version: in every solution region, each name it assigns becomes `dX = ...  # YOUR CODE HERE`."""
    lines, regions = _regions_or_raise(source)
    kept, position = [], 0
    for begin, end in regions:
        indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
        names = assigned_names(textwrap.dedent("\n".join(lines[begin + 1:end])))
        kept += lines[position:begin] + [f"{indent}{name} = ...  # {STUB_COMMENT[lang]}" for name in names]
        position = end + 1
    return "\n".join(kept + lines[position:])


def grade_id(kind, source, counters):
    """Stable nbgrader ids, the same in both languages: ex_dX, check_X, setup_N, demo_N, recap."""
    if kind == "exercise":
        names = solution_names(source)
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


# --- the rules of lessons/README.md -------------------------------------------

@functools.lru_cache(maxsize=None)
def lecture_names():
    """Every name `globals().update(step.tensors)` may bring into a lesson, read from handgrad/model.py.

    Read, not run: the names `forward` binds or returns, the keys of the
    parameters `init_params` returns, and what `reference_step` adds to
    `tensors` (`n`).  A generous superset: it only has to tell a typo from a
    name of the lecture.
    """
    tree = ast.parse(Path(__file__).with_name("model.py").read_text(encoding="utf-8"))
    names = set()

    def dict_keys(node):
        for sub in ast.walk(node):
            if isinstance(sub, ast.Dict):
                names.update(k.value for k in sub.keys if isinstance(k, ast.Constant) and isinstance(k.value, str))
            elif isinstance(sub, ast.Call) and getattr(sub.func, "id", getattr(sub.func, "attr", None)) in (
                    "dict", "update"):
                names.update(kw.arg for kw in sub.keywords if kw.arg)
            elif isinstance(sub, ast.Subscript) and isinstance(sub.ctx, ast.Store) and \
                    isinstance(sub.slice, ast.Constant) and isinstance(sub.slice.value, str):
                names.add(sub.slice.value)

    for node in tree.body:
        if isinstance(node, ast.Assign) and any("NAMES" in n for t in node.targets for n in _base_names(t)) \
                and isinstance(node.value, (ast.Tuple, ast.List)):
            names.update(e.value for e in node.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str))
        if not isinstance(node, ast.FunctionDef):
            continue
        if node.name == "forward":
            names.update(a.arg for a in node.args.args if a.arg != "params")
            returned = {r.value.id for r in ast.walk(node) if isinstance(r, ast.Return) and isinstance(r.value, ast.Name)}
            for sub in ast.walk(node):
                if isinstance(sub, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                    for target in getattr(sub, "targets", None) or [sub.target]:
                        names.update(n for n in _base_names(target) if n not in returned)
            dict_keys(node)
        elif node.name in ("init_params", "reference_step"):
            dict_keys(node)
    return frozenset(names)


def _python(source):
    """The cell's code as plain Python (IPython's `%magics` turned into calls, line for line)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - IPython comes with Jupyter
        return source
    return TransformerManager().transform_cell(source)


def _tokens(source):
    return list(tokenize.generate_tokens(io.StringIO(source).readline))


def _calls(tree, names=CHECK_FUNCTIONS):
    """The calls to `cmp` / `check_shape` in a parsed cell, in source order."""
    found = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Name) and node.func.id in names]
    return sorted(found, key=lambda c: (c.lineno, c.col_offset))


def _argument(call, index, keyword):
    if len(call.args) > index:
        return call.args[index]
    return next((kw.value for kw in call.keywords if kw.arg == keyword), None)


def _root_name(node):
    while isinstance(node, (ast.Subscript, ast.Attribute, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def defined_names(tree):
    """Every name a cell binds at top level or in its blocks: assignments, loops, imports, defs, `with … as`."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            for target in getattr(node, "targets", None) or [node.target]:
                names.update(_base_names(target))
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            names.update(_base_names(node.target))
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            names.update(_base_names(node.optional_vars))
        elif isinstance(node, ast.NamedExpr):
            names.update(_base_names(node.target))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


def brings_in_the_lecture(tree):
    """Does the cell run `globals().update(<something>.tensors)`?"""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "update" \
                and isinstance(node.func.value, ast.Call) and getattr(node.func.value.func, "id", None) == "globals" \
                and any(isinstance(a, ast.Attribute) and a.attr == "tensors" for a in node.args):
            return True
    return False


def has_words(markdown):
    """True if a prose cell has a letter outside code blocks, `code`, $math$, images and HTML tags."""
    text = re.sub(r"^(`{3,}|~{3,}).*?^\1", "", markdown, flags=re.S | re.M)
    text = re.sub(r"\$\$.*?\$\$", "", text, flags=re.S)
    text = re.sub(r"\$[^$]*\$", "", text)
    text = re.sub(r"(`+).*?\1", "", text, flags=re.S)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
    text = re.sub(r"<[^>]*>", "", text)
    return re.search(r"[^\W\d_]", text) is not None


class _Lesson:
    """The cells of a lesson with their line in the source, and the faults found so far."""

    def __init__(self, lesson, lines):
        self.cells = lesson.cells
        self.lines = lines
        self.faults = []
        self.trees = {}

    def fault(self, index, rule):
        self.faults.append((self.lines[index], rule))

    def code(self):
        return [(i, c) for i, c in enumerate(self.cells) if c.cell_type == "code"]


def _check_tags(lesson):
    for index, cell in enumerate(lesson.cells):
        tags = cell.metadata.get("tags", [])
        allowed = ALLOWED_TAGS.get(cell.cell_type, ())
        for tag in tags:
            if cell.cell_type == "code" and tag in LANGUAGE_TAGS:
                lesson.fault(index, f"code cell tagged {tag}: code is shared by both languages "
                                    "(translate comments with '# it:'/'# en:' lines, shown strings with tr())")
            elif tag not in allowed:
                lesson.fault(index, f"unknown tag {tag!r} on a {cell.cell_type} cell "
                                    f"(allowed: {', '.join(allowed) or 'none'})")
        if all(t in tags for t in LANGUAGE_TAGS) and cell.cell_type == "markdown":
            lesson.fault(index, "markdown cell tagged both lang-it and lang-en: a prose cell has one language")
        if sum(t in tags for t in KIND_TAGS) > 1 and cell.cell_type == "code":
            lesson.fault(index, f"code cell has more than one of the tags {', '.join(KIND_TAGS)}")


def _check_prose(lesson):
    first, second = LANGUAGES
    for index, cell in enumerate(lesson.cells):
        if cell.cell_type != "markdown":
            continue
        lang = cell_language(cell)
        before = lesson.cells[index - 1] if index > 0 else None
        after = lesson.cells[index + 1] if index + 1 < len(lesson.cells) else None

        def is_prose(other, wanted):
            return other is not None and other.cell_type == "markdown" and cell_language(other) == wanted

        if lang is None and has_words(cell.source):
            lesson.fault(index, "markdown cell without a lang-it/lang-en tag has words: tag it, "
                                "or keep only math, code and images in it")
        elif lang == first and not is_prose(after, second):
            lesson.fault(index, f"lang-{first} cell has no lang-{second} partner right after it")
        elif lang == second and not is_prose(before, first):
            lesson.fault(index, f"lang-{second} cell has no lang-{first} partner right before it")


def _check_language_comments(lesson, index, source):
    """Markers only on comment lines (or `set_language("it")  # it:`), in pairs: Italian lines, then as many English."""
    try:
        tokens = _tokens(source)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return  # reported as invalid Python
    code_on_line, markers = {}, {}
    for tok in tokens:
        if tok.type == tokenize.COMMENT:
            match = COMMENT_MARKER.match(tok.string)
            if match:
                markers[tok.start[0]] = (match["lang"], tok.string)
        elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                              tokenize.ENDMARKER):
            for row in range(tok.start[0], tok.end[0] + 1):
                code_on_line.setdefault(row, []).append(tok.string)
    lines = source.splitlines()
    blocks, block, previous = [], [], None
    for row in sorted(markers):
        lang, comment = markers[row]
        line = lines[row - 1]
        if row in code_on_line:
            setup = SET_LANGUAGE.match(line.split("#")[0].strip())
            if not (setup and setup["lang"] == lang and comment.rstrip() == f"# {lang}:"):
                lesson.fault(index, f"'# {lang}:' comment after code in {line.strip()!r}: a translated comment "
                                    "goes on its own line, above the code ('# it: …', then '# en: …')")
                continue
        if previous is not None and row != previous + 1 and block:
            blocks.append(block)
            block = []
        block.append((row, lang))
        previous = row
    if block:
        blocks.append(block)
    for block in blocks:
        langs = [lang for _, lang in block]
        half = len(langs) // 2
        if len(langs) % 2 or langs != [LANGUAGES[0]] * half + [LANGUAGES[1]] * half:
            shown = ", ".join(f"# {lang}:" for lang in langs)
            lesson.fault(index, f"language comments on lines {block[0][0]}-{block[-1][0]} of the cell do not pair up "
                                f"({shown}): write the '# it:' lines, then as many '# en:' lines, next to each other")


def _check_code(lesson):
    """Each code cell: valid Python, language comments, solution markers."""
    for index, cell in lesson.code():
        source = cell.source
        try:
            tree = ast.parse(_python(source))
        except SyntaxError as error:
            lesson.fault(index, f"code cell is not valid Python: {error.msg} (line {error.lineno} of the cell)")
            continue
        lesson.trees[index] = tree
        _check_language_comments(lesson, index, _python(source))
        kind = cell_kind(cell)
        lines = source.splitlines()
        for line in lines:
            if MARKER_LIKE.search(line) and line.strip() not in (BEGIN, END):
                lesson.fault(index, f"malformed solution marker {line.strip()!r}: write exactly {BEGIN!r} "
                                    f"and {END!r}, alone on their line")
        has_markers = any(line.strip() in (BEGIN, END) for line in lines)
        if has_markers and kind != "exercise":
            lesson.fault(index, f"solution markers in a {kind} cell: only an untagged cell can be an exercise")
        if kind != "exercise":
            continue
        regions, faults = solution_regions(lines)
        for rule in faults:
            lesson.fault(index, rule)
        for begin, end in regions:
            body = textwrap.dedent("\n".join(lines[begin + 1:end]))
            where = f"(lines {begin + 1}-{end + 1} of the cell)"
            if not any(line.strip() and not line.strip().startswith("#") for line in body.splitlines()):
                lesson.fault(index, f"exercise cell has an empty solution {where}")
                continue
            try:
                names = assigned_names(body)
            except SyntaxError as error:
                lesson.fault(index, f"exercise solution {where} is not valid Python on its own: {error.msg}")
                continue
            if not names:
                lesson.fault(index, f"exercise solution {where} assigns no name, so the student notebook "
                                    "would get no 'dX = ...' line to fill in")


def _cmp_key(call):
    return ast.unparse(ast.Call(func=call.func, args=call.args, keywords=call.keywords))


def _check_exercises_and_checks(lesson):
    """Every exercise has a check after it that checks each of its names; no check before any exercise."""
    exercises = []  # [index of the exercise cell, names it assigns, names checked after it, any check seen]
    for index, cell in lesson.code():
        tree = lesson.trees.get(index)
        kind = cell_kind(cell)
        if tree is None or kind in ("demo", "recap", "parameters"):
            continue
        if kind == "exercise":
            try:
                names = solution_names(cell.source)
            except (ValueError, SyntaxError):  # already reported as a marker or syntax fault
                names = []
            exercises.append([index, names, set(), False])
            continue
        calls = _calls(tree)
        if not calls:
            continue
        if not exercises:
            if kind == "check":
                lesson.fault(index, "check cell (it calls cmp) before any exercise: tag it demo, "
                                    "or put it after the exercise it checks")
            continue
        exercises[-1][3] = True
        for call in calls:
            answer = _argument(call, 1, "dt")
            if answer is not None and _root_name(answer):
                exercises[-1][2].add(_root_name(answer))
    for index, names, checked, seen in exercises:
        if not seen:
            lesson.fault(index, "exercise has no check cell after it: before the next exercise, a cell must "
                                "call cmp('X', dX, X) (or check_shape for a shape question)")
            continue
        for name in names:
            if name not in checked:
                lesson.fault(index, f"exercise assigns {name} but no check cell after it checks it "
                                    f"(cmp('…', {name}, …) before the next exercise)")


def _check_references(lesson):
    """The third argument of every cmp(…) names something the lesson assigns (or the lecture brings in)."""
    available = set()
    for tree in lesson.trees.values():
        available |= defined_names(tree)
        if brings_in_the_lecture(tree):
            available |= lecture_names()
    for index, tree in lesson.trees.items():
        for call in _calls(tree, ("cmp",)):
            reference = _argument(call, 2, "t")
            name = _root_name(reference) if reference is not None else None
            if name and name not in available:
                lesson.fault(index, f"{ast.unparse(call)} checks against {name}, which the lesson never assigns "
                                    "(nor brings in with globals().update(step.tensors))")


def _check_parameters_and_recap(lesson):
    code = lesson.code()
    if not code:
        return
    kinds = [(index, cell_kind(cell)) for index, cell in code]
    parameters = [index for index, kind in kinds if kind == "parameters"]
    for index in parameters[1:]:
        lesson.fault(index, "second parameters cell: a lesson has at most one")
    if parameters and parameters[0] != code[0][0]:
        lesson.fault(parameters[0], "parameters cell must be the first code cell")
    recaps = [index for index, kind in kinds if kind == "recap"]
    for index in recaps[1:]:
        lesson.fault(index, "second recap cell: a lesson has at most one")
    if recaps and recaps[0] != code[-1][0]:
        lesson.fault(recaps[0], "recap cell must be the last code cell")

    checks = []  # (key, label, index) of every cmp call in a check cell, in lesson order
    for index, kind in kinds:
        if kind == "check" and index in lesson.trees:
            checks += [(_cmp_key(c), ast.unparse(_argument(c, 0, "name") or c), index)
                       for c in _calls(lesson.trees[index], ("cmp",))]
    if not recaps:
        if checks:
            lesson.fault(code[-1][0], "lesson has check cells but no recap: end it with a code cell tagged "
                                      "recap that re-checks every gradient")
        return
    recap = recaps[0]
    tree = lesson.trees.get(recap)
    if tree is None:
        return
    calls = []
    for statement in tree.body:
        call = statement.value if isinstance(statement, ast.Expr) else None
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "cmp":
            calls.append(_cmp_key(call))
        else:
            lesson.fault(recap, f"recap cell may only hold comment lines and cmp(…) lines, not "
                                f"{ast.unparse(statement).splitlines()[0]!r}")
    wanted = list(dict.fromkeys(key for key, _, _ in checks))  # a gradient checked twice is re-checked once
    for key in {key for key in calls if calls.count(key) > 1}:
        lesson.fault(recap, f"recap line {key} appears {calls.count(key)} times: re-check each gradient once")
    for key, label, index in checks:
        if key not in calls:
            lesson.fault(recap, f"recap does not re-check {label}: add the line {key} "
                                f"(checked at line {lesson.lines[index]})")
    for key in calls:
        if key not in wanted:
            lesson.fault(recap, f"recap line {key} repeats no check of the lesson: each line is one of the "
                                "check cells' cmp(…) calls, without the assignment")
    calls = list(dict.fromkeys(calls))
    if set(calls) == set(wanted) and calls != wanted:
        lesson.fault(recap, "recap lines are not in lesson order: " + "; ".join(wanted))


def lesson_faults(lesson, lines):
    """Every rule of lessons/README.md that the lesson breaks: [(line, rule)], sorted by line."""
    checked = _Lesson(lesson, lines)
    _check_tags(checked)
    _check_prose(checked)
    _check_code(checked)
    _check_exercises_and_checks(checked)
    _check_references(checked)
    _check_parameters_and_recap(checked)
    return sorted(checked.faults, key=lambda fault: fault[0])


def cell_lines(text, lesson=None):
    """The 1-based line of each cell of a lesson source: its `+++` line or its ```{code-cell} fence."""
    source_map = myst_to_notebook(text, add_source_map=True).metadata["source_map"]
    lines = text.splitlines()
    starts = []
    for line in source_map:
        if line > len(lines) or not (lines[line - 1].startswith("+++") or "{code-cell}" in lines[line - 1]
                                     or "{raw-cell}" in lines[line - 1]):
            # a prose cell with no `+++` before it: its first non-blank line
            line = next((k for k in range(line + 1, len(lines) + 1) if lines[k - 1].strip()), line)
        starts.append(line)
    if lesson is not None and len(starts) != len(lesson.cells):  # pragma: no cover - jupytext reads both
        starts = [1] * len(lesson.cells)
    return starts


def shown_path(path):
    """The lesson's path as a person would type it: relative to the current directory when inside it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def validate(lesson_path):
    """Read a lesson and check it against every rule; raise LessonError listing all its faults."""
    try:
        text = Path(lesson_path).read_text(encoding="utf-8")
        lesson = jupytext.reads(text, fmt="md:myst")
    except Exception as error:  # bad JSON after `+++`, bad YAML, not UTF-8: a fault, not a traceback
        raise LessonError([f"{shown_path(lesson_path)}: cannot be read as MyST markdown: {error}"]) from None
    faults = lesson_faults(lesson, cell_lines(text, lesson))
    if faults:
        raise LessonError(f"{shown_path(lesson_path)}:{line}: {rule}" for line, rule in faults)
    return lesson


# --- whole notebooks --------------------------------------------------------

def read_lesson(path):
    return jupytext.read(path, fmt="md:myst")


def build_notebook(lesson, lang, variant, source_name):
    """The cells of one language and one variant ('student' or 'solution'), without outputs.

    Cell ids come from the lesson, so they are the same in both languages: an
    English prose cell takes the id of the Italian cell it translates.
    """
    cells, counters = [], {}
    for index, cell in enumerate(lesson.cells):
        cell_id = f"c{index:03d}"
        if cell.cell_type == "markdown":
            cell_lang = cell_language(cell)
            if cell_lang in (None, lang):
                previous = lesson.cells[index - 1] if index > 0 else None
                if cell_lang == LANGUAGES[1] and previous is not None and previous.cell_type == "markdown" \
                        and cell_language(previous) == LANGUAGES[0]:
                    cell_id = f"c{index - 1:03d}"
                cells.append(new_markdown_cell(cell.source, id=cell_id, metadata=without_language_tags(cell)))
            continue
        if cell.cell_type != "code" or cell_language(cell) not in (None, lang):
            continue
        kind = cell_kind(cell)
        gid = grade_id(kind, cell.source, counters)
        source = resolve_tr(code_for_language(cell.source, lang), lang)
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


def render(lesson_path, check=True):
    """All four notebooks of a lesson, unexecuted: {(lang, variant): notebook}.

    The lesson is first checked against the rules of lessons/README.md
    (`LessonError` if it breaks any); `check=False` skips that, for tests only.
    """
    lesson = validate(lesson_path) if check else read_lesson(lesson_path)
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


def generate(paths, run=True, write=True):
    """Check every lesson first (all faults of all lessons together), then write their notebooks."""
    faults, rendered = [], {}
    for path in paths:
        if not Path(path).is_file():
            faults.append(f"{shown_path(path)}: no such lesson file")
            continue
        try:
            rendered[path] = render(path)
        except LessonError as error:
            faults += error.faults
    if faults:
        raise LessonError(faults)
    if not write:
        print(f"{len(rendered)} lesson{'s' * (len(rendered) != 1)} checked: no fault (the rules are in lessons/README.md)")
        return
    for path, notebooks in rendered.items():
        for (lang, variant), nb in notebooks.items():
            target = outputs_for(path)[(lang, variant)]
            target.parent.mkdir(parents=True, exist_ok=True)
            if variant == "solution" and run:
                execute(nb, target.parent)
            nbformat.write(nb, target)
            print(f"wrote {target}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lessons", nargs="*", help="lesson sources (default: all of lessons/)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--no-execute", action="store_true", help="write the solutions without running them")
    mode.add_argument("--check", action="store_true", help="only check the lessons against the rules; write nothing")
    args = parser.parse_args(argv)
    paths = [Path(p) for p in args.lessons] or lesson_paths()
    try:
        generate(paths, run=not args.no_execute, write=not args.check)
    except LessonError as error:
        for fault in error.faults:
            print(fault, file=sys.stderr)
        count = len(error.faults)
        print(f"{count} fault{'s' * (count != 1)}: nothing written (the rules are in lessons/README.md)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
