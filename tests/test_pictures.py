"""The helpers lessons import: `tr`, `check_shape` (handgrad.shapes) and the drawings (handgrad.pictures)."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from handgrad import set_language, tr  # noqa: E402
from handgrad.i18n import MESSAGES  # noqa: E402
from handgrad.pictures import OTHER, PATH1, PATH2, canvas, draw_graph, draw_matrix  # noqa: E402
from handgrad.shapes import check_shape  # noqa: E402

B = torch.zeros(3, 1)


def test_tr_picks_the_current_language():
    set_language("it")
    assert tr("colonna", "column") == "colonna"
    set_language("en")
    assert tr("colonna", "column") == "column"


def test_shape_messages_exist_in_both_languages():
    for key in ("shape_todo", "shape_right", "shape_wrong"):
        assert set(MESSAGES[key]) == {"it", "en"}


@pytest.mark.parametrize("lang, todo, right, wrong", [
    ("it", "db: ancora da fare", "db: (3, 1), forma giusta!",
     "db: (1, 3) non è la forma giusta. Ricorda: db ha sempre la forma di b."),
    ("en", "db: still to do", "db: (3, 1), the right shape!",
     "db: (1, 3) is not the right shape. Remember: db always has the shape of b."),
])
def test_check_shape_says_todo_right_or_wrong(capsys, lang, todo, right, wrong):
    set_language(lang)
    for guess, expected in ((..., todo), ((3, 1), right), (torch.Size([3, 1]), right), ((1, 3), wrong)):
        assert check_shape("db", guess, B) is None
        assert capsys.readouterr().out == expected + "\n"


def test_check_shape_names_the_tensor_given_with_of(capsys):
    check_shape("dcounts1", (1, 3), B, of="counts")
    assert "dcounts1 always has the shape of counts." in capsys.readouterr().out


def test_check_shape_takes_a_guess_that_is_not_a_shape_as_wrong(capsys):
    check_shape("db", 3, B)
    out = capsys.readouterr().out
    assert "is not the right shape" in out and "a shape is a tuple" in out and "3 is not one" in out
    check_shape("db", (1, 3), B)
    assert "a shape is a tuple" not in capsys.readouterr().out


def test_draw_matrix_shares_one_colour_scale_per_figure():
    fig, ax = canvas(8)
    draw_matrix(ax, torch.tensor([[1.0, -1.0]]), 0, "small")
    small = ax.patches[0].get_facecolor()
    draw_matrix(ax, torch.tensor([[10.0], [-10.0]]), 4, "large", ghost_rows=(1,))
    assert len(ax.patches) == 4
    assert ax.patches[0].get_facecolor() != small  # recoloured: 1 is now a tenth of the scale
    assert ax.patches[2].get_facecolor() == plt.get_cmap("coolwarm")(0.9)
    fixed, ax2 = canvas(3, vmax=2.0)
    draw_matrix(ax2, torch.tensor([[1.0, -1.0]]), 0, "fixed", col_labels=["a", "b"])
    assert ax2.patches[0].get_facecolor() == plt.get_cmap("coolwarm")(0.7)
    plt.close("all")


def test_draw_graph_draws_boxes_arrows_and_a_legend(monkeypatch):
    monkeypatch.setattr(plt, "show", lambda: None)
    draw_graph({"x": (0, 0), "y": (0, -1), "f": (2, 0)},
               [("x", "f", "+", PATH1), ("y", "f", "*", PATH2), ("x", "y", "", OTHER)],
               {PATH1: "path 1", PATH2: "path 2"})
    ax = plt.gcf().axes[0]
    assert {t.get_text() for t in ax.texts} >= {"x", "y", "f", "+", "*"}
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["path 1", "path 2"]
    plt.close("all")


def test_check_shape_says_when_only_the_number_of_dimensions_is_wrong(capsys):
    from handgrad import set_language
    from handgrad.shapes import check_shape
    set_language("en")
    check_shape("dloss", (1,), torch.tensor(1.0))
    out = capsys.readouterr().out
    assert "(1,) has one dimension and loss has no dimensions" in out
    check_shape("db", (2, 1), torch.zeros(3, 1))
    assert "number of elements" not in capsys.readouterr().out
