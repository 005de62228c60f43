"""The generator: one bilingual source → student and solved notebooks, in both languages."""
import textwrap
from pathlib import Path

import nbformat
import pytest

from handgrad import generate as gen

FIXTURE = Path(__file__).parent / "fixtures" / "lessons" / "99_try.md"
NBGRADER_KEYS = {"grade", "grade_id", "locked", "schema_version", "solution", "task"}


def sources(nb, kind=None):
    return [c.source for c in nb.cells if kind is None or c.cell_type == kind]


@pytest.fixture(scope="module")
def rendered():
    return gen.render(FIXTURE)


def test_prose_is_filtered_by_language(rendered):
    it = "\n".join(sources(rendered["it", "student"], "markdown"))
    en = "\n".join(sources(rendered["en", "student"], "markdown"))
    assert "Prova" in it and "Try" not in it
    assert "Try" in en and "Prova" not in en


def test_comment_lines_are_filtered_by_language():
    code = textwrap.dedent("""\
        # it: uno
        # en: one
        x = 1
        if x:
            # it: rientrato
            # en: indented
            y = 2  # shared comment
        set_language("it")  # it:
        set_language("en")  # en:""")
    assert gen.code_for_language(code, "it") == (
        '# uno\nx = 1\nif x:\n    # rientrato\n    y = 2  # shared comment\nset_language("it")')
    assert gen.code_for_language(code, "en") == (
        '# one\nx = 1\nif x:\n    # indented\n    y = 2  # shared comment\nset_language("en")')


def test_assigned_names_cover_assignment_forms():
    code = "a = 1\nb += a\nc[0] = 2\nd.e = 3\nf, (g, h) = 1, (2, 3)\ni: int = 4\na = 5\nfor j in []: k = j"
    assert gen.assigned_names(code) == ["a", "b", "c", "d", "f", "g", "h", "i", "k"]


def test_student_stub_has_one_line_per_name_in_its_language():
    source = "# it: scrivi qui\n### BEGIN SOLUTION\ndcounts1 = 1\ndcounts2 = 2\ndcounts = dcounts1 + dcounts2\n### END SOLUTION\nprint('after')"
    assert gen.stub_source(gen.code_for_language(source, "en"), "en") == (
        "dcounts1 = ...  # YOUR CODE HERE\ndcounts2 = ...  # YOUR CODE HERE\n"
        "dcounts = ...  # YOUR CODE HERE\nprint('after')")
    assert gen.stub_source(gen.code_for_language(source, "it"), "it").startswith(
        "# scrivi qui\ndcounts1 = ...  # IL TUO CODICE QUI")


def test_stub_keeps_the_indentation_of_the_markers():
    source = "if True:\n    ### BEGIN SOLUTION\n    dx = 2 * x\n    ### END SOLUTION"
    assert gen.stub_source(source, "en") == "if True:\n    dx = ...  # YOUR CODE HERE"


def test_every_solution_region_of_a_cell_becomes_stubs():
    source = ("### BEGIN SOLUTION\ndx = 2 * x\n### END SOLUTION\nprint('between')\n"
              "### BEGIN SOLUTION\ndy = 3 * y\n### END SOLUTION")
    assert gen.stub_source(source, "en") == (
        "dx = ...  # YOUR CODE HERE\nprint('between')\ndy = ...  # YOUR CODE HERE")
    assert gen.solution_names(source) == ["dx", "dy"]


def test_unbalanced_markers_raise_a_clear_error_not_stopiteration():
    with pytest.raises(ValueError, match="BEGIN SOLUTION without END SOLUTION"):
        gen.stub_source("### BEGIN SOLUTION\ndx = 1", "en")


def test_solutions_keep_code_and_markers_students_get_stubs(rendered):
    solution = "\n".join(sources(rendered["en", "solution"], "code"))
    student = "\n".join(sources(rendered["en", "student"], "code"))
    assert "### BEGIN SOLUTION" in solution and "dlogprobs[range(n), Yb] = -1.0/n" in solution
    assert "BEGIN SOLUTION" not in student and "-1.0/n" not in student
    assert "dlogprobs = ...  # YOUR CODE HERE" in student


def test_nbgrader_schema_v3_metadata(rendered):
    for lang in gen.LANGUAGES:
        cells = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]
                 for c in rendered[lang, "solution"].cells if "nbgrader" in c.metadata}
        for meta in cells.values():
            assert NBGRADER_KEYS <= set(meta) and meta["schema_version"] == 3
            assert meta["solution"] or meta["locked"]
            assert not meta["grade"] or meta["points"] > 0
        assert cells["ex_dlogprobs"]["solution"] and not cells["ex_dlogprobs"]["locked"]
        assert cells["check_logprobs"]["grade"] and cells["check_logprobs"]["points"] == 1
        assert cells["setup_1"]["locked"] and not cells["setup_1"]["grade"]
        assert not cells["demo_1"]["grade"]


def test_grade_ids_are_the_same_in_both_languages_and_unique(rendered):
    ids = {lang: [c.metadata["nbgrader"]["grade_id"] for c in rendered[lang, "solution"].cells
                  if "nbgrader" in c.metadata] for lang in gen.LANGUAGES}
    assert ids["it"] == ids["en"]
    assert len(set(ids["it"])) == len(ids["it"])


def test_an_english_prose_cell_takes_the_id_of_its_italian_partner(rendered):
    for variant in ("student", "solution"):
        it, en = rendered["it", variant], rendered["en", variant]
        assert [c.id for c in it.cells] == [c.id for c in en.cells]
        assert it.cells[0].source == "# Prova" and en.cells[0].source == "# Try"


def test_parameters_cell_is_kept_in_every_variant(rendered):
    for nb in rendered.values():
        params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1 and "names_path = None" in params[0].source
        assert "nbgrader" not in params[0].metadata


def test_no_language_tags_or_outputs_leak_into_notebooks(rendered):
    for nb in rendered.values():
        for cell in nb.cells:
            assert not any(t.startswith("lang-") for t in cell.metadata.get("tags", []))
            assert cell.get("outputs", []) == [] and cell.get("execution_count") is None


def test_rendering_is_deterministic():
    first = {k: nbformat.writes(nb) for k, nb in gen.render(FIXTURE).items()}
    second = {k: nbformat.writes(nb) for k, nb in gen.render(FIXTURE).items()}
    assert first == second


def test_outputs_go_beside_the_lessons_folder(tmp_path):
    lesson = tmp_path / "lessons" / "07_x.md"
    out = gen.outputs_for(lesson)
    assert out["it", "student"] == tmp_path / "notebooks" / "it" / "07_x.ipynb"
    assert out["en", "solution"] == tmp_path / "solutions" / "en" / "07_x.ipynb"


def test_tr_is_resolved_to_the_notebooks_language():
    code = 'from handgrad import cmp, tr\nplt.title(tr("colonna", "column"))\nx = tr(f"{n} righe",\n       f"{n} rows")\n'
    assert gen.resolve_tr(code, "it") == 'from handgrad import cmp\nplt.title("colonna")\nx = f"{n} righe"\n'
    assert gen.resolve_tr(code, "en") == 'from handgrad import cmp\nplt.title("column")\nx = f"{n} rows"\n'
    assert gen.resolve_tr("%timeit tr('a', 'b')", "en") == "%timeit tr('a', 'b')"  # not Python: left alone


def test_no_notebook_shows_the_other_languages_strings():
    for lesson in gen.lesson_paths():
        for (lang, variant), nb in gen.render(lesson).items():
            code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
            assert "tr(" not in code.replace("str(", ""), f"{lesson.name} {lang} {variant}"
