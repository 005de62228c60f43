"""The rules of lessons/README.md, enforced when a lesson is rendered: one test per rule.

Each test writes a small lesson that breaks one rule and checks that rendering
it stops with a LessonError naming the file, the line of the cell and the rule.
"""
import io
import textwrap
import tokenize
from pathlib import Path

import pytest

from conftest import REPO
from handgrad import generate as gen

FIXTURES = Path(__file__).parent / "fixtures" / "lessons"
LESSONS = gen.lesson_paths(REPO)

FRONT_MATTER = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""
TITLE = """
+++ {"tags": ["lang-it"]}

# Prova

+++ {"tags": ["lang-en"]}

# Try
"""
PARAMETERS = """
```{code-cell} ipython3
:tags: [parameters]

names_path = None
```
"""
SETUP = """
```{code-cell} ipython3
from handgrad import cmp, reference_step, set_language
set_language("it")  # it:
set_language("en")  # en:
step = reference_step(names_path)
globals().update(step.tensors)
```
"""
EXERCISE = """
```{code-cell} ipython3
### BEGIN SOLUTION
dlogprobs = torch.zeros_like(logprobs)
### END SOLUTION
```
"""
CHECK = """
```{code-cell} ipython3
dlogprobs = cmp('logprobs', dlogprobs, logprobs)
```
"""
RECAP = """
```{code-cell} ipython3
:tags: [recap]

# it: ricontrolla
# en: re-check
cmp('logprobs', dlogprobs, logprobs)
```
"""


def block(text):
    return textwrap.dedent(text)


def lesson(tmp_path, monkeypatch, *parts, name="50_rule.md"):
    """A lesson made of `parts`, written to tmp_path/lessons/; the current directory is tmp_path."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "lessons" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(FRONT_MATTER + "".join(textwrap.dedent(p) for p in parts), encoding="utf-8")
    return path


def valid_lesson(tmp_path, monkeypatch, **replace):
    parts = dict(title=TITLE, parameters=PARAMETERS, setup=SETUP, exercise=EXERCISE, check=CHECK, recap=RECAP)
    parts.update(replace)
    return lesson(tmp_path, monkeypatch, *parts.values())


def cell_line(path, needle):
    """The line of the cell holding `needle`: the nearest `+++` or code-cell fence at or above it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if needle in line)
    return 1 + next(i for i in range(at, -1, -1)
                    if lines[i].startswith("+++") or lines[i].startswith("```{code-cell}"))


def faults(path):
    with pytest.raises(gen.LessonError) as error:
        gen.render(path)
    return error.value.faults


def assert_fault(path, needle, rule):
    """Exactly this fault: `lessons/50_rule.md:<line of the cell holding needle>: …rule…`."""
    where = f"lessons/{path.name}:{cell_line(path, needle)}: "
    found = faults(path)
    assert any(f.startswith(where) and rule in f for f in found), "\n".join(found)
    return found


# --- the valid lesson, and the real ones -------------------------------------

def test_the_base_lesson_of_these_tests_is_valid(tmp_path, monkeypatch):
    assert len(gen.render(valid_lesson(tmp_path, monkeypatch))) == 4


@pytest.mark.parametrize("path", LESSONS + [FIXTURES / "99_try.md"], ids=lambda p: p.stem)
def test_every_real_lesson_follows_the_rules(path):
    gen.validate(path)


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_cell_lines_point_at_the_start_of_each_cell(path):
    text = path.read_text(encoding="utf-8")
    lesson = gen.read_lesson(path)
    lines = gen.cell_lines(text, lesson)
    source = text.splitlines()
    assert len(lines) == len(lesson.cells)
    for cell, line in zip(lesson.cells, lines):
        start = "+++" if cell.cell_type == "markdown" else "```{code-cell}"
        assert source[line - 1].startswith(start), (line, source[line - 1])


# --- solution markers ----------------------------------------------------------

def test_begin_without_end_is_a_fault(tmp_path, monkeypatch):
    path = valid_lesson(tmp_path, monkeypatch, exercise="""
        ```{code-cell} ipython3
        ### BEGIN SOLUTION
        dlogprobs = torch.zeros_like(logprobs)  # unclosed
        ```
        """)
    assert_fault(path, "# unclosed", "exercise cell has a BEGIN SOLUTION without END SOLUTION")


def test_end_before_begin_is_a_fault(tmp_path, monkeypatch):
    path = valid_lesson(tmp_path, monkeypatch, exercise="""
        ```{code-cell} ipython3
        ### END SOLUTION
        ### BEGIN SOLUTION
        dlogprobs = torch.zeros_like(logprobs)  # stray end
        ### END SOLUTION
        ```
        """)
    assert_fault(path, "# stray end", "END SOLUTION without a BEGIN SOLUTION before it")


def test_nested_solutions_are_a_fault(tmp_path, monkeypatch):
    path = valid_lesson(tmp_path, monkeypatch, exercise="""
        ```{code-cell} ipython3
        ### BEGIN SOLUTION
        ### BEGIN SOLUTION
        dlogprobs = torch.zeros_like(logprobs)  # nested
        ### END SOLUTION
        ### END SOLUTION
        ```
        """)
    assert_fault(path, "# nested", "BEGIN SOLUTION inside another solution")


def test_an_empty_solution_is_a_fault(tmp_path, monkeypatch):
    path = valid_lesson(tmp_path, monkeypatch, exercise="""
        ```{code-cell} ipython3
        ### BEGIN SOLUTION
        dlogprobs = torch.zeros_like(logprobs)
        ### END SOLUTION
        ### BEGIN SOLUTION
        # only a comment: empty
        ### END SOLUTION
        ```
        """)
    assert_fault(path, "# only a comment: empty", "exercise cell has an empty solution (lines 4-6 of the cell)")


def test_a_solution_that_assigns_no_name_is_a_fault(tmp_path, monkeypatch):
    path = valid_lesson(tmp_path, monkeypatch, exercise="""
        ```{code-cell} ipython3
        dlogprobs = torch.zeros_like(logprobs)
        ### BEGIN SOLUTION
        print(dlogprobs)  # assigns nothing
        ### END SOLUTION
        ```
        """)
    assert_fault(path, "# assigns nothing", "assigns no name")


def test_a_malformed_marker_or_a_marker_in_a_tagged_cell_is_a_fault(tmp_path, monkeypatch):
    path = valid_lesson(tmp_path, monkeypatch, check=CHECK + block("""
        ```{code-cell} ipython3
        :tags: [demo]

        ### BEGIN SOLUTION
        x = cmp('logprobs', -dlogprobs, logprobs, strict=False)  # demo with markers
        ### END SOLUTION
        ```

        ```{code-cell} ipython3
        ## BEGIN SOLUTION
        y = 1  # malformed
        ```
        """))
    assert_fault(path, "# demo with markers", "solution markers in a demo cell")
    assert_fault(path, "# malformed", "malformed solution marker '## BEGIN SOLUTION'")


def test_every_solution_region_is_replaced_in_the_student_notebook(tmp_path, monkeypatch):
    path = valid_lesson(tmp_path, monkeypatch, exercise="""
        ```{code-cell} ipython3
        ### BEGIN SOLUTION
        dlogprobs = torch.zeros_like(logprobs)
        ### END SOLUTION
        dlogprobs = dlogprobs.clone()
        ### BEGIN SOLUTION
        dlogprobs[range(n), Yb] = -1.0/n
        ### END SOLUTION
        ```
        """)
    student = "\n".join(c.source for c in gen.render(path)["en", "student"].cells)
    assert "-1.0/n" not in student and "zeros_like" not in student
    assert student.count("dlogprobs = ...  # YOUR CODE HERE") == 2


# --- exercises and their checks ---------------------------------------------------

def test_an_exercise_without_a_check_after_it_is_a_fault(tmp_path, monkeypatch):
    path = valid_lesson(tmp_path, monkeypatch, check="""
        ```{code-cell} ipython3
        print("no check here")
        ```
        """, recap="")
    assert_fault(path, "dlogprobs = torch.zeros_like", "exercise has no check cell after it")


def test_each_name_of_an_exercise_must_be_checked(tmp_path, monkeypatch):
    path = valid_lesson(tmp_path, monkeypatch, exercise="""
        ```{code-cell} ipython3
        ### BEGIN SOLUTION
        dlogprobs = torch.zeros_like(logprobs)
        dprobs = dlogprobs / probs  # unchecked
        ### END SOLUTION
        ```
        """)
    assert_fault(path, "# unchecked", "exercise assigns dprobs but no check cell after it checks it")


def test_a_shape_question_is_checked_by_check_shape(tmp_path, monkeypatch):
    path = valid_lesson(tmp_path, monkeypatch, check=CHECK + block("""
        ```{code-cell} ipython3
        ### BEGIN SOLUTION
        shape_dprobs = (32, 27)
        ### END SOLUTION
        ```

        ```{code-cell} ipython3
        check_shape('dprobs', shape_dprobs, probs)
        ```
        """))
    gen.validate(path)


def test_a_check_before_any_exercise_is_a_fault(tmp_path, monkeypatch):
    path = valid_lesson(tmp_path, monkeypatch, setup=SETUP + block("""
        ```{code-cell} ipython3
        cmp('loss', ..., loss)  # early check
        ```
        """))
    assert_fault(path, "# early check", "check cell (it calls cmp) before any exercise")


def test_checking_against_a_name_the_lesson_never_assigns_is_a_fault(tmp_path, monkeypatch):
    path = valid_lesson(tmp_path, monkeypatch, check="""
        ```{code-cell} ipython3
        dlogprobs = cmp('logprobs', dlogprobs, logprobz)
        ```
        """, recap=RECAP.replace("logprobs)", "logprobz)"))
    assert_fault(path, "dlogprobs = cmp('logprobs', dlogprobs, logprobz)",
                 "cmp('logprobs', dlogprobs, logprobz) checks against logprobz, which the lesson never assigns")


def test_the_lecture_names_come_in_only_with_globals_update(tmp_path, monkeypatch):
    path = valid_lesson(tmp_path, monkeypatch, setup="""
        ```{code-cell} ipython3
        from handgrad import cmp, reference_step, set_language
        step = reference_step(names_path)
        ```
        """)
    assert_fault(path, "dlogprobs = cmp(", "checks against logprobs, which the lesson never assigns")


def test_lecture_names_cover_what_reference_step_brings_in():
    from handgrad import reference_step
    assert set(reference_step().tensors) <= gen.lecture_names()


# --- prose ----------------------------------------------------------------------

def test_untagged_prose_with_words_is_a_fault(tmp_path, monkeypatch):
    path = valid_lesson(tmp_path, monkeypatch, title=TITLE + block("""
        +++

        $$\\frac{\\partial L}{\\partial x}$$ `dX` ![](figure.png)

        +++

        Words in no language
        """))
    found = assert_fault(path, "Words in no language", "markdown cell without a lang-it/lang-en tag has words")
    assert len(found) == 1  # the formula-and-code cell above it is fine


def test_prose_must_pair_italian_then_english(tmp_path, monkeypatch):
    path = valid_lesson(tmp_path, monkeypatch, title="""
        +++ {"tags": ["lang-it"]}

        Solo italiano

        ```{code-cell} ipython3
        x = 1
        ```

        +++ {"tags": ["lang-en"]}

        English alone
        """)
    assert_fault(path, "Solo italiano", "lang-it cell has no lang-en partner right after it")
    assert_fault(path, "English alone", "lang-en cell has no lang-it partner right before it")


def test_a_code_cell_tagged_with_a_language_is_a_fault(tmp_path, monkeypatch):
    path = valid_lesson(tmp_path, monkeypatch, setup=SETUP + block("""
        ```{code-cell} ipython3
        :tags: [lang-it]

        print("solo in italiano")
        ```
        """))
    assert_fault(path, "solo in italiano", "code cell tagged lang-it: code is shared by both languages")


# --- language comments --------------------------------------------------------------

def test_a_language_marker_after_code_is_a_fault(tmp_path, monkeypatch):
    path = valid_lesson(tmp_path, monkeypatch, setup=SETUP + block("""
        ```{code-cell} ipython3
        x = 1  # it: uno
        x = 1  # en: one
        ```
        """))
    assert_fault(path, "# it: uno", "'# it:' comment after code in 'x = 1  # it: uno'")


def test_set_language_is_the_one_code_line_a_marker_may_follow(tmp_path, monkeypatch):
    gen.validate(valid_lesson(tmp_path, monkeypatch))  # SETUP has set_language("it")  # it:
    path = valid_lesson(tmp_path, monkeypatch, setup=SETUP.replace('set_language("en")  # en:',
                                                                   'set_language("it")  # en:'))
    assert_fault(path, "globals().update", """'# en:' comment after code in 'set_language("it")  # en:'""")


def test_language_comments_must_pair_up(tmp_path, monkeypatch):
    path = valid_lesson(tmp_path, monkeypatch, setup=SETUP + block("""
        ```{code-cell} ipython3
        # it: senza partner
        x = 1
        # en: first
        # it: then
        y = 2
        ```
        """))
    found = assert_fault(path, "# it: senza partner", "language comments on lines 1-1 of the cell do not pair up")
    assert_fault(path, "# it: senza partner", "lines 3-4 of the cell do not pair up (# en:, # it:)")
    assert len(found) == 2


def test_a_marker_inside_a_string_is_not_a_comment(tmp_path, monkeypatch):
    path = valid_lesson(tmp_path, monkeypatch, setup=SETUP + block("""
        ```{code-cell} ipython3
        print("# it: not a comment")
        ```
        """))
    gen.validate(path)


# --- parameters and recap ------------------------------------------------------------

def test_the_parameters_cell_is_single_and_first(tmp_path, monkeypatch):
    path = valid_lesson(tmp_path, monkeypatch, parameters="", setup=SETUP + PARAMETERS.replace(
        "names_path = None", "names_path = 'late'") + PARAMETERS.replace("names_path = None", "other = 1"))
    assert_fault(path, "names_path = 'late'", "parameters cell must be the first code cell")
    assert_fault(path, "other = 1", "second parameters cell: a lesson has at most one")


def test_a_lesson_with_checks_needs_a_recap(tmp_path, monkeypatch):
    path = valid_lesson(tmp_path, monkeypatch, recap="")
    assert_fault(path, "dlogprobs = cmp(", "lesson has check cells but no recap")


def test_the_recap_is_single_and_last(tmp_path, monkeypatch):
    path = valid_lesson(tmp_path, monkeypatch, check=CHECK + RECAP.replace("# en: re-check", "# en: early"),
                        recap=RECAP + '\n```{code-cell} ipython3\nprint("after the recap")\n```\n')
    assert_fault(path, "# en: early", "recap cell must be the last code cell")
    assert_fault(path, "# en: re-check", "second recap cell: a lesson has at most one")


def test_the_recap_rechecks_every_check_and_nothing_else(tmp_path, monkeypatch):
    two = EXERCISE.replace("dlogprobs = torch", "dprobs = torch").replace("logprobs)", "probs)")
    path = valid_lesson(tmp_path, monkeypatch, check=CHECK + two + "\n```{code-cell} ipython3\n"
                        "dprobs = cmp('probs', dprobs, probs)\n```\n",
                        recap=RECAP.replace("cmp('logprobs', dlogprobs, logprobs)",
                                            "dlogprobs = cmp('logprobs', dlogprobs, logprobs)\nprint('done')"))
    assert_fault(path, "# it: ricontrolla", "recap cell may only hold comment lines and cmp(…) lines, not "
                                           "\"dlogprobs = cmp('logprobs', dlogprobs, logprobs)\"")
    assert_fault(path, "# it: ricontrolla", "recap does not re-check 'probs': add the line cmp('probs', dprobs, probs)")


def test_the_recap_follows_the_lesson_order(tmp_path, monkeypatch):
    two = EXERCISE.replace("dlogprobs = torch", "dprobs = torch").replace("logprobs)", "probs)")
    path = valid_lesson(tmp_path, monkeypatch, check=CHECK + two + "\n```{code-cell} ipython3\n"
                        "dprobs = cmp('probs', dprobs, probs)\n```\n",
                        recap=RECAP.replace("cmp('logprobs', dlogprobs, logprobs)",
                                            "cmp('probs', dprobs, probs)\ncmp('logprobs', dlogprobs, logprobs)"))
    assert_fault(path, "# it: ricontrolla", "recap lines are not in lesson order")


def test_a_gradient_checked_twice_is_rechecked_once(tmp_path, monkeypatch):
    again = "\n```{code-cell} ipython3\ndlogprobs = cmp('logprobs', dlogprobs, logprobs)\n```\n"
    path = valid_lesson(tmp_path, monkeypatch, check=CHECK + again)
    assert gen.render(path)  # one recap line for the two checks of logprobs is enough
    path = valid_lesson(tmp_path, monkeypatch, check=CHECK + again,
                        recap=RECAP.replace("cmp('logprobs', dlogprobs, logprobs)",
                                            "cmp('logprobs', dlogprobs, logprobs)\ncmp('logprobs', dlogprobs, logprobs)"))
    assert_fault(path, "# it: ricontrolla", "recap line cmp('logprobs', dlogprobs, logprobs) appears 2 times")


# --- tags ------------------------------------------------------------------------------

def test_an_unknown_tag_is_a_fault(tmp_path, monkeypatch):
    path = valid_lesson(tmp_path, monkeypatch, check=CHECK.replace(
        "```{code-cell} ipython3\n", "```{code-cell} ipython3\n:tags: [solution]\n\n"), title="""
        +++ {"tags": ["lang-it", "italian"]}

        # Prova

        +++ {"tags": ["lang-en"]}

        # Try
        """)
    assert_fault(path, "dlogprobs = cmp(", "unknown tag 'solution' on a code cell (allowed: parameters, demo, recap)")
    assert_fault(path, "# Prova", "unknown tag 'italian' on a markdown cell (allowed: lang-it, lang-en)")


# --- all faults at once, and the command line ---------------------------------------------

def test_every_fault_of_a_lesson_is_reported_together_in_line_order():
    with pytest.raises(gen.LessonError) as error:
        gen.render(FIXTURES / "97_broken.md")
    found = error.value.faults
    assert len(found) >= 5
    lines = [int(f.split(":")[1]) for f in found]
    assert lines == sorted(lines)
    assert all(f.startswith(f"{gen.shown_path(FIXTURES / '97_broken.md')}:") for f in found)


def test_the_command_line_prints_the_faults_and_exits_nonzero(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert gen.main(["--no-execute", "tests/fixtures/lessons/97_broken.md", "lessons/99_doesnotexist.md"]) == 1
    err = capsys.readouterr().err
    assert "tests/fixtures/lessons/97_broken.md:" in err and "Traceback" not in err
    assert "lessons/99_doesnotexist.md: no such lesson file" in err
    assert err.rstrip().endswith("nothing written (the rules are in lessons/README.md)")


def test_a_lesson_jupytext_cannot_read_is_a_fault_not_a_traceback(tmp_path, monkeypatch):
    path = lesson(tmp_path, monkeypatch, '+++ {"tags": ["lang-it"}\n\nRotto\n')
    found = faults(path)
    assert len(found) == 1 and found[0].startswith("lessons/50_rule.md: cannot be read as MyST markdown: ")


def test_check_mode_writes_nothing(capsys, monkeypatch, tmp_path):
    path = valid_lesson(tmp_path, monkeypatch)
    assert gen.main(["--check", str(path)]) == 0
    assert "1 lesson checked: no fault" in capsys.readouterr().out
    assert not (tmp_path / "notebooks").exists() and not (tmp_path / "solutions").exists()


# --- one code for both languages --------------------------------------------------------------

def code_tokens(source):
    """The code of a cell without its comments, with string literals normalised.

    `tr("testo", "text")` is resolved per language by the generator, and
    `set_language("it")` names the language: only strings may differ.
    """
    tokens = [(t.type, "STR" if t.type == tokenize.STRING else t.string)
              for t in tokenize.generate_tokens(io.StringIO(source).readline)
              if t.type not in (tokenize.COMMENT, tokenize.NL)]
    for k in range(len(tokens) - 2):
        if tokens[k] == (tokenize.NAME, "set_language") and tokens[k + 1][1] == "(":
            tokens[k + 2] = (tokenize.STRING, "LANG")
    return tokens


def language_differences(it, en):
    """How the Italian and English notebooks differ, beyond prose and comments ([] if they don't)."""
    differences = []
    if [c.id for c in it.cells] != [c.id for c in en.cells]:
        differences.append("cell ids")
    if [c.cell_type for c in it.cells] != [c.cell_type for c in en.cells]:
        differences.append("cell types")
    grades = [[c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells] for nb in (it, en)]
    if grades[0] != grades[1]:
        differences.append("grade ids")
    for a, b in zip(it.cells, en.cells):
        if a.cell_type == b.cell_type == "code" and code_tokens(a.source) != code_tokens(b.source):
            differences.append(f"code of cell {a.id}")
    return differences


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_both_languages_have_the_same_cells_grades_and_code(path):
    rendered = gen.render(path)
    for variant in ("student", "solution"):
        assert language_differences(rendered["it", variant], rendered["en", variant]) == []


def test_the_language_comparison_catches_code_that_differs():
    """98_code_differs.md translates a value, not a comment: the rules refuse it, and so does the comparison."""
    with pytest.raises(gen.LessonError):
        gen.render(FIXTURES / "98_code_differs.md")
    rendered = gen.render(FIXTURES / "98_code_differs.md", check=False)
    differences = language_differences(rendered["it", "solution"], rendered["en", "solution"])
    assert len(differences) == 1 and differences[0].startswith("code of cell")
