"""The lessons' drawings: small matrices as grids of numbered cells, and computational graphs.

    fig, ax = canvas(11)                       # one figure, one shared colour scale
    draw_matrix(ax, a, 0, "a  [3, 3]")
    draw_matrix(ax, b.expand(3, 3), 4, "b", ghost_cols=(1, 2))
    plt.show()

Every matrix drawn on the same axes shares one colour scale, so a colour means
the same number in every panel: by default the largest |value| drawn so far on
those axes (each new panel recolours the earlier ones); `vmax=` fixes it.
"""
import weakref

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

# The colours of draw_graph's two paths and of every other edge.
PATH1, PATH2, OTHER = "tab:orange", "tab:blue", "0.6"
CMAP = "coolwarm"

_scales = weakref.WeakKeyDictionary()  # axes -> {"vmax": fixed scale or None, "cells": [(patch, value)]}


def _scale(ax):
    return _scales.setdefault(ax, {"vmax": None, "cells": []})


def _recolour(ax):
    scale = _scale(ax)
    vmax = scale["vmax"] or max((abs(v) for _, v in scale["cells"]), default=0.0) or 1.0
    cmap = plt.get_cmap(CMAP)
    for patch, value in scale["cells"]:
        patch.set_facecolor(cmap(0.5 + 0.4 * max(-1.0, min(1.0, value / vmax))))


def canvas(width, rows=3, top=1.0, vmax=None):
    """A blank figure `width` cells wide and `rows` cells tall (plus `top` for titles), axes hidden.

    `vmax` fixes the colour scale of every matrix drawn on it; by default the
    scale is the largest |value| among them.
    """
    fig, ax = plt.subplots(figsize=(0.5 * (width + 0.4), 0.5 * (rows + 0.9 + top)))
    ax.set_xlim(-0.2, width + 0.2)
    ax.set_ylim(-rows - 0.9, top)
    ax.set_aspect("equal")
    ax.axis("off")
    _scale(ax)["vmax"] = vmax
    return fig, ax


def draw_matrix(ax, M, x0, title, ghost_cols=(), ghost_rows=(), col_labels=None, vmax=None):
    """Draw the 2-D tensor `M` at x = `x0` as a grid of cells with the value written inside.

    Ghost cells (columns `ghost_cols`, rows `ghost_rows`), lighter and dashed,
    are the copies broadcasting makes.  `vmax` fixes the colour scale of the
    whole axes (every matrix on it); without it the scale is shared by all of them.
    """
    M = M.detach().float()
    if M.dim() == 1:
        M = M.unsqueeze(0)
    scale = _scale(ax)
    if vmax is not None:
        scale["vmax"] = vmax
    for i in range(M.shape[0]):
        for j in range(M.shape[1]):
            ghost = j in ghost_cols or i in ghost_rows
            value = M[i, j].item()
            patch = plt.Rectangle((x0 + j, -i - 1), 1, 1, alpha=0.3 if ghost else 1.0, edgecolor="grey",
                                  linestyle="--" if ghost else "-")
            ax.add_patch(patch)
            scale["cells"].append((patch, value))
            ax.text(x0 + j + 0.5, -i - 0.5, f"{value:g}", ha="center", va="center", fontsize=11,
                    color="grey" if ghost else "black")
    ax.text(x0 + M.shape[1] / 2, 0.2, title, ha="center", va="bottom", fontsize=11)
    for j, label in enumerate(col_labels or []):
        ax.text(x0 + j + 0.5, -M.shape[0] - 0.3, label, ha="center", va="top", fontsize=10)
    _recolour(ax)


def draw_graph(nodes, edges, legend, figsize=(6, 2.4)):
    """Draw a computational graph: one box per node, one arrow per operation, and show it.

    nodes: {name: (x, y)}; edges: [(from, to, label, colour)]; legend: {colour: text}.
    """
    fig, ax = plt.subplots(figsize=figsize)
    xs, ys = [x for x, _ in nodes.values()], [y for _, y in nodes.values()]
    ax.set_xlim(min(xs) - 1, max(xs) + 1)
    ax.set_ylim(min(ys) - 0.5, max(ys) + 0.4)
    ax.axis("off")
    box = {name: ax.text(x, y, name, ha="center", va="center", family="monospace", fontsize=10,
                         bbox=dict(boxstyle="round,pad=0.4", fc="white", ec="0.3"))
           for name, (x, y) in nodes.items()}
    fig.canvas.draw()  # so that the boxes already know their size, for the arrows to stop at their edge
    for src, dst, label, colour in edges:
        ax.annotate("", xy=nodes[dst], xytext=nodes[src],
                    arrowprops=dict(arrowstyle="-|>", color=colour, lw=2, mutation_scale=14, shrinkA=1, shrinkB=1,
                                    patchA=box[src].get_bbox_patch(), patchB=box[dst].get_bbox_patch()))
        (x0, y0), (x1, y1) = nodes[src], nodes[dst]
        rising = (y1 - y0) * (x1 - x0)
        offset, ha = ((0, 4), "center") if rising == 0 else (((-6, 0), "right") if rising > 0 else ((6, 0), "left"))
        ax.annotate(label, ((x0 + x1) / 2, (y0 + y1) / 2), xytext=offset, textcoords="offset points",
                    ha=ha, va="bottom", color=colour, family="monospace", fontsize=10)
    handles = [Line2D([], [], color=c, lw=2, label=text) for c, text in legend.items()]
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, -0.12), ncol=len(handles),
              fontsize=10, frameon=False)
    plt.show()


# --- matrix products as rectangles -------------------------------------------
#
#     draw_matmuls([(("h", (32, 64)), ("W2", (64, 27)), "logits", tr("avanti", "forward")),
#                   (("dlogits", (32, 27)), ("W2", (64, 27)), None, "", NOT_OK)])
#
# Every matrix is a rectangle to scale: its height is its number of rows, its
# width its number of columns. A size always has the same colour, in every
# figure of a notebook (the rows of `h` and of `logits`, both 32, share it), so a
# product whose inner sizes do not match shows two different colours meeting.

UNIT_INCHES = 0.3  # one unit of a draw_matmuls figure, in inches
SHAPE_SCALE = 1 / 20  # units per row or column of a matrix
SIZE_COLOURS = ("tab:blue", "tab:orange", "tab:purple", "tab:brown", "tab:olive", "tab:cyan")  # no OK/NOT_OK
OK, NOT_OK = "tab:green", "tab:red"
_size_colours = {}  # size -> colour, the first size drawn getting the first colour


def size_colour(size):
    """The colour of a dimension's size, the same in every draw_matmuls figure of the session."""
    return _size_colours.setdefault(size, SIZE_COLOURS[len(_size_colours) % len(SIZE_COLOURS)])


def _text_width(text, fontsize):
    """About how wide a text is (its longest line), in units of UNIT_INCHES, to lay a row out before drawing it."""
    longest = max((len(line) for line in text.splitlines()), default=0)
    return longest * 0.6 * fontsize / 72 / UNIT_INCHES


def _matmul_row(left, right, result, note, scale):
    """One row's pieces, left to right, their widths and the row's height.

    A piece is ("shape", label, (rows, cols)), ("op", text, fontsize) or ("note", text, fontsize).
    """
    (lname, (m, k1)), (rname, (k2, n)) = left, right
    pieces = [("shape", lname, (m, k1)), ("op", "@", 14), ("shape", rname, (k2, n))]
    if k1 == k2:
        pieces += [("op", "=", 14), ("shape", result or f"{lname} @ {rname}", (m, n))]
    else:
        pieces += [("op", f"✗  {k1} ≠ {k2}", 12)]
    if note:
        pieces += [("note", note, 11)]
    widths = []
    for kind, what, size in pieces:
        if kind == "shape":
            label = f"{what}\n[{size[0]}, {size[1]}]"
            widths.append(max(size[1] * scale, _text_width(label, 10)) + 1.6)
        else:
            widths.append(_text_width(what, size) + 0.8)
    height = max(size[0] * scale for kind, _, size in pieces if kind == "shape") + 3.0
    return pieces, widths, height


def draw_matmuls(rows, scale=SHAPE_SCALE):
    """Draw matrix products to scale, one per row, and show the figure.

    Each row is (left, right, result, note) or (left, right, result, note, colour):
    `left` and `right` are (label, (rows, cols)). When the inner sizes match, '='
    and the product's rectangle follow (labelled `result`, by default
    "left @ right"); otherwise a red '✗' and the two sizes that differ.
    `note` (the caller's text, e.g. from tr()) ends the row, in `colour`
    (OK, NOT_OK or any matplotlib colour; black by default).
    """
    laid = [_matmul_row(*row[:4], scale) for row in rows]
    width = max(sum(widths) for _, widths, _ in laid) + 0.4
    height = sum(row_height for _, _, row_height in laid) + 0.2
    fig, ax = plt.subplots(figsize=(width * UNIT_INCHES, height * UNIT_INCHES))
    ax.set_xlim(0, width)
    ax.set_ylim(-height, 0)
    ax.set_aspect("equal")
    ax.axis("off")
    y = -0.8
    for row, (pieces, widths, row_height) in zip(rows, laid):
        note_colour = row[4] if len(row) > 4 else "black"
        x = 0.2
        for (kind, what, size), slot in zip(pieces, widths):
            if kind != "shape":
                shown = NOT_OK if what.startswith("✗") else note_colour if kind == "note" else "black"
                ax.text(x + 0.4, y - 0.9, what, ha="left", va="center", fontsize=size, color=shown)
            else:
                r, c = size
                w, h = c * scale, r * scale
                x0 = x + 1.2 + (slot - 1.6 - w) / 2
                ax.add_patch(plt.Rectangle((x0, y - h), w, h, facecolor="0.93", edgecolor="0.75", lw=1))
                ax.plot([x0, x0 + w], [y, y], color=size_colour(c), lw=4, solid_capstyle="butt")
                ax.plot([x0, x0], [y, y - h], color=size_colour(r), lw=4, solid_capstyle="butt")
                ax.text(x0 + w / 2, y + 0.12, str(c), ha="center", va="bottom", fontsize=11,
                        fontweight="bold", color=size_colour(c))
                ax.text(x0 - 0.12, y - h / 2, str(r), ha="right", va="center", fontsize=11,
                        fontweight="bold", color=size_colour(r))
                ax.text(x0 + w / 2, y - h - 0.15, f"{what}\n[{r}, {c}]", ha="center", va="top", fontsize=10,
                        family="monospace", linespacing=1.3)
            x += slot
        y -= row_height
    plt.show()


# --- rows that go back where they came from ----------------------------------

def draw_routes(ax, routes, x_from, x_to, row_labels_from=None, row_labels_to=None, colour="0.35"):
    """Arrows from rows of one matrix to rows of another, e.g. the picks of an indexing going back home.

    `routes` is [(row_from, row_to)]; the matrices are those `draw_matrix` drew on `ax`,
    the first one ending at x = `x_from` (its x0 plus its width) and the second one starting
    at x = `x_to`. Optional labels (the caller's text, e.g. from tr()) go left of the first
    matrix's rows (`row_labels_from`, pass its x0 as well: (x0, labels)) and right of the
    second's (`row_labels_to`, (x_end, labels)).
    """
    for i, r in routes:
        ax.annotate("", xy=(x_to - 0.08, -r - 0.5), xytext=(x_from + 0.08, -i - 0.5),
                    arrowprops=dict(arrowstyle="-|>", color=colour, lw=1.5, mutation_scale=12,
                                    shrinkA=0, shrinkB=0))
    for where, ha, dx in ((row_labels_from, "right", -0.15), (row_labels_to, "left", 0.15)):
        if where:
            x, labels = where
            for i, label in enumerate(labels):
                ax.text(x + dx, -i - 0.5, label, ha=ha, va="center", fontsize=10, family="monospace")


# --- each row's max ----------------------------------------------------------

def outline_cells(ax, x0, cells, colour="black", lw=3):
    """Outline cells of a matrix that `draw_matrix` drew at x = `x0`; `cells` is [(row, col)], e.g. each row's max."""
    for i, j in cells:
        ax.add_patch(plt.Rectangle((x0 + j, -i - 1), 1, 1, fill=False, edgecolor=colour, lw=lw, zorder=3))


def draw_row_max(M, title, xlabel, ylabel, label="max", figsize=(6.5, 6)):
    """Show the 2-D tensor `M` as an image with a colour bar and a red dot on the max of each row.

    The dot sits where `M.max(1)` points (on a tie, the index it returns).
    Texts are the caller's (e.g. from tr()); `label` names the dots in the legend.
    """
    M = M.detach().float()
    cols = M.max(1).indices
    with plt.rc_context({"font.size": 11}):
        fig, ax = plt.subplots(figsize=figsize)
        image = ax.imshow(M, cmap="gray")
        fig.colorbar(image, ax=ax, shrink=0.8)
        ax.scatter(cols, range(M.shape[0]), s=30, c="tab:red", label=label)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False)
        plt.tight_layout()
        plt.show()
