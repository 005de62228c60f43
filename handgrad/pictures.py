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
    Negative values get a typographic minus (−1), as in `draw_matrix_wide`.
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
            ax.text(x0 + j + 0.5, -i - 0.5, f"{value:g}".replace("-", "−"), ha="center", va="center", fontsize=11,
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
MIN_SIDE = 0.5  # the drawn thickness of a side of size 1 (or any side thinner than this), in units
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
            widths.append(max(size[1] * scale, MIN_SIDE, _text_width(label, 10)) + 1.9)
        else:
            widths.append(_text_width(what, size) + 0.8)
    height = max(max(size[0] * scale, MIN_SIDE) for kind, _, size in pieces if kind == "shape") + 3.6
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
    height = sum(row_height for _, _, row_height in laid) - 0.4  # no gap needed under the last row
    fig, ax = plt.subplots(figsize=(width * UNIT_INCHES, height * UNIT_INCHES))
    ax.set_xlim(0, width)
    ax.set_ylim(-height, 0)
    ax.set_aspect("equal")
    ax.axis("off")
    y = -0.8
    for row, (pieces, widths, row_height) in zip(rows, laid):
        note_colour = row[4] if len(row) > 4 else "black"
        middle = y - max(row[0][1][0] * scale, MIN_SIDE) / 2  # '@', '=' and the note: level with the left factor
        x = 0.2
        for (kind, what, size), slot in zip(pieces, widths):
            if kind != "shape":
                shown = NOT_OK if what.startswith("✗") else note_colour if kind == "note" else "black"
                ax.text(x + 0.4, middle, what, ha="left", va="center", fontsize=size, color=shown)
            else:
                r, c = size
                w, h = max(c * scale, MIN_SIDE), max(r * scale, MIN_SIDE)
                x0 = x + 1.5 + (slot - 1.9 - w) / 2
                ax.add_patch(plt.Rectangle((x0, y - h), w, h, facecolor="0.93", edgecolor="0.75", lw=1))
                ax.plot([x0, x0 + w], [y, y], color=size_colour(c), lw=4, solid_capstyle="butt")
                ax.plot([x0, x0], [y, y - h], color=size_colour(r), lw=4, solid_capstyle="butt")
                ax.text(x0 + w / 2, y + 0.12, str(c), ha="center", va="bottom", fontsize=11,
                        fontweight="bold", color=size_colour(c))
                ax.text(x0 - 0.22, y - h / 2, str(r), ha="right", va="center", fontsize=11,
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


def draw_row_max(M, title, xlabel, ylabel, label="max", decimal=".", figsize=(6.5, 6)):
    """Show the 2-D tensor `M` as an image with a colour bar and a red dot on the max of each row.

    The dot sits where `M.max(1)` points (on a tie, the index it returns).
    Texts are the caller's (e.g. from tr()); `label` names the dots in the legend;
    `decimal` is the colour bar's decimal mark (tr(",", ".") for Italian).
    """
    M = M.detach().float()
    cols = M.max(1).indices
    with plt.rc_context({"font.size": 11}):
        fig, ax = plt.subplots(figsize=figsize)
        image = ax.imshow(M, cmap="gray")
        bar = fig.colorbar(image, ax=ax, shrink=0.8)
        bar.ax.yaxis.set_major_formatter(lambda v, _: f"{v:g}".replace(".", decimal))
        ax.scatter(cols, range(M.shape[0]), s=30, c="tab:red", label=label)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False)
        plt.tight_layout()
        plt.show()


# --- the lecture's forward pass as one computational graph ---------------------
#
#     draw_forward_graph(tr("parametro", "parameter"), tr("dati del batch", "batch data"),
#                        tr("tensore calcolato", "computed tensor"), tr("ripreso dalla riga sopra", "..."))
#
# Three rows, read left to right like lines of text: embedding and first linear
# layer; batchnorm (its seven atomic steps) and tanh; second linear layer and the
# cross-entropy (softmax step by step). A row starts with a dashed copy of the
# tensor the row above ended with. Parameters sit above the tensor they feed,
# side branches (means, sums, maxima) below the main line. Sizes in inches.

FORWARD_ROWS = (
    # name: (x, lane), lane +1 = above the main line (parameters, data), 0 = main line, -1 = side branch below
    # (spaced so that every arrow of the main line has room for its operation, FORWARD_OPS)
    {"Xb": (0.45, 0), "C": (1.75, 1), "emb": (1.75, 0), "embcat": (3.1, 0),
     "W1": (3.85, 1), "b1": (4.7, 1), "hprebn": (4.3, 0)},
    {"hprebn": (0.45, 0), "bnmeani": (1.3, -1), "bndiff": (2.05, 0), "bndiff2": (2.75, -1), "bnvar": (4.45, -1),
     "bnvar_inv": (5.9, -1), "bnraw": (6.5, 0), "bngain": (7.25, 1), "bnbias": (8.0, 1), "hpreact": (7.66, 0),
     "h": (9.15, 0)},
    {"h": (0.45, 0), "W2": (0.7, 1), "b2": (1.45, 1), "logits": (1.65, 0), "logit_maxes": (2.85, -1),
     "norm_logits": (3.2, 0), "counts": (4.5, 0), "counts_sum": (4.85, -1), "counts_sum_inv": (6.43, -1),
     "probs": (7.2, 0), "logprobs": (8.43, 0), "Yb": (9.55, 1), "loss": (9.55, 0)},
)
FORWARD_EDGES = (
    ("Xb", "emb"), ("C", "emb"), ("emb", "embcat"), ("embcat", "hprebn"), ("W1", "hprebn"), ("b1", "hprebn"),
    ("hprebn", "bnmeani"), ("hprebn", "bndiff"), ("bnmeani", "bndiff"), ("bndiff", "bndiff2"),
    ("bndiff2", "bnvar"), ("bnvar", "bnvar_inv"), ("bndiff", "bnraw"), ("bnvar_inv", "bnraw"),
    ("bnraw", "hpreact"), ("bngain", "hpreact"), ("bnbias", "hpreact"), ("hpreact", "h"),
    ("h", "logits"), ("W2", "logits"), ("b2", "logits"), ("logits", "logit_maxes"), ("logits", "norm_logits"),
    ("logit_maxes", "norm_logits"), ("norm_logits", "counts"), ("counts", "counts_sum"),
    ("counts_sum", "counts_sum_inv"), ("counts", "probs"), ("counts_sum_inv", "probs"), ("probs", "logprobs"),
    ("logprobs", "loss"), ("Yb", "loss"),
)
FORWARD_OPS = {  # the operation written on an arrow: one per line of the forward pass, on its main input
    ("Xb", "emb"): "C[·]", ("emb", "embcat"): "view", ("embcat", "hprebn"): "@ +",
    ("hprebn", "bnmeani"): "mean", ("hprebn", "bndiff"): "−", ("bndiff", "bndiff2"): "**2",
    ("bndiff2", "bnvar"): "sum/(n-1)", ("bnvar", "bnvar_inv"): "**-0.5", ("bndiff", "bnraw"): "*",
    ("bnraw", "hpreact"): "* +", ("hpreact", "h"): "tanh", ("h", "logits"): "@ +", ("logits", "logit_maxes"): "max",
    ("logits", "norm_logits"): "−", ("norm_logits", "counts"): "exp", ("counts", "counts_sum"): "sum",
    ("counts_sum", "counts_sum_inv"): "**-1", ("counts", "probs"): "*", ("probs", "logprobs"): "log",
    ("logprobs", "loss"): "−mean", ("Yb", "loss"): "[range(n), Yb]",
}
OP_COLOUR = "#1f4e8c"
FORWARD_GROUPS = (  # the layers of several atomic steps, shaded, with the tensors (and parameters) they hold
    ("batchnorm", ("bnmeani", "bndiff", "bndiff2", "bnvar", "bnvar_inv", "bnraw", "bngain", "bnbias", "hpreact")),
    ("softmax", ("logit_maxes", "norm_logits", "counts", "counts_sum", "counts_sum_inv", "probs")),
)
FORWARD_SHAPES = {
    "Xb": [32, 3], "Yb": [32], "C": [27, 10], "W1": [30, 64], "b1": [64], "W2": [64, 27], "b2": [27],
    "bngain": [1, 64], "bnbias": [1, 64], "emb": [32, 3, 10], "embcat": [32, 30], "hprebn": [32, 64],
    "bnmeani": [1, 64], "bndiff": [32, 64], "bndiff2": [32, 64], "bnvar": [1, 64], "bnvar_inv": [1, 64],
    "bnraw": [32, 64], "hpreact": [32, 64], "h": [32, 64], "logits": [32, 27], "logit_maxes": [32, 1],
    "norm_logits": [32, 27], "counts": [32, 27], "counts_sum": [32, 1], "counts_sum_inv": [32, 1],
    "probs": [32, 27], "logprobs": [32, 27], "loss": [],
}
FORWARD_CARRIED = {1: "hprebn", 2: "h"}  # row -> the tensor it starts with, carried over from the row above
FORWARD_PARAMETERS = ("C", "W1", "b1", "bngain", "bnbias", "W2", "b2")
FORWARD_DATA = ("Xb", "Yb")
FORWARD_FILL = {"parameter": "#d4edda", "data": "0.88", "tensor": "#fff8d6", "carried": "white"}
LANE = 0.7  # inches from a row's main line to the lane above or below it


def draw_forward_graph(parameter, data, tensor, carried, highlight=(), highlighted="", rows=(0, 1, 2),
                       tensors=None, ops=True):
    """Draw the lecture's forward pass, every atomic tensor with its shape and every parameter, and show it.

    `parameter`, `data`, `tensor`, `carried` are the legend's words (the caller's, from tr()):
    a parameter, a batch input (Xb, Yb), a tensor the forward pass computes, and the dashed
    copy that starts a row with the tensor the row above ended with. `highlight` names tensors
    to outline in orange, described in the legend by `highlighted` (e.g. "this lesson's
    gradients"); `rows` picks some of the three rows (0: embedding and first linear layer,
    1: batchnorm and tanh, 2: second linear layer and cross-entropy). Shapes are the lecture's,
    or read from `tensors` (e.g. `step.tensors`) when given. Each line of the forward pass has
    its operation written on the arrow of its main input (FORWARD_OPS: `C[·]`, `view`, `@ +`,
    `mean`, …, `log`, `−mean`); `ops=False` leaves them out.
    """
    from matplotlib.patches import FancyBboxPatch
    shapes = dict(FORWARD_SHAPES)
    if tensors is not None:
        shapes.update({k: list(t.shape) for k, t in tensors.items() if k in shapes and hasattr(t, "shape")})
    rows = sorted(rows)
    half, margin, gap = 0.22, 0.13, 0.3  # a box's half height; a group's margin around its boxes; between rows
    grouped = {1, 2}  # the rows with a shaded group, which reaches below the side lane
    ys, y = [], 0.0
    for k, r in enumerate(rows):
        if k:
            above = LANE + half + (margin if r in grouped else 0)
            below = LANE + half + (margin if rows[k - 1] in grouped else 0) if rows[k - 1] else half
            y -= below + gap + above
        ys.append(y)
    top = LANE + half + margin + 0.05
    bottom = ys[-1] - LANE - half - margin - 0.05
    legend_right = rows[0] == 0  # the first row ends early: its right half holds the legend
    width = 9.8
    entries = [(parameter, "parameter", False), (data, "data", False), (tensor, "tensor", False),
               (carried, "carried", False)]
    if highlight and highlighted:
        entries.append((highlighted, "tensor", True))
    spots = []
    if legend_right:  # from the top of the figure down, all of it above the next row's shaded group
        first, last = top - 0.15, 0.3 - half - gap  # the next row's group begins at -(half + gap)
        step = min(0.36, (first - last) / max(len(entries) - 1, 1))
        spots = [(5.2, first - i * step) for i in range(len(entries))]
    else:  # below the graph, on as many lines as it takes
        x, line = 0.3, 0
        for text, _, _ in entries:
            size = 0.55 + 0.085 * len(text) + 0.35  # sample, its text at 11 pt (about 0.085 in a character), a space
            if x + size > width and x > 0.3:
                x, line = 0.3, line + 1
            spots.append((x, line))
            x += size
        lines = spots[-1][1] + 1
        bottom -= 0.15 + 0.36 * lines
        spots = [(x, bottom + 0.2 + 0.36 * (lines - 1 - line)) for x, line in spots]
    fig = plt.figure(figsize=(width, top - bottom))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, width)
    ax.set_ylim(bottom, top)
    ax.axis("off")
    boxes = {}
    for r, y0 in zip(rows, ys):
        for name, (x, lane) in FORWARD_ROWS[r].items():
            ghost = FORWARD_CARRIED.get(r) == name  # the dashed copy that starts a row
            kind = ("carried" if ghost else "parameter" if name in FORWARD_PARAMETERS
                    else "data" if name in FORWARD_DATA else "tensor")
            lit = name in highlight and not ghost
            boxes[(r, name)] = ax.text(
                x, y0 + lane * LANE, f"{name}\n{shapes[name]}", ha="center", va="center", family="monospace",
                fontsize=10, linespacing=1.25, color="0.4" if ghost else "black", zorder=3,
                bbox=dict(boxstyle="round,pad=0.3", fc=FORWARD_FILL[kind], lw=2.5 if lit else 1,
                          ec=PATH1 if lit else "0.35", ls="--" if ghost else "-"))
    fig.canvas.draw()  # the boxes know their size: arrows stop at their edges, groups wrap them
    to_data = ax.transData.inverted()
    for r, y0 in zip(rows, ys):
        for label, members in FORWARD_GROUPS:
            extents = [to_data.transform(boxes[(r, m)].get_bbox_patch().get_window_extent())
                       for m in members if (r, m) in boxes]
            if not extents:
                continue
            x_left = min(e[0][0] for e in extents) - margin
            x_right = max(e[1][0] for e in extents) + margin
            y_low, y_high = y0 - LANE - half - margin, y0 + LANE + half + margin
            ax.add_patch(FancyBboxPatch((x_left, y_low), x_right - x_left, y_high - y_low,
                                        boxstyle="round,pad=0,rounding_size=0.12", fc="#e8f0fb", ec="#9db8de",
                                        lw=1, zorder=0))
            ax.text(x_left + 0.12, y0 + LANE, label, ha="left", va="center", fontsize=11, style="italic",
                    color="#3d5f8f", zorder=1)
        for src, dst in FORWARD_EDGES:
            if (r, src) in boxes and (r, dst) in boxes:
                # from edge to edge, in data coordinates (inches): they stay put when Jupyter crops the figure
                a, b = (to_data.transform(boxes[(r, m)].get_bbox_patch().get_window_extent()) for m in (src, dst))
                ax.annotate("", xy=_box_edge(b, a), xytext=_box_edge(a, b), zorder=2,
                            arrowprops=dict(arrowstyle="-|>", color="0.3", lw=1.3, mutation_scale=12,
                                            shrinkA=0, shrinkB=0))
                if ops and (src, dst) in FORWARD_OPS:
                    _op_label(ax, _box_edge(a, b), _box_edge(b, a), FORWARD_OPS[(src, dst)])
    for (text, kind, lit), (x, y) in zip(entries, spots):
        ax.add_patch(FancyBboxPatch((x, y - 0.1), 0.4, 0.2, boxstyle="round,pad=0.02", fc=FORWARD_FILL[kind],
                                    ec=PATH1 if lit else "0.35", lw=2.5 if lit else 1,
                                    ls="--" if kind == "carried" else "-"))
        ax.text(x + 0.55, y, text, ha="left", va="center", fontsize=11)
    plt.show()


def _op_label(ax, start, end, text):
    """Write an operation beside the arrow from `start` to `end`: above a level one, left of an upright one,
    above and to the right of one going down to a side branch."""
    (x0, y0), (x1, y1) = start, end
    if abs(y1 - y0) < 1e-6:
        offset, ha, va = (0, 2), "center", "bottom"
    elif abs(x1 - x0) < 0.05:
        offset, ha, va = (-5, 0), "right", "center"
    elif (y1 - y0) * (x1 - x0) < 0:
        offset, ha, va = (5, 3), "left", "center"
    else:
        offset, ha, va = (-4, 2), "right", "bottom"
    ax.annotate(text, ((x0 + x1) / 2, (y0 + y1) / 2), xytext=offset, textcoords="offset points", ha=ha, va=va,
                fontsize=10, family="monospace", color=OP_COLOUR, zorder=4)


def _box_edge(box, other, gap=0.03):
    """Where the line from the centre of `box` to the centre of `other` leaves `box` (plus `gap`).

    Both are [[x0, y0], [x1, y1]] extents in data coordinates.
    """
    (x0, y0), (x1, y1) = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    dx, dy = (other[0][0] + other[1][0]) / 2 - cx, (other[0][1] + other[1][1]) / 2 - cy
    t = min((x1 - x0) / 2 / abs(dx) if dx else float("inf"), (y1 - y0) / 2 / abs(dy) if dy else float("inf"))
    length = (dx * dx + dy * dy) ** 0.5
    t += gap / length
    return cx + t * dx, cy + t * dy


# --- where one element of a matrix product is used ---------------------------
#
#     draw_element_uses(A, B, "A", (0, 0), ("A", "B", "P = A @ B", "dP"), legend, dP,
#                       (tr("riga 1 di dP", "row 1 of dP"), tr("riga 1 di B", "row 1 of B")), result)
#
# A @ B = P, and the upstream gradient dP, as small matrices of plain white cells
# with their values. One element of a factor is framed (black), with the row (for
# A) or column (for B) of P it is used in and the same row or column of dP
# (orange), and, dashed, the elements of the other factor it gets multiplied by
# there (green). Below, the two lines that its gradient pairs, copied out in the
# way they lie in their matrices: two rows for a_ik (row i of dP, row k of B), two
# columns for b_kj (column k of A, column j of dP).

def outline_block(ax, x0, rows, cols, colour="black", lw=3, linestyle="-"):
    """One rectangle around rows × cols (two ranges of indices) of a matrix that `draw_matrix` drew at x = `x0`."""
    r0, r1, c0, c1 = min(rows), max(rows) + 1, min(cols), max(cols) + 1
    ax.add_patch(plt.Rectangle((x0 + c0 + 0.04, -r1 + 0.04), c1 - c0 - 0.08, r1 - r0 - 0.08, fill=False,
                               edgecolor=colour, lw=lw, linestyle=linestyle, zorder=4))


ELEMENT_STYLE = ("black", 3, "-")
USES_STYLE = (PATH1, 3, "-")
PARTNER_STYLE = ("tab:green", 3, "--")


def _number(value):
    return f"{value:g}".replace("-", "−")


def _plain_matrix(ax, M, x0, y0=0.0, title=None):
    """The 2-D tensor `M` as white cells with their values, top-left corner at (x0, y0), `title` above."""
    for i in range(M.shape[0]):
        for j in range(M.shape[1]):
            ax.add_patch(plt.Rectangle((x0 + j, y0 - i - 1), 1, 1, facecolor="white", edgecolor="0.6", lw=1))
            ax.text(x0 + j + 0.5, y0 - i - 0.5, _number(M[i, j].item()), ha="center", va="center", fontsize=12)
    if title:
        ax.text(x0 + M.shape[1] / 2, y0 + 0.2, title, ha="center", va="bottom", fontsize=11)


def _frame(ax, x0, y0, rows, cols, style):
    """A frame around rows × cols (ranges of indices) of a matrix drawn at (x0, y0), in `style` (colour, width, line)."""
    colour, lw, linestyle = style
    r0, r1, c0, c1 = min(rows), max(rows) + 1, min(cols), max(cols) + 1
    ax.add_patch(plt.Rectangle((x0 + c0 + 0.06, y0 - r1 + 0.06), c1 - c0 - 0.12, r1 - r0 - 0.12, fill=False,
                               edgecolor=colour, lw=lw, linestyle=linestyle, zorder=4))


def draw_element_uses(A, B, factor, index, titles, legend, dP=None, pair_labels=("", ""), result=""):
    """Draw `A @ B = P` (and `dP`), frame where one element of a factor is used, and show the figure.

    factor "A", index (i, k): a_ik is used in the whole row i of P, times the elements of row k of B;
    its gradient pairs row i of dP with row k of B.
    factor "B", index (k, j): b_kj is used in the whole column j of P, times the elements of column k
    of A; its gradient pairs column k of A with column j of dP.
    Frames: the element in black; the row or column of P (and of dP) in orange; the other factor's
    elements it is multiplied by, dashed, in green. With `dP`, the two paired lines are copied below,
    as rows or as columns, labelled `pair_labels`, and `result` is written under them. `titles` are
    the matrices' titles (A, B, P, and dP if given), `legend` the three frames' meanings in that order
    (the caller's text, from tr(); mathtext allowed).
    """
    A, B = A.detach().float(), B.detach().float()
    P = A @ B
    (m, k), n = A.shape, B.shape[1]
    xb = k + 1.4
    xp = xb + n + 1.4
    xd = xp + n + 1.6
    width = xd + n if dP is not None else xp + n
    top_rows = max(m, k)
    y = -top_rows - 1.2  # the top of the pairing, then of the result line, then of the legend
    pair_rows = (2 * 1 + 0.8) if factor == "A" else m
    line_counts = [text.count("\n") + 1 for text in legend]
    legend_depth = sum(0.3 + 0.45 * lines for lines in line_counts)
    depth = -y + (pair_rows + 0.65 + 0.75 if dP is not None else -0.6) + legend_depth
    fig, ax = canvas(width, rows=depth - 0.9)
    matrices = [(0, A, titles[0]), (xb, B, titles[1]), (xp, P, titles[2])]
    if dP is not None:
        dP = dP.detach().float()
        matrices.append((xd, dP, titles[3]))
        ax.plot([xd - 0.8, xd - 0.8], [0.8, -top_rows - 0.2], color="0.8", lw=1)
    for x, M, title in matrices:
        _plain_matrix(ax, M, x, 0.0, title)
    ax.text(xb - 0.7, -top_rows / 2, "@", ha="center", va="center", fontsize=16)
    ax.text(xp - 0.7, -top_rows / 2, "=", ha="center", va="center", fontsize=16)
    if factor == "A":
        i, kk = index
        _frame(ax, 0, 0, [i], [kk], ELEMENT_STYLE)
        for x in (xp, xd) if dP is not None else (xp,):
            _frame(ax, x, 0, [i], range(n), USES_STYLE)
        _frame(ax, xb, 0, [kk], range(n), PARTNER_STYLE)
        if dP is not None:  # row i of dP above row k of B, each pair one above the other
            x0 = (width - n) / 2
            for r, (row, style, label) in enumerate(((dP[i], USES_STYLE, pair_labels[0]),
                                                     (B[kk], PARTNER_STYLE, pair_labels[1]))):
                y0 = y - r * 1.8
                _plain_matrix(ax, row.unsqueeze(0), x0, y0)
                _frame(ax, x0, y0, [0], range(n), style)
                ax.text(x0 - 0.25, y0 - 0.5, label, ha="right", va="center", fontsize=11)
            for j in range(n):
                ax.text(x0 + j + 0.5, y - 1.4, "×", ha="center", va="center", fontsize=13)
    else:
        kk, j = index
        _frame(ax, xb, 0, [kk], [j], ELEMENT_STYLE)
        for x in (xp, xd) if dP is not None else (xp,):
            _frame(ax, x, 0, range(m), [j], USES_STYLE)
        _frame(ax, 0, 0, range(m), [kk], PARTNER_STYLE)
        if dP is not None:  # column k of A beside column j of dP, each pair side by side
            x0 = width / 2 - 1.4
            for c, (col, style, label) in enumerate(((A[:, kk], PARTNER_STYLE, pair_labels[0]),
                                                     (dP[:, j], USES_STYLE, pair_labels[1]))):
                xc = x0 + c * 1.8
                _plain_matrix(ax, col.unsqueeze(1), xc, y)
                _frame(ax, xc, y, range(m), [0], style)
                ax.text(xc - 0.25 if c == 0 else xc + 1.25, y - m / 2, label, ha="right" if c == 0 else "left",
                        va="center", fontsize=11)
            for i in range(m):
                ax.text(x0 + 1.4, y - i - 0.5, "×", ha="center", va="center", fontsize=13)
    if dP is not None:
        y -= pair_rows + 0.65
        ax.text(width / 2, y, result, ha="center", va="center", fontsize=12)
        y -= 0.75
    _style_legend(ax, legend, line_counts, y)
    plt.show()


def _style_legend(ax, legend, line_counts, y):
    """The legend of a matrix-element figure, from height `y` down: a framed swatch per style, then its text."""
    for text, lines, style in zip(legend, line_counts, (ELEMENT_STYLE, USES_STYLE, PARTNER_STYLE)):
        colour, lw, linestyle = style
        middle = y - (0.3 + 0.45 * lines) / 2
        ax.add_patch(plt.Rectangle((0.1, middle - 0.22), 0.8, 0.44, fill=False, edgecolor=colour, lw=lw,
                                   linestyle=linestyle))
        ax.text(1.2, middle, text, ha="left", va="center", fontsize=11, linespacing=1.35)
        y -= 0.3 + 0.45 * lines


# --- a gradient with a sign: one colour scale centred at 0 --------------------
#
#     vmax = draw_signed_heatmap(dlogits * n, tr("…", "…"), xlabel, ylabel, col_labels=chars, outline_row=7)
#     draw_row_bars(dlogits[7] * n, Yb[7], chars, tr("…", "…"), ylabel, notes={5: "+p = {v}"}, vmax=vmax)
#
# Negative values blue, positive red, 0 the neutral middle of CMAP; the same
# vmax in both figures, so a colour means the same number in the map and in the bars.

def _signed_colours(values, vmax):
    cmap = plt.get_cmap(CMAP)
    return [cmap(0.5 + 0.5 * max(-1.0, min(1.0, v / vmax))) for v in values]


def draw_signed_heatmap(M, title, xlabel, ylabel, col_labels=None, outline_row=None, decimal=".", vmax=None,
                        figsize=(7.5, 6.4)):
    """Show the 2-D tensor `M` as an image on one colour scale centred at 0, with a colour bar; returns vmax.

    The scale runs from -vmax to +vmax (by default the largest |value| of `M`), so 0 is
    always the middle colour. `col_labels` name the columns (e.g. the characters);
    `outline_row` frames one row (the one a bar chart shows). Texts are the caller's
    (from tr()); `decimal` is the colour bar's decimal mark (tr(",", ".") for Italian).
    """
    M = M.detach().float()
    vmax = float(vmax if vmax is not None else M.abs().max().item() or 1.0)
    with plt.rc_context({"font.size": 11}):
        fig, ax = plt.subplots(figsize=figsize)
        image = ax.imshow(M, cmap=CMAP, vmin=-vmax, vmax=vmax)
        bar = fig.colorbar(image, ax=ax, shrink=0.8)
        bar.ax.yaxis.set_major_formatter(lambda v, _: f"{v:g}".replace(".", decimal).replace("-", "−"))
        if col_labels is not None:
            ax.set_xticks(range(len(col_labels)), col_labels, fontsize=10, family="monospace")
        if outline_row is not None:
            ax.add_patch(plt.Rectangle((-0.5, outline_row - 0.5), M.shape[1], 1, fill=False, edgecolor="black",
                                       lw=2))
        _finish(ax, title, xlabel, ylabel)
    return vmax


def draw_row_bars(values, marked, col_labels, title, ylabel, notes=None, decimal=".", vmax=None, figsize=(10, 3.6)):
    """One row as a bar chart, each bar coloured like `draw_signed_heatmap` colours its value; shows the figure.

    `marked` is a column whose tick label is drawn in bold (e.g. the correct class);
    `notes` maps columns to a text written next to their bar (the caller's, from tr()), where
    `{v}` stands for the bar's value, written with two decimals and the decimal mark `decimal`.
    `vmax` is the colour scale (pass the heatmap's, so both figures agree).
    """
    values = [float(v) for v in values]
    vmax = float(vmax if vmax is not None else max(abs(v) for v in values) or 1.0)
    with plt.rc_context({"font.size": 11}):
        fig, ax = plt.subplots(figsize=figsize)
        ax.bar(range(len(values)), values, color=_signed_colours(values, vmax), edgecolor="0.3", lw=0.6)
        ax.axhline(0, color="0.3", lw=0.8)
        ax.set_xticks(range(len(values)), col_labels, fontsize=10, family="monospace")
        ax.get_xticklabels()[int(marked)].set_fontweight("bold")
        ax.get_xticklabels()[int(marked)].set_fontsize(13)
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:g}".replace(".", decimal).replace("-", "−"))
        ax.set_xlim(-0.7, len(values) - 0.3)
        low, high = min(values + [0.0]), max(values + [0.0])
        ax.set_ylim(low - 0.08 * (high - low), high + 0.13 * (high - low))
        for j, text in (notes or {}).items():  # above a bar that goes up, beside the end of one that goes down
            v = values[int(j)]
            shown = f"{v:.2f}".replace(".", decimal).replace("-", "−")
            anchor = (int(j), v) if v >= 0 else (int(j) + 0.4, v)  # a bar going down: its bottom right corner
            ax.annotate(text.format(v=shown), anchor, xytext=(0, 6) if v >= 0 else (5, 0), textcoords="offset points",
                        ha="center" if v >= 0 else "left", va="bottom" if v >= 0 else "center", fontsize=11)
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        plt.tight_layout()
        plt.show()


# --- a broadcast bias in miniature: copies forward, a sum backward -------------
#
#     draw_replication(b2_small, 4, tr("…", "…"), ("b2  [3]", tr("copie  [4, 3]", "copies  [4, 3]")))
#     draw_copies_sum(dlogits_small, tr("…", "…"), ("dlogits  [4, 3]", "db2  [3]"), tr("Σ …", "Σ …"),
#                     tr("copia", "copy"))
#
# The two halves of `logits = h @ W2 + b2` for the bias, drawn with draw_matrix
# (values on its colour scale): forward, a row vector and its n copies, the
# copies as ghost rows; backward, the upstream gradient, one row per copy, and
# its column-by-column sum.

def draw_replication(b, copies, heading, titles, vmax=None):
    """Forward half: the 1-D tensor `b`, an arrow, and `copies` rows of it (ghost cells), under `heading`; shows it.

    `vmax` fixes the colour scale (pass the same one to draw_copies_sum to compare the two halves).
    """
    c = b.shape[0]
    width = 2 * c + 1.2
    fig, ax = canvas(width, rows=copies, top=2.2, vmax=vmax)
    ax.text(width / 2, 1.1, heading, ha="center", va="bottom", fontsize=11)
    draw_matrix(ax, b, 0, titles[0])
    ax.annotate("", xy=(c + 1.1, -0.5), xytext=(c + 0.2, -0.5), arrowprops=dict(arrowstyle="->", color="grey"))
    draw_matrix(ax, b.expand(copies, c), c + 1.2, titles[1], ghost_rows=range(1, copies))
    plt.show()


def draw_copies_sum(d, heading, titles, note, row_label="", vmax=None):
    """Backward half: `d` [copies, c], row i labelled `row_label` i+1, an arrow with `note`, and d.sum(0); shows it.

    Texts are the caller's (from tr()): `heading` above, `titles` of the two matrices. `vmax` fixes the colour scale.
    """
    d = d.detach().float()
    copies, c = d.shape
    x0 = 2.0 if row_label else 0.0
    xs = x0 + c + 3.2
    width = xs + c
    fig, ax = canvas(width, rows=copies, top=2.2, vmax=vmax)
    ax.text(width / 2, 1.1, heading, ha="center", va="bottom", fontsize=11)
    if row_label:
        for i in range(copies):
            ax.text(x0 - 0.2, -i - 0.5, f"{row_label} {i + 1}", ha="right", va="center", fontsize=10)
    draw_matrix(ax, d, x0, titles[0])
    ax.annotate("", xy=(xs - 0.1, -0.5), xytext=(x0 + c + 0.2, -copies / 2 - 0.5),
                arrowprops=dict(arrowstyle="->", color="grey"))
    ax.text(x0 + c + 1.0, -copies / 2 - 0.8, note, ha="left", va="top", fontsize=11)
    draw_matrix(ax, d.sum(0), xs, titles[1])
    plt.show()


# --- tick labels with a decimal comma -------------------------------------------
#
#     decimal_comma(ax, tr(",", "."))          # both axes of a plot
#     decimal_comma(bar.ax, tr(",", "."), "y")  # a colour bar

def decimal_comma(ax, mark=None, which="xy"):
    """Write the tick labels of `ax` (axes `which`, "x", "y" or "xy") with `mark` as the decimal mark.

    By default (`mark=None`) the mark follows the current language, read when the call is made: Italian
    figures read 0,5 and English ones 0.5, so a lesson just writes `decimal_comma(ax)` (passing
    tr(",", ".") still works). Minus signs are typographic (−).
    """
    if mark is None:
        from handgrad.i18n import get_language
        mark = "," if get_language() == "it" else "."

    def label(value, _):
        return f"{value:g}".replace(".", mark).replace("-", "−")
    for axis in which:
        getattr(ax, f"{axis}axis").set_major_formatter(label)


# --- lesson 05: the batchnorm graph, tanh saturation, a sum and its copies -------
#
#     draw_batchnorm_graph((tr("…", "bndiff, used twice"), tr("…", "hprebn, used twice …"), tr("…", "[1, 64] row …")))
#     draw_saturation(hpreact, h, tr("…", "…"), ...)
#     draw_sum_then_copies(x, 1 / (3 - 1), d, (tr("avanti: …", "forward: …"), tr("indietro: …", "backward: …")),
#                          ("bndiff2  [3, 2]", "bnvar  [1, 2]", "dbnvar  [1, 2]", tr("…", "copies of dbnvar  [3, 2]")),
#                          (tr("Σ per colonna\n÷ (n−1)", "Σ per column\n÷ (n−1)"), tr("…", "one copy\nper row")))

BN_NODES = {  # name: (x, y, shape); [1, 64] rows are shaded
    "hprebn": (0, 0, "[32, 64]"), "bnmeani": (2.6, 1.6, "[1, 64]"), "bndiff": (5.2, 0, "[32, 64]"),
    "bndiff2": (6.8, -1.7, "[32, 64]"), "bnvar": (10.7, -1.7, "[1, 64]"), "bnvar_inv": (14.6, -1.7, "[1, 64]"),
    "bnraw": (14.6, 0, "[32, 64]"), "bngain": (15.6, 1.6, "[1, 64]"), "bnbias": (18.8, 1.6, "[1, 64]"),
    "hpreact": (17.6, 0, "[32, 64]"), "h": (20.2, 0, "[32, 64]"),
}
BN_ROW_FILL = "#fff2cc"
BN_EDGES = (  # (from, to, operation, colour): bndiff's two uses in PATH1, hprebn's in PATH2
    ("hprebn", "bnmeani", ".sum(0)/n", PATH2), ("hprebn", "bndiff", "+", PATH2), ("bnmeani", "bndiff", "−", "0.55"),
    ("bndiff", "bndiff2", "**2", PATH1), ("bndiff", "bnraw", "*", PATH1),
    ("bndiff2", "bnvar", ".sum(0)/(n−1)", "0.55"), ("bnvar", "bnvar_inv", "(+ε)**−0.5", "0.55"),
    ("bnvar_inv", "bnraw", "*", "0.55"), ("bnraw", "hpreact", "*", "0.55"), ("bngain", "hpreact", "*", "0.55"),
    ("bnbias", "hpreact", "+", "0.55"), ("hpreact", "h", "tanh", "0.55"),
)


def draw_batchnorm_graph(legend, relabel=None):
    """The seven atomic steps of batchnorm and the tanh, each tensor with its shape; shows the figure.

    `legend` is the caller's three texts (from tr()): bndiff's two uses (orange), hprebn's two uses
    (blue), the shaded [1, 64] rows that broadcasting replicates. `relabel` maps an operation label of
    BN_EDGES (e.g. "(+ε)**−0.5") to the text to show instead (mathtext allowed).
    """
    from matplotlib.patches import Patch
    fig, ax = plt.subplots(figsize=(15, 4.6))
    ax.set_xlim(-0.9, 21.1)
    ax.set_ylim(-2.5, 2.3)
    ax.axis("off")
    boxes = {name: ax.text(x, y, f"{name}\n{shape}", ha="center", va="center", family="monospace", fontsize=11,
                           bbox=dict(boxstyle="round,pad=0.35", ec="0.3",
                                     fc=BN_ROW_FILL if shape == "[1, 64]" else "white"))
             for name, (x, y, shape) in BN_NODES.items()}
    fig.canvas.draw()  # so that the boxes already know their size, for the arrows to stop at their edge
    for src, dst, label, colour in BN_EDGES:
        label = (relabel or {}).get(label, label)
        (x0, y0, _), (x1, y1, _) = BN_NODES[src], BN_NODES[dst]
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops=dict(arrowstyle="-|>", color=colour, lw=2.2, mutation_scale=15,
                                    patchA=boxes[src].get_bbox_patch(), patchB=boxes[dst].get_bbox_patch()))
        slope = (y1 - y0) * (x1 - x0)  # label above a horizontal arrow, beside the others
        offset, ha = ((0, 5), "center") if y0 == y1 else (((-8, 0), "right") if slope > 0 else ((8, 0), "left"))
        ax.annotate(label, ((x0 + x1) / 2, (y0 + y1) / 2), xytext=offset, textcoords="offset points",
                    ha=ha, va="bottom" if y0 == y1 else "center", color="black" if colour == "0.55" else colour,
                    family="monospace", fontsize=12 if label in "+−*" else 11)
    handles = [Line2D([], [], color=PATH1, lw=2.2, label=legend[0]), Line2D([], [], color=PATH2, lw=2.2, label=legend[1]),
               Patch(fc=BN_ROW_FILL, ec="0.3", label=legend[2])]
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, -0.1), ncol=3, fontsize=11, frameon=False)
    plt.show()


def draw_saturation(pre, out, titles, legend, band_text, xlabel, ylabels, decimal=".", threshold=0.99, limit=4.0):
    """Where tanh saturates, and how many entries of a batch are there; shows the figure.

    Top: tanh and its derivative 1 − h² against the pre-activation, the bands |h| > `threshold` in grey.
    Bottom: a histogram of the entries of `pre` (e.g. hpreact), the saturated ones in red, each one
    also marked by a red tick under the bars, and in each grey band `band_text`, a format string with
    {k} (the entries in that band) and {total} (all the entries). Texts are the caller's (from tr()):
    `titles` (top, bottom), `legend` (tanh, 1 − h²), `xlabel`, `ylabels` (top, bottom);
    `decimal` is the tick labels' decimal mark (tr(",", ".")).
    """
    import math
    import torch
    pre, out = pre.detach().flatten(), out.detach().flatten()
    edge = math.atanh(threshold)
    saturated = out.abs() > threshold
    x = torch.linspace(-limit, limit, 401)
    with plt.rc_context({"font.size": 11}):
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6.4), sharex=True, height_ratios=(1, 1.25))
        for ax in (top, bottom):
            for a, b in ((-limit, -edge), (edge, limit)):
                ax.axvspan(a, b, color="0.88", zorder=0)
        top.plot(x, torch.tanh(x), lw=2, color="tab:blue", label=legend[0])
        top.plot(x, 1 - torch.tanh(x) ** 2, lw=2, color="black", label=legend[1])
        top.axhline(0, color="0.6", lw=0.8)
        top.set_ylim(-1.1, 1.1)
        top.set_ylabel(ylabels[0])
        top.set_title(titles[0])
        top.legend(loc="lower right", frameon=False)
        bins = torch.linspace(-limit, limit, 65)  # width 0.125
        bottom.hist(pre[~saturated], bins=bins.tolist(), color="tab:blue", alpha=0.75)
        bottom.hist(pre[saturated], bins=bins.tolist(), color="tab:red")
        height = bottom.get_ylim()[1]
        for v in pre[saturated].tolist():  # one tick per saturated entry: a few bars of height 1 would not show
            bottom.plot([v, v], [-0.11 * height, -0.03 * height], color="tab:red", lw=1.5)
        bottom.set_ylim(-0.13 * height, 1.05 * height)
        for sign in (-1, 1):
            k = int((saturated & (pre * sign > 0)).sum())
            bottom.text(sign * (edge + limit) / 2, 0.55 * height, band_text.format(k=k, total=pre.numel()),
                        ha="center", va="center", fontsize=12, color="tab:red")
        bottom.set_ylabel(ylabels[1])
        bottom.set_xlabel(xlabel)
        bottom.set_title(titles[1])
        bottom.set_xlim(-limit, limit)
        decimal_comma(top, decimal)
        decimal_comma(bottom, decimal, "x")
        plt.tight_layout()
        plt.show()


def draw_sum_then_copies(x, factor, d, headings, titles, notes, decimal="."):
    """Two halves on one colour scale: forward, `x` [m, c] summed down its columns (times `factor`) into a
    [1, c] row; backward, the row `d` [1, c] and its m copies (ghost rows); shows the figure.

    Texts are the caller's (from tr()): `headings` (forward, backward), `titles` of the four matrices,
    `notes` written under the two arrows.

    `decimal` is the numbers' decimal mark (tr(",", ".")), written with a typographic minus.
    """
    x, d = x.detach().float(), d.detach().float().reshape(1, -1)
    m, c = x.shape
    gap, margin = 3.0, 1.0
    x0 = margin
    xs = x0 + c + gap
    xd = xs + c + 2 * margin + 0.4
    xc = xd + c + gap
    width = xc + c + margin
    fig, ax = canvas(width, rows=m, top=2.2)
    fig.set_size_inches(fig.get_size_inches() * 1.4)  # wider cells, so that "−0,25" fits inside its cell
    for (left, right), heading in zip(((0, xs + c + margin), (xd - margin, width)), headings):
        ax.text((left + right) / 2, 1.1, heading, ha="center", va="bottom", fontsize=11)
    ax.plot([xs + c + margin + 0.2] * 2, [-m - 0.5, 1.9], color="lightgrey")
    cells = len(ax.texts)
    draw_matrix(ax, x, x0, titles[0])
    draw_matrix(ax, factor * x.sum(0, keepdim=True), xs, titles[1])
    draw_matrix(ax, d, xd, titles[2])
    draw_matrix(ax, d.expand(m, c), xc, titles[3], ghost_rows=range(1, m))
    for text in ax.texts[cells:]:
        if text.get_text() not in titles:
            text.set_text(text.get_text().replace(".", decimal).replace("-", "−"))
    for start, end, note in ((x0 + c + 0.2, xs - 0.2, notes[0]), (xd + c + 0.2, xc - 0.2, notes[1])):
        ax.annotate("", xy=(end, -0.5), xytext=(start, -0.5), arrowprops=dict(arrowstyle="->", color="grey"))
        ax.text((start + end) / 2, -0.9, note, ha="center", va="top", fontsize=11)
    plt.show()


# --- lesson 09: the loss curve, batch statistics against the whole set's, first letters --------------
#
#     draw_loss_curve(lossi, (band, tr("media su {window} passi", "mean over {window} steps"), lr_label, xlabel, title))
#     draw_batch_statistics(whole, [(tr("batch A", "batch A"), batch_a), ...], texts)
#     draw_first_letters(before, after, [itos[i] for i in range(27)], texts)

def draw_loss_curve(lossi, texts, figsize=(9, 4)):
    """The log10 of the loss at every step (`lossi`), in windows of consecutive steps; shows the figure.

    Short windows at the start, where the loss falls fastest (the first step on its own, then 2, 7, 20, 70
    steps), then one fiftieth of the steps each. The line is the mean of each window (of the log10 values, the
    plot's scale), the grey band holds its middle 80 % (10 % left out at each end), the dashed line marks the
    halfway step, where the learning rate drops. The right-hand axis reads the same scale in loss units.
    `texts`: (band, mean — "{window}" becomes the window length, lr drop, x label, title).
    """
    import numpy as np
    import torch
    band, mean_label, lr_label, xlabel, title = texts
    window = max(1, len(lossi) // 50)
    edges = [e for e in (0, 1, 3, 10, 30, 100) if e < window] + list(range(window, len(lossi) + 1, window))
    values = torch.tensor(lossi)
    middle, mean, low, high = [], [], [], []
    for start, end in zip(edges, edges[1:]):
        chunk = values[start:end]
        middle.append((start + end - 1) / 2)
        mean.append(chunk.mean().item())
        low.append(chunk.quantile(0.1).item())
        high.append(chunk.quantile(0.9).item())
    fig, ax = plt.subplots(figsize=figsize)
    ax.fill_between(middle, low, high, color="0.85", label=band)
    ax.plot(middle, mean, color="tab:blue", linewidth=2, label=mean_label.format(window=window))
    ax.axvline(len(lossi) // 2, color="0.3", linestyle="--", linewidth=1, label=lr_label)
    ax.set_xlabel(xlabel, fontsize=11)
    ax.set_ylabel("log10(loss)", fontsize=11)
    ax.set_title(title, fontsize=12)
    right = ax.secondary_yaxis("right", functions=(lambda y: 10 ** y, lambda v: np.log10(np.maximum(v, 1e-9))))
    right.set_ylabel("loss", fontsize=11)
    for axis in (ax, right):
        axis.tick_params(labelsize=10)
    decimal_comma(ax)
    decimal_comma(right, which="y")
    ax.legend(fontsize=10, loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=3, frameon=False)
    plt.show()


def draw_batch_statistics(whole, batches, texts, figsize=(10, 5)):
    """Each unit's batchnorm mean and variance: the whole training set's (x) against a few batches' (y).

    `whole` maps "bnmean" and "bnvar" to one value per unit; `batches` is a list of (label, the same dict for
    one batch). One dot per unit and batch, a thin grey line joining the dots of the same unit (how far two
    batches disagree), the diagonal where batch and whole set agree. The variance is on a log scale, where
    equal distances are equal ratios. `texts`: dict with "titles" (mean, variance), "xlabel" and "ylabel"
    (each written after the name, bnmean or bnvar), "same" (the diagonal) and "suptitle".
    """
    colours = ("tab:blue", "tab:orange", "tab:green")
    fig, axes = plt.subplots(1, 2, figsize=figsize)
    for ax, name, title in zip(axes, ("bnmean", "bnvar"), texts["titles"]):
        x = whole[name].flatten()
        ys = [stats[name].flatten() for _, stats in batches]
        lo = min([x.min().item()] + [y.min().item() for y in ys])
        hi = max([x.max().item()] + [y.max().item() for y in ys])
        if len(ys) > 1:
            import torch
            stacked = torch.stack(ys)
            ax.vlines(x, stacked.amin(0), stacked.amax(0), color="0.55", linewidth=1.0, zorder=1)
        for (label, _), y, colour in zip(batches, ys, colours):
            ax.scatter(x, y, s=14, color=colour, alpha=0.6, linewidths=0, label=label, zorder=2)
        ax.plot([lo, hi], [lo, hi], color="0.3", linestyle="--", linewidth=1, label=texts["same"], zorder=3)
        ax.set_xlabel(f"{name} {texts['xlabel']}", fontsize=11)
        ax.set_ylabel(f"{name} {texts['ylabel']}", fontsize=11)
        ax.set_title(title, fontsize=12)
        if name == "bnvar":
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlim(lo / 1.15, hi * 1.15)
            ax.set_ylim(lo / 1.15, hi * 1.15)
            ticks = [t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20) if lo / 1.15 <= t <= hi * 1.15]
            ax.set_xticks(ticks)
            ax.set_yticks(ticks)
            ax.minorticks_off()
        ax.tick_params(labelsize=10)
        decimal_comma(ax)
        ax.legend(fontsize=10, loc="upper left")
    fig.suptitle(texts["suptitle"], fontsize=12)
    fig.tight_layout()
    plt.show()


def draw_first_letters(before, after, chars, texts, figsize=(10, 3.8)):
    """The probability of each character after the context "...", before (grey) and after (blue) training.

    `before`, `after`: one probability per character of `chars`; a dashed line marks 1/len(chars), every
    character equally likely. `texts`: (before label, after label, the dashed line, x label, y label).
    """
    import numpy as np
    before_label, after_label, even_label, xlabel, ylabel = texts
    x = np.arange(len(chars))
    fig, ax = plt.subplots(figsize=figsize)
    ax.bar(x - 0.2, before, width=0.4, color="0.6", label=before_label)
    ax.bar(x + 0.2, after, width=0.4, color="tab:blue", label=after_label)
    ax.axhline(1 / len(chars), color="0.3", linestyle="--", linewidth=1, label=even_label)
    ax.set_xticks(x, chars, fontsize=11)
    ax.set_xlabel(xlabel, fontsize=11)
    ax.set_ylabel(ylabel, fontsize=11)
    ax.tick_params(axis="y", labelsize=10)
    decimal_comma(ax, which="y")
    ax.legend(fontsize=10)
    fig.tight_layout()
    plt.show()


# --- lesson 03: a map of values that are all >= 0 ----------------------------------
#
#     draw_positive_heatmap(counts.grad - dcounts2, tr("l'errore: …", "the error: …"), xlabel, ylabel, tr(",", "."))

def draw_positive_heatmap(M, title, xlabel, ylabel, decimal=".", cmap="Reds", figsize=(6.8, 5.8)):
    """Show the 2-D tensor `M`, whose values are all >= 0, on a one-sided colour scale with a colour bar; returns vmax.

    The scale runs from 0 (white) to the largest value of `M`, so every colour is a positive
    number and none is wasted on negatives. Texts are the caller's (from tr()); `decimal` is
    the colour bar's decimal mark (tr(",", ".") for Italian).
    """
    M = M.detach().float()
    vmax = float(M.max().item() or 1.0)
    with plt.rc_context({"font.size": 11}):
        fig, ax = plt.subplots(figsize=figsize)
        image = ax.imshow(M, cmap=cmap, vmin=0.0, vmax=vmax)
        bar = fig.colorbar(image, ax=ax, shrink=0.8)
        bar.ax.yaxis.set_major_formatter(lambda v, _: f"{v:g}".replace(".", decimal))
        _finish(ax, title, xlabel, ylabel)
    return vmax


# --- lesson 10: the stopwatch's figures -------------------------------------------

STEP_COLOURS = {"autograd": "tab:grey", "fused": "tab:blue", "optimised": "tab:green", "compiled": "tab:purple"}


def draw_step_times(samples, labels, xlabel, figsize=(9, 3.6)):
    """Each variant's step times as dots (one per step), its quartiles as a box: the quartiles of `statistics.quantiles(method="inclusive")` (the ones
    `bench.summarise` prints, so the figure's medians match the table), a filled box, a white-edged median
    line that stands out, and ticks that double (50, 100, 200, 400, …) so the log scale can be read.
    """
    import random
    import statistics
    names = list(samples)[::-1]  # the first variant on top
    fig, ax = plt.subplots(figsize=figsize)
    rng = random.Random(0)
    for row, name in enumerate(names):
        us = sorted(s * 1e6 for s in samples[name])
        colour = STEP_COLOURS.get(name, "tab:orange")
        ax.scatter(us, [row + rng.uniform(-0.3, 0.3) for _ in us], s=7, color=colour, alpha=0.45, lw=0, zorder=2)
        q1, median, q3 = statistics.quantiles(us, n=4, method="inclusive") if len(us) > 1 else (us[0],) * 3
        ax.add_patch(plt.Rectangle((q1, row - 0.36), q3 - q1, 0.72, facecolor=colour, alpha=0.18,
                                   edgecolor="none", zorder=1))
        ax.add_patch(plt.Rectangle((q1, row - 0.36), q3 - q1, 0.72, fill=False, edgecolor="black", lw=1.2, zorder=3))
        ax.plot([median, median], [row - 0.36, row + 0.36], color="white", lw=6, zorder=4, solid_capstyle="butt")
        ax.plot([median, median], [row - 0.36, row + 0.36], color="black", lw=3, zorder=5, solid_capstyle="butt")
        ax.text(q3 * 1.04, row + 0.38, f"{median:.0f} µs", fontsize=11, va="bottom")
    ax.set_xscale("log")
    lo = min(min(s) for s in samples.values()) * 1e6 / 1.25
    hi = min(max(max(s) for s in samples.values()) * 1e6, 30 * lo) * 1.25
    doubling = (25, 50, 100, 200, 400, 800, 1600, 3200, 6400, 12800)
    lo = min(lo, max([t for t in doubling if t <= lo] or [lo]) * 0.9)  # always show the tick below the data
    ax.set_xlim(lo, hi)
    ticks = [t for t in doubling if lo <= t <= hi]
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_yticks(range(len(names)), [labels[n] for n in names], fontsize=11)
    ax.set_ylim(-0.6, len(names) - 0.2)
    ax.set_xlabel(xlabel, fontsize=11)
    ax.tick_params(axis="x", labelsize=10)
    ax.grid(axis="x", color="0.85")
    fig.tight_layout()
    plt.show()


def draw_time_against_ops(ops, us, labels, price_us, limit_us, texts, slope_us=None, figsize=(7, 4)):
    """Step time against the number of operations a step makes, one dot per variant.

    A line through zero with slope `price_us` (the price of one empty operation),
    a dashed horizontal line at `limit_us` (the FLOP limit). `texts`: x label,
    y label, the line's label, the limit's label (the caller's, from tr()).
    With `slope_us`, also the caller's least-squares line through zero, labelled by a fifth text
    (the caller writes the slope into it, with its own decimal mark).
    """
    xlabel, ylabel, price_label, limit_label = texts[:4]
    fig, ax = plt.subplots(figsize=figsize)
    top = max(ops.values()) * 1.15
    if slope_us is not None:
        ax.plot([0, top], [0, top * slope_us], color="black", lw=1.4, label=texts[4])
    ax.plot([0, top], [0, top * price_us], color="0.55", lw=1.2, linestyle=":", label=price_label)
    ax.axhline(limit_us, color="tab:red", lw=1.2, linestyle="--", label=limit_label)
    for name in ops:
        ax.scatter(ops[name], us[name], s=60, color=STEP_COLOURS.get(name, "tab:orange"), zorder=3)
        below = slope_us is not None and us[name] < 0.95 * slope_us * ops[name]  # label away from the line
        ax.annotate(labels[name], (ops[name], us[name]), textcoords="offset points",
                    xytext=(8, -8) if below else (-8, 8), ha="left" if below else "right",
                    va="top" if below else "baseline", fontsize=11)
    ax.set_xlim(0, top)
    ax.set_ylim(0, max(max(us.values()), top * (slope_us or 0)) * 1.15)
    ax.set_xlabel(xlabel, fontsize=11)
    ax.set_ylabel(ylabel, fontsize=11)
    ax.tick_params(labelsize=10)
    ax.legend(fontsize=10, loc="upper left", frameon=False)
    ax.grid(color="0.92")
    fig.tight_layout()
    plt.show()


def draw_sweep(results, labels, peak_gflops, texts, figsize=(8, 4.8)):
    """µs per step against FLOPs per step, log-log, one line per variant, for the sizes of `bench.sweep`.

    The FLOP limit (FLOPs ÷ `peak_gflops`) is the dashed diagonal; the six
    matmuls alone are grey crosses; each size is written at the top as
    "n × H". `texts`: x label, y label, the limit's label, the matmuls' label.
    """
    xlabel, ylabel, limit_label, matmul_label = texts
    sizes = list(results)
    flops = [results[s]["flops"] for s in sizes]
    fig, ax = plt.subplots(figsize=figsize)
    xs = [min(flops) / 2, max(flops) * 2]
    ax.plot(xs, [f / (peak_gflops * 1e3) for f in xs], color="tab:red", lw=1.2, linestyle="--", label=limit_label)
    ax.scatter(flops, [results[s]["matmuls_us"] for s in sizes], marker="x", s=50, color="0.35", zorder=3,
               label=matmul_label)
    for name in results[sizes[0]]["table"]:
        ax.plot(flops, [results[s]["table"][name]["median_us"] for s in sizes], marker="o",
                color=STEP_COLOURS.get(name, "tab:orange"), lw=1.8, label=labels[name])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(*xs)
    for (n, H), f in zip(sizes, flops):
        ax.text(f, 1.02, f"{n} × {H}", transform=ax.get_xaxis_transform(), ha="center", va="bottom", fontsize=10)
    ax.set_xlabel(xlabel, fontsize=11)
    ax.set_ylabel(ylabel, fontsize=11)
    ax.tick_params(labelsize=10)
    ax.legend(fontsize=10, loc="upper left", frameon=False)
    ax.grid(color="0.92", which="major")
    fig.tight_layout()
    plt.show()


def draw_fd_errors(epsilons, errors, texts, models=None, figsize=(8, 4.4)):
    """The error of a finite difference against its step ε, log-log, one line per way of computing it.

    `errors` maps a label to the errors (one per ε); `models` maps some of those labels to (label, model
    errors), drawn dashed in that curve's colour. `texts`: x label, y label. The first curve is drawn on top,
    with hollow circles, so that where it lies on another one both stay visible.
    """
    xlabel, ylabel = texts
    fig, ax = plt.subplots(figsize=figsize)
    colours = ["tab:orange", "tab:blue", "tab:green", "tab:purple"]
    for k, ((label, errs), colour) in enumerate(zip(errors.items(), colours)):
        style = dict(ms=7, mfc="none", mew=1.3, lw=1.2, zorder=3) if k == 0 else dict(ms=3.5, lw=1.5)
        ax.plot(epsilons, [max(e, 1e-17) for e in errs], marker="o", color=colour, label=label, **style)
        if label in (models or {}):
            model_label, model = models[label]
            ax.plot(epsilons, model, color=colour, lw=1.3, linestyle="--", alpha=0.8, label=model_label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(1e-15, 1)
    ax.set_xlabel(xlabel, fontsize=11)
    ax.set_ylabel(ylabel, fontsize=11)
    ax.tick_params(labelsize=10)
    ax.legend(fontsize=10, frameon=False, loc="lower left")
    ax.grid(color="0.92")
    fig.tight_layout()
    plt.show()


def draw_scatter_add(index, src, result, titles):
    """`result = t.scatter_add_(1, index, src)` for a zero `t`: `index` (plain cells), `src`, and `result`,
    with an arrow from each `src[i, k]` to the cell `[i, index[i, k]]` it is added to. `titles`: three texts.
    """
    rows, cols = result.shape
    x_src = index.shape[1] + 1.5
    x_t = x_src + src.shape[1] + 2
    fig, ax = canvas(x_t + cols, rows=rows + 0.6, top=0.9)
    for i in range(index.shape[0]):
        for k in range(index.shape[1]):
            ax.add_patch(plt.Rectangle((k, -i - 1), 1, 1, facecolor="white", edgecolor="grey"))
            ax.text(k + 0.5, -i - 0.5, str(int(index[i, k])), ha="center", va="center", fontsize=11)
    draw_matrix(ax, src, x_src, "")
    draw_matrix(ax, result, x_t, "")
    for x0, width, title in ((0, index.shape[1], titles[0]), (x_src, src.shape[1], titles[1]),
                             (x_t, cols, titles[2])):  # titles under the grids: the arrows run above
        ax.text(x0 + width / 2, -rows - 0.3, title, ha="center", va="top", fontsize=11)
    for i in range(index.shape[0]):
        for k in range(index.shape[1]):
            col = int(index[i, k])
            start = (x_src + k + 1, -i - 0.5)
            end, rad = ((x_t, -i - 0.5), 0.0) if col == 0 else ((x_t + col + 0.5, -i - 0.05), -0.45)
            ax.annotate("", end, start, arrowprops=dict(arrowstyle="->", color="black", lw=1.4,
                                                        connectionstyle=f"arc3,rad={rad}"))
    plt.show()


def draw_secants(f, x, eps, texts, decimal=None):
    """The tangent to `f` at `x`, the forward secant through x and x + eps, the central one through x ± eps.

    Slopes go into the legend (two decimals, the decimal mark of the language, or `decimal`); `texts`: x label,
    y label, and the three lines' labels. A large `eps` keeps the lines apart.
    """
    if decimal is None:
        from handgrad.i18n import get_language
        decimal = "," if get_language() == "it" else "."
    h = 1e-6
    tangent = (f(x + h) - f(x - h)) / (2 * h)
    forward = (f(x + eps) - f(x)) / eps
    central = (f(x + eps) - f(x - eps)) / (2 * eps)
    lo, hi = x - 2 * eps, x + 2 * eps
    xs = [lo + (hi - lo) * k / 200 for k in range(201)]
    fig, ax = plt.subplots(figsize=(6.4, 4))
    ax.plot(xs, [f(v) for v in xs], color="black", lw=2)
    def slope(v):
        return f"{v:.2f}".replace(".", decimal)
    for (x0, slope_value, colour, label, style) in ((x, tangent, "0.45", texts[2], ":"),
                                                    (x, forward, "tab:orange", texts[3], "-"),
                                                    (x - eps, central, "tab:blue", texts[4], "-")):
        y0 = f(x0)
        ax.plot([lo, hi], [y0 + slope_value * (lo - x0), y0 + slope_value * (hi - x0)], color=colour, lw=1.6,
                linestyle=style, label=f"{label}: {slope(slope_value)}")
    ax.scatter([x - eps, x, x + eps], [f(x - eps), f(x), f(x + eps)], color="black", s=30, zorder=3)
    for v, name in ((x - eps, "x − ε"), (x, "x"), (x + eps, "x + ε")):
        ax.axvline(v, color="0.85", lw=1, zorder=0)
        ax.text(v, 1.01, name, transform=ax.get_xaxis_transform(), ha="center", va="bottom", fontsize=10)
    ax.set_xlim(lo, hi)
    ax.set_ylim(f(lo) - 0.1 * abs(f(hi) - f(lo)), f(hi) + 0.1 * abs(f(hi) - f(lo)))
    ax.set_xlabel(texts[0], fontsize=11)
    ax.set_ylabel(texts[1], fontsize=11)
    ax.legend(fontsize=10, frameon=False, loc="lower right")
    decimal_comma(ax, decimal)
    fig.tight_layout()
    plt.show()


# --- lesson 08: the three paths of batchnorm, plain toy matrices, the formula as two projections ----------
#
#     draw_paths_graph({"$x_i$": (0, 0), …}, [("$x_i$", "$\\mu$", "$1/n\\;\\sum$", PATH2, {"at": 0.4}),
#                                            ("$\\mu$", "$\\sigma^2$", "0", PATH2, {"dashed": True}), …], legend)
#     fig, ax = canvas(20, rows=3.8); draw_values(ax, toy_hprebn, 0, "toy_hprebn", col_labels=["0", "1"])
#     draw_projection(dxhat, xhat, s, titles, arrows, decimal=tr(",", "."))

PATH3 = "tab:green"  # a third path, after PATH1 (orange) and PATH2 (blue)
PROJECTION = "tab:purple"  # lesson 08's component along x̂: not a path, so none of the path colours


def draw_paths_graph(nodes, edges, legend, figsize=(6, 2.4), fontsize=11):
    """A computational graph with mathematical labels, all in one font (mathtext), and show it.

    Like draw_graph, but an edge may carry a dict of options as a fifth item: "at", where along the
    arrow its label sits (0 = start, 1 = end; default 0.5); "offset", (dx, dy) in points from there
    (default (0, 5)); "ha", "va", the label's alignment (default "center", "bottom"); "dashed", True
    for an edge that carries nothing (drawn dashed, thinner). nodes: {name: (x, y)};
    edges: [(from, to, label, colour[, options])]; legend: {colour: text}. Texts are the caller's (tr()).
    """
    fig, ax = plt.subplots(figsize=figsize)
    xs, ys = [x for x, _ in nodes.values()], [y for _, y in nodes.values()]
    ax.set_xlim(min(xs) - 1, max(xs) + 1)
    ax.set_ylim(min(ys) - 0.5, max(ys) + 0.4)
    ax.axis("off")
    box = {name: ax.text(x, y, name, ha="center", va="center", fontsize=fontsize + 1,
                         bbox=dict(boxstyle="round,pad=0.4", fc="white", ec="0.3"))
           for name, (x, y) in nodes.items()}
    fig.canvas.draw()  # so that the boxes already know their size, for the arrows to stop at their edge
    for src, dst, label, colour, *more in edges:
        options = more[0] if more else {}
        dashed = options.get("dashed", False)
        ax.annotate("", xy=nodes[dst], xytext=nodes[src],
                    arrowprops=dict(arrowstyle="-|>", color=colour, lw=1.5 if dashed else 2, mutation_scale=14,
                                    linestyle=(0, (4, 3)) if dashed else "-", shrinkA=1, shrinkB=1,
                                    patchA=box[src].get_bbox_patch(), patchB=box[dst].get_bbox_patch()))
        (x0, y0), (x1, y1) = nodes[src], nodes[dst]
        at = options.get("at", 0.5)
        ax.annotate(label, (x0 + at * (x1 - x0), y0 + at * (y1 - y0)), xytext=options.get("offset", (0, 5)),
                    textcoords="offset points", ha=options.get("ha", "center"), va=options.get("va", "bottom"),
                    color=colour, fontsize=fontsize, zorder=4,
                    bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.85))
    handles = [Line2D([], [], color=c, lw=2, label=text) for c, text in legend.items()]
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, -0.12), ncol=len(handles),
              fontsize=fontsize, frameon=False)
    plt.show()


def _shown(value, decimal=".", digits=3):
    """A number as the lessons write it: up to `digits` significant digits, `decimal` mark, typographic minus."""
    if isinstance(value, str):
        return value
    return f"{value:.{digits}g}".replace(".", decimal).replace("-", "−")


def draw_values(ax, M, x0, title, col_labels=None, decimal="."):
    """Draw a small matrix as plain white cells with its values, where `draw_matrix` would put it (x = `x0`).

    For numbers whose colour would mean nothing. `M` is a tensor or a list of rows; an entry may be a
    string (e.g. "1/3"), written as it is. Numbers get up to 3 significant digits and the decimal mark
    `decimal` (tr(",", ".")). `outline_block` frames its cells as it does for `draw_matrix`.
    """
    rows = M.detach().tolist() if hasattr(M, "detach") else list(M)
    rows = [row if isinstance(row, (list, tuple)) else [row] for row in rows]
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            ax.add_patch(plt.Rectangle((x0 + j, -i - 1), 1, 1, facecolor="white", edgecolor="0.55", lw=1))
            text = _shown(value, decimal)
            ax.text(x0 + j + 0.5, -i - 0.5, text, ha="center", va="center", fontsize=11 if len(text) <= 3 else 10)
    ax.text(x0 + len(rows[0]) / 2, 0.2, title, ha="center", va="bottom", fontsize=11)
    for j, label in enumerate(col_labels or []):
        ax.text(x0 + j + 0.5, -len(rows) - 0.3, label, ha="center", va="top", fontsize=10, color="0.35")


def draw_projection(v, xhat, s, titles, arrows, component="", mean_label="", decimal=".", figsize=(12.5, 3.6)):
    """Lesson 08: ∂L/∂x as a projection of v = γ·∂L/∂y, in four bar panels (v, mean removed, component along
    x̂ removed, times s), one per step; `titles` has four texts, `arrows` the three between the panels.

    In the second panel the component along x̂ is drawn as purple stems with a dot, beside each bar, so that
    it cannot be mistaken for more bars. Texts are the caller's (tr()).
    """
    import torch
    v, xhat = torch.as_tensor(v, dtype=torch.float64).flatten(), torch.as_tensor(xhat, dtype=torch.float64).flatten()
    centred = v - v.mean()
    along = xhat * (centred @ xhat) / (xhat @ xhat)
    rest = centred - along
    panels = (v, centred, rest, s * rest)
    top = max(float(p.abs().max()) for p in panels + (along,)) or 1.0
    idx = list(range(len(v)))
    with plt.rc_context({"font.size": 11}):
        fig, axes = plt.subplots(1, 4, figsize=figsize, sharey=True)
        for k, (ax, values, title) in enumerate(zip(axes, panels, titles)):
            shift = -0.2 if k == 1 else 0.0  # in the second panel the stem stands beside each bar
            xs = [i + shift for i in idx]
            ax.bar(xs, values.tolist(), width=0.35 if k == 1 else 0.6, color="0.75" if k < 3 else "0.45",
                   edgecolor="0.3", lw=0.8, zorder=2)
            ax.axhline(0, color="0.3", lw=0.8, zorder=1)
            for x, value in zip(xs, values.tolist()):
                ax.annotate(_shown(round(value, 6), decimal), (x, value), xytext=(0, 3 if value >= 0 else -3),
                            textcoords="offset points", ha="center", va="bottom" if value >= 0 else "top",
                            fontsize=11, zorder=5)
            ax.set_title(title, fontsize=11)
            ax.set_xticks(idx, [f"{i}" for i in idx])
            ax.set_xlim(-0.7, len(v) - 0.3)
            ax.spines[["top", "right"]].set_visible(False)
        axes[0].axhline(float(v.mean()), color=PATH2, lw=1.5, ls="--", zorder=3)
        if mean_label:
            axes[0].annotate(mean_label, (len(v) - 0.3, float(v.mean())), xytext=(-2, 3), textcoords="offset points",
                             ha="right", va="bottom", fontsize=11, color=PATH2)
        sx = [i + 0.2 for i in idx]  # clear of the bar's edge (i - 0.025), even for a dot at 0
        axes[1].vlines(sx, 0, along.tolist(), colors=PROJECTION, lw=2, zorder=4)
        axes[1].plot(sx, along.tolist(), "o", color=PROJECTION, ms=7, zorder=5, label=component)
        for x, value in zip(sx, along.tolist()):
            axes[1].annotate(_shown(round(value, 6), decimal), (x, value), xytext=(6, 0), textcoords="offset points",
                             ha="left", va="center", fontsize=10, color=PROJECTION, zorder=5)
        if component:
            axes[1].legend(loc="upper left", frameon=False, fontsize=10, handlelength=1.0)
        axes[0].set_ylim(-1.3 * top, 1.3 * top)
        axes[0].yaxis.set_major_formatter(lambda value, _: _shown(value, decimal))
        plt.tight_layout(w_pad=5.0)
        for left, right, text in zip(axes[:-1], axes[1:], arrows):
            x = (left.get_position().x1 + right.get_position().x0) / 2
            fig.text(x, 0.56, text, ha="center", va="bottom", fontsize=12, color="0.2")
            fig.text(x, 0.5, "⟶", ha="center", va="center", fontsize=20, color="0.4")
        plt.show()


def draw_nudge_slopes(points, labels, xlabel, ylabel, decimal=".", figsize=(5.6, 3.4)):
    """Lesson 08, step 3: measured derivatives against a quantity, one colour per column of numbers.

    `points` is a list of (xs, ys) pairs (tensors or lists), `labels` one legend text each. Each pair is
    drawn as dots joined by a thin line, on a unit grid with both axes through 0, so that the reader can
    read off each slope (e.g. rise 2 over run 3). Texts are the caller's (tr()); `decimal` is tr(",", ".").
    """
    from matplotlib.ticker import MultipleLocator
    fig, ax = plt.subplots(figsize=figsize)
    for (xs, ys), label, colour in zip(points, labels, (PATH2, "tab:green", PATH1)):
        xs, ys = [float(v) for v in xs], [float(v) for v in ys]
        ax.plot(xs, ys, "-", color=colour, lw=1, alpha=0.6, zorder=2)
        ax.plot(xs, ys, "o", color=colour, ms=7, label=label, zorder=3)
    ax.axhline(0, color="0.3", lw=0.8, zorder=1)
    ax.axvline(0, color="0.3", lw=0.8, zorder=1)
    ax.xaxis.set_major_locator(MultipleLocator(1))
    ax.yaxis.set_major_locator(MultipleLocator(0.5))
    ax.grid(color="0.9", zorder=0)
    ax.set_xlabel(xlabel, fontsize=11)
    ax.set_ylabel(ylabel, fontsize=11)
    ax.tick_params(labelsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=10, frameon=False, loc="upper left")
    decimal_comma(ax, decimal)
    fig.tight_layout()
    plt.show()
# --- a matrix lower down -------------------------------------------------------
#
#     draw_matrix(ax, dz, 9, "dz  [4, 3]")
#     draw_matrix_at(ax, dz.sum(0), 9, -5.0, "")   # its column sums, right under it

def draw_matrix_at(ax, M, x0, y0, title, **kwargs):
    """`draw_matrix` with the top edge of the grid at y = `y0` instead of 0 (same colour scale, same options).

    For a result drawn under the matrix it comes from, column under column (e.g. a sum over dim 0).
    """
    patches, texts = len(ax.patches), len(ax.texts)
    draw_matrix(ax, M, x0, title, **kwargs)
    for patch in ax.patches[patches:]:
        patch.set_y(patch.get_y() + y0)
    for text in ax.texts[texts:]:
        x, y = text.get_position()
        text.set_position((x, y + y0))


def _finish(ax, title, xlabel, ylabel):
    """Title and axis labels, then show: the last lines every heatmap helper shares."""
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    plt.tight_layout()
    plt.show()


# --- the right factor's gradient: a column of A is a row of A.T ------------------
#
#     draw_transpose_product(A, dP, (1, 0), ("A", "A.T", "dP", "dB = A.T @ dP"), (tr(…), tr(…), tr(…)))

def draw_transpose_product(A, dP, index, titles, legend):
    """Draw `A`, then `A.T @ dP = dB`, framing what one element db_kj of dB pairs, and show the figure.

    index (k, j): column k of A (dashed green) is row k of A.T (dashed green), which pairs with column j
    of dP (orange) to give db_kj (black) — a row times a column, as in every matrix product.
    `titles`: the four matrices' titles (A, A.T, dP, dB); `legend`: the meanings of the black, orange and
    green frames, in that order (the caller's text, from tr(); mathtext allowed).
    """
    A, dP = A.detach().float(), dP.detach().float()
    At, dB = A.T, A.T @ dP
    k, j = index
    (m, kk), n = A.shape, dP.shape[1]
    xt = kk + 2.6
    xd = xt + m + 1.4
    xr = xd + n + 1.4
    width = xr + n + 0.8
    rows = max(m, kk)
    line_counts = [text.count("\n") + 1 for text in legend]
    depth = rows + 0.5 + sum(0.3 + 0.45 * lines for lines in line_counts)
    fig, ax = canvas(width, rows=depth - 0.9)
    for x, M, title in ((0, A, titles[0]), (xt, At, titles[1]), (xd, dP, titles[2]), (xr, dB, titles[3])):
        _plain_matrix(ax, M, x, 0.0, title)
    ax.annotate("", xy=(xt - 0.3, -rows / 2), xytext=(kk + 0.3, -rows / 2),
                arrowprops=dict(arrowstyle="->", color="0.4", lw=1.5))
    ax.text((kk + xt) / 2, -rows / 2 + 0.35, ".T", ha="center", va="bottom", fontsize=12, color="0.3")
    ax.text(xd - 0.7, -rows / 2, "@", ha="center", va="center", fontsize=16)
    ax.text(xr - 0.7, -rows / 2, "=", ha="center", va="center", fontsize=16)
    _frame(ax, 0, 0, range(m), [k], PARTNER_STYLE)
    _frame(ax, xt, 0, [k], range(m), PARTNER_STYLE)
    _frame(ax, xd, 0, range(dP.shape[0]), [j], USES_STYLE)
    _frame(ax, xr, 0, [k], [j], ELEMENT_STYLE)
    y = -rows - 0.5
    _style_legend(ax, legend, line_counts, y)
    plt.show()


# --- lesson 03: a node used twice, its two contributions summed --------------------
#
#     draw_two_uses_sum(x, d_sum, d_direct, names, headings, legend, copy_label=tr("copia", "copy"), decimal=tr(",", "."))
#     draw_two_uses_max(x, d_max, d_direct, names, headings, legend, route_label=tr("instrada", "route"), …)

def draw_two_uses_sum(x, d_sum, d_direct, names, headings, legend, sum_label=".sum(1)", copy_label="copy",
                      decimal="."):
    """A node `x` [m, c] used twice: forward, its row sums; backward, both contributions added up; shows it.

    Top row (forward): `x` → its row sums [m, 1]. Bottom row (backward), read from right to left and
    aligned under the top row: the column `d_sum` [m, 1] is copied across each row (the copies are the
    ghost cells) into the first contribution, which is added to the direct one, `d_direct` [m, c], to
    give the full gradient. Frames: PATH1 (orange) for the path through the sum, PATH2 (blue) for the
    direct one, as in draw_graph. Texts are the caller's (from tr()): `names` of the six matrices (x,
    its sum, full gradient, direct contribution, contribution through the sum, d_sum), `headings`
    (forward, backward), `legend` (the orange path, the blue path); `decimal` is the decimal mark.
    """
    _two_uses(x, d_sum, d_direct, names, headings, legend, sum_label, copy_label, decimal, routed=False)


def draw_two_uses_max(x, d_max, d_direct, names, headings, legend, max_label=".max(1)", route_label="route",
                      decimal="."):
    """`draw_two_uses_sum` with the row max instead of the row sum: `x` used directly and through its max.

    Top row (forward): `x`, its max cells outlined, → its row maxima [m, 1]. Bottom row (backward): the
    column `d_max` [m, 1] goes only to the outlined cell of each row (one_hot · d_max, the rest 0), and
    is added to the direct contribution `d_direct` [m, c]. Same arguments as `draw_two_uses_sum`.
    """
    _two_uses(x, d_max, d_direct, names, headings, legend, max_label, route_label, decimal, routed=True)


def _two_uses(x, d_sum, d_direct, names, headings, legend, sum_label, copy_label, decimal, routed):
    import torch
    x = torch.as_tensor(x, dtype=torch.float32)
    d_sum = torch.as_tensor(d_sum, dtype=torch.float32).reshape(-1, 1)
    d_direct = torch.as_tensor(d_direct, dtype=torch.float32)
    m, c = x.shape
    picked = [(i, int(j)) for i, j in enumerate(x.max(1).indices)] if routed else []
    if routed:
        d_through = torch.nn.functional.one_hot(x.max(1).indices, num_classes=c) * d_sum + 0.0
    else:
        d_through = d_sum.expand(m, c)
    total = d_through + d_direct
    gap = 2.0 if routed else 1.4  # room for the routed panel's longer name
    x_total, x_direct = 0.0, c + gap
    x_through = x_direct + c + gap
    x_col = x_through + c + 3.4
    width = x_col + 1.2
    y_back = -m - 2.8
    depth = -y_back + m + 1.6
    fig, ax = canvas(width, rows=depth - 0.9, top=0.9)

    def cells(M, x0, y0, title, ghost_cols=(), frame=None, outline=()):
        M = M.detach().float()
        for i in range(M.shape[0]):
            for j in range(M.shape[1]):
                ghost = j in ghost_cols
                ax.add_patch(plt.Rectangle((x0 + j, y0 - i - 1), 1, 1, facecolor="white", edgecolor="0.55",
                                           lw=1, linestyle="--" if ghost else "-"))
                if (i, j) in outline:
                    ax.add_patch(plt.Rectangle((x0 + j + 0.06, y0 - i - 0.94), 0.88, 0.88, fill=False,
                                               edgecolor="black", lw=2.5, zorder=3))
                text = _shown(M[i, j].item(), decimal)
                ax.text(x0 + j + 0.5, y0 - i - 0.5, text, ha="center", va="center",
                        fontsize=11 if len(text) <= 3 else 10, color="0.55" if ghost else "black")
        ax.text(x0 + M.shape[1] / 2, y0 + 0.2, title, ha="center", va="bottom", fontsize=11, family="monospace")
        if frame:
            ax.add_patch(plt.Rectangle((x0 - 0.08, y0 - M.shape[0] - 0.08), M.shape[1] + 0.16, M.shape[0] + 0.16,
                                       fill=False, edgecolor=frame, lw=3, zorder=3))

    def arrow(start, end, y, label, colour):
        ax.annotate("", xy=(end, y), xytext=(start, y), arrowprops=dict(arrowstyle="-|>", color=colour, lw=2,
                                                                        mutation_scale=14))
        ax.text((start + end) / 2, y + 0.15, label, ha="center", va="bottom", fontsize=11, color=colour,
                family="monospace")

    ax.text(x_through - 0.5, -m / 2, headings[0], ha="right", va="center", fontsize=11, linespacing=1.4)
    cells(x, x_through, 0.0, names[0], outline=picked)
    arrow(x_through + c + 0.3, x_col - 0.3, -m / 2, sum_label, PATH1)
    cells(x.max(1, keepdim=True).values if routed else x.sum(1, keepdim=True), x_col, 0.0, names[1], frame=PATH1)
    ax.plot([-0.1, width + 0.1], [-m - 1.2] * 2, color="lightgrey")
    ax.text(width / 2, -m - 1.45, headings[1], ha="center", va="top", fontsize=11)
    cells(total, x_total, y_back, names[2], frame="black")
    ax.text(x_direct - gap / 2, y_back - m / 2, "=", ha="center", va="center", fontsize=16)
    cells(d_direct, x_direct, y_back, names[3], frame=PATH2)
    ax.text(x_through - gap / 2, y_back - m / 2, "+", ha="center", va="center", fontsize=16)
    cells(d_through, x_through, y_back, names[4], ghost_cols=() if routed else range(1, c), frame=PATH1,
          outline=picked)
    arrow(x_col - 0.3, x_through + c + 0.3, y_back - m / 2, copy_label, PATH1)
    cells(d_sum, x_col, y_back, names[5], frame=PATH1)
    handles = [Line2D([], [], color=colour, lw=3, label=text) for colour, text in zip((PATH1, PATH2), legend)]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.13), ncol=1, fontsize=11,
              frameon=False)
    plt.show()


# --- lesson 03: b = a + a both ways, the softmax of a shifted row, the max routing its gradient ------
#
#     draw_two_uses_arrows(("a", "b"), (tr("primo uso di a", "first use of a"), …), "b = a + a")
#     draw_two_uses_arrows(("a", "b"), ("da += 1 · db", "da += 1 · db"), "da: 0 → 1 → 2", backward=True)
#     draw_softmax_shift(torch.stack([r, r - r.max()]), (tr(…), tr(…)), decimal=tr(",", "."))
#     draw_max_routing(z, dm, tr("avanti: …", "forward: …"), tr("gradiente in arrivo", "upstream gradient"))
#     draw_max_routing(z, dm, tr("indietro: …", "backward: …"), dz=dz)

def draw_two_uses_arrows(nodes, labels, centre="", backward=False, figsize=(4.8, 2)):
    """A node used twice: two curved arrows between the boxes `nodes` (left, right), one per use; shows it.

    The arrows run from left to right (forward) or, with `backward`, from right to left. The upper arrow
    and its label `labels[0]` are PATH1 (orange), the lower ones PATH2 (blue); `centre` is written
    between the boxes. Texts are the caller's (from tr()).
    """
    fig, ax = plt.subplots(figsize=figsize)
    ax.set_xlim(-0.6, 4.6)
    ax.set_ylim(-1.25, 1.25)
    ax.axis("off")
    for name, x in zip(nodes, (0, 4)):
        ax.text(x, 0, name, ha="center", va="center", family="monospace", fontsize=12,
                bbox=dict(boxstyle="round,pad=0.4", fc="white", ec="0.3"))
    start, end = (3.75, 0.25) if backward else (0.25, 3.75)
    for up, colour, label, y in ((True, PATH1, labels[0], 1.05), (False, PATH2, labels[1], -1.05)):
        rad = (0.45 if backward else -0.45) * (1 if up else -1)
        ax.annotate("", xy=(end, 0), xytext=(start, 0),
                    arrowprops=dict(arrowstyle="-|>", color=colour, lw=2, mutation_scale=14,
                                    connectionstyle=f"arc3,rad={rad}"))
        ax.text(2, y, label, ha="center", va="center", color=colour, fontsize=11,
                family="monospace" if backward else None)
    ax.text(2, 0, centre, ha="center", va="center", family="monospace", fontsize=11)
    plt.show()


def draw_softmax_shift(z, titles, decimal=".", places=3):
    """The rows `z` [r, c], an arrow "softmax →" and their softmax; shows it.

    Each panel has its own colour scale (probabilities would look blank on the scale of the logits),
    and the probabilities are written with `places` decimals, so they read alike. `titles`: the two
    panels' (from tr()); `decimal`: the decimal mark.
    """
    import torch
    z = torch.as_tensor(z, dtype=torch.float32)
    r, c = z.shape
    x_p = c + 2.8
    fig, ax = canvas(x_p + 1.6 * c, rows=r, top=1.9)
    draw_matrix_wide(ax, z, 0, titles[0], cell=1, decimal=decimal)
    ax.text(c + 1.4, -r / 2, "softmax →", ha="center", va="center", fontsize=11)
    _scale(ax)["cells"].clear()  # the logits keep their colours; the probabilities get a scale of their own
    draw_matrix_wide(ax, z.softmax(1), x_p, titles[1], cell=1.6, decimal=decimal, places=places)
    plt.show()


def draw_max_routing(z, dm, heading, upstream="", dz=None):
    """The max of each row of `z` [r, c], with the cell it picks outlined, and its gradient; shows it.

    Without `dz`, the forward pass: `z` → its row maxima `m` [r, 1], and beside them the upstream
    gradient `dm` [r, 1], captioned `upstream`. With `dz` (the gradient of `z`), the backward pass, read
    from right to left: `dz` ← `dm`. Both figures share one colour scale (the largest |value| of `z` and
    `dm`), so they can be compared. `heading`: the text above (from tr()).
    """
    import torch
    z = torch.as_tensor(z, dtype=torch.float32).detach()
    dm = torch.as_tensor(dm, dtype=torch.float32).detach().reshape(-1, 1)
    r, c = z.shape
    top = z.max(1)
    picked = [(i, int(j)) for i, j in enumerate(top.indices)]
    vmax = max(z.abs().max().item(), dm.abs().max().item())
    if dz is None:
        fig, ax = canvas(c + 7, rows=r, top=2.2, vmax=vmax)
        draw_matrix_wide(ax, z, 0, f"z  [{r}, {c}]", cell=1, outline=picked, lw=3)
        ax.text(c + 1, -r / 2, "max →", ha="center", va="center", fontsize=11)
        draw_matrix_wide(ax, top.values.unsqueeze(1), c + 2, f"m  [{r}, 1]", cell=1)
        # a line keeps the forward pass (left) apart from the upstream gradient, which belongs to the backward
        ax.plot([c + 4.25] * 2, [-r - 0.2, 2.0], color="lightgrey")
        draw_matrix_wide(ax, dm, c + 5.5, f"dm  [{r}, 1]", cell=1)
        ax.text((c + 3) / 2, 1.1, heading, ha="center", fontsize=11)
        ax.text(c + 6, 1.1, upstream, ha="center", fontsize=11)
    else:
        fig, ax = canvas(c + 4, rows=r, top=2.2, vmax=vmax)
        # + 0.0 writes 0 instead of −0 (the product of 0 and a negative number)
        draw_matrix_wide(ax, torch.as_tensor(dz).detach().float() + 0.0, 0, f"dz  [{r}, {c}]", cell=1,
                         outline=picked, lw=3)
        ax.text(c + 1.25, -r / 2, "←", ha="center", va="center", fontsize=16)
        draw_matrix_wide(ax, dm, c + 2.5, f"dm  [{r}, 1]", cell=1)
        ax.text((c + 4) / 2, 1.1, heading, ha="center", fontsize=11)
    plt.show()


# --- lesson 10: where the time of one step goes, line by line ------------------------------

def draw_line_times(times_us, price_us, texts, colours=None, legend=None, figsize=(9, 7.5)):
    """One horizontal bar per line of code: its time in µs (`times_us` maps the line's label to µs), in code order,
    top to bottom, the value written at the end of each bar; a dashed vertical line at `price_us`, the fixed cost
    of one empty operation. `texts`: x label, the dashed line's label. `colours`: one colour per bar;
    `legend`: {text: colour} for the groups of bars (the caller's texts, from tr()).
    """
    from matplotlib.patches import Patch
    xlabel, price_label = texts
    names = list(times_us)
    fig, ax = plt.subplots(figsize=figsize)
    rows = range(len(names))
    ax.barh(rows, [times_us[n] for n in names], color=colours or "tab:blue", height=0.7)
    for row, name in zip(rows, names):
        ax.text(times_us[name] + 0.6, row, f"{times_us[name]:.0f}", va="center", fontsize=10)
    ax.axvline(price_us, color="tab:red", lw=1.3, linestyle="--")
    handles = [plt.Line2D([], [], color="tab:red", lw=1.3, linestyle="--", label=price_label)]
    handles += [Patch(color=c, label=t) for t, c in (legend or {}).items()]
    ax.set_yticks(list(rows), names, fontsize=10, family="monospace")
    ax.invert_yaxis()
    ax.set_xlim(0, max(times_us.values()) * 1.12)
    ax.set_xlabel(xlabel, fontsize=11)
    ax.tick_params(axis="x", labelsize=10)
    ax.legend(handles=handles, fontsize=10, loc="lower right", frameon=False)
    ax.grid(axis="x", color="0.9")
    fig.tight_layout()
    plt.show()




# --- lesson 02: a coloured matrix with wider cells, for numbers with decimals ------------------------
#
#     draw_matrix_wide(ax, b - 0.1 * db_nokeep, 10.2, "[3, 3]", decimal=tr(",", "."), outline=[(0, 0), (1, 1)])

def draw_matrix_wide(ax, M, x0, title, cell=1.5, decimal=".", outline=(), lw=2, ghost_cols=(), places=None,
                     own_scale=False):
    """`draw_matrix` with cells `cell` units wide, on the axes' shared colour scale, for numbers like −2.7.

    Values get up to 3 significant digits, the decimal mark `decimal` (tr(",", ".")) and a typographic
    minus; `outline` is [(row, col)] of cells to frame (line width `lw`); columns `ghost_cols` are drawn
    as broadcast copies (light, dashed), as in `draw_matrix`. With `places`, every value is written with
    that many decimals instead (0.710, 0.077, 0.398), so numbers of different sizes read alike.
    With `own_scale=True` the panel leaves the shared scale and gets its own (its largest |value|),
    for panels whose numbers differ in size by a factor of ten or more. Returns the x just right of it.
    """
    M = M.detach().float()
    if M.dim() == 1:
        M = M.unsqueeze(0)
    scale = _scale(ax)
    own = {"vmax": max(abs(M).max().item(), 1e-12), "cells": []}
    for i in range(M.shape[0]):
        for j in range(M.shape[1]):
            value = M[i, j].item()
            ghost = j in ghost_cols
            patch = plt.Rectangle((x0 + j * cell, -i - 1), cell, 1, edgecolor="grey", alpha=0.3 if ghost else 1.0,
                                  linestyle="--" if ghost else "-")
            ax.add_patch(patch)
            (own if own_scale else scale)["cells"].append((patch, value))
            shown = (_shown(round(value, 6), decimal) if places is None
                     else f"{value:.{places}f}".replace(".", decimal).replace("-", "−"))
            ax.text(x0 + (j + 0.5) * cell, -i - 0.5, shown, ha="center", va="center",
                    fontsize=11, color="grey" if ghost else "black")
    for i, j in outline:
        ax.add_patch(plt.Rectangle((x0 + j * cell + 0.05, -i - 1 + 0.05), cell - 0.1, 0.9, fill=False,
                                   edgecolor="black", lw=lw, zorder=3))
    ax.text(x0 + M.shape[1] * cell / 2, 0.2, title, ha="center", va="bottom", fontsize=11)
    for patch, value in own["cells"]:
        patch.set_facecolor(plt.get_cmap(CMAP)(0.5 + 0.4 * max(-1.0, min(1.0, value / own["vmax"]))))
    _recolour(ax)
    return x0 + M.shape[1] * cell


# --- lesson 02: three figures of the lesson, each drawn and shown by one call -----------------------------
#
#     draw_bias_round_trip(bias, dz, (tr("avanti: …", "forward: …"), tr("indietro: …", "backward: …")),
#                          tr("copie", "copies"), tr("Σ colonna per colonna", "Σ column by column"))
#     draw_sum_duality(x, ds, (tr("avanti: …", "forward: …"), tr("indietro: …", "backward: …")),
#                      tr("Σ riga per riga", "Σ row by row"))
#     draw_probs_crop(counts, counts_sum_inv, probs, tr("…", "…"), tr("…", "…"), decimal=tr(",", "."))

def _with_shape(name, M):
    return f"{name}  [{', '.join(str(n) for n in M.shape)}]"


def draw_broadcast_product(a, other, product, titles, ghost_cols=(), ghost_rows=()):
    """Lesson 02's picture of `a * other`: `a`, `other` replicated by broadcasting (copies dashed), the product.

    `other` is the already expanded tensor (`b.expand(3, 3)`), so the copies can be
    drawn; `titles` are the three matrices' titles. One colour scale for all three.
    """
    fig, ax = canvas(11)
    draw_matrix(ax, a, 0, titles[0])
    ax.text(3.5, -1.5, "×", ha="center", va="center", fontsize=16)
    draw_matrix(ax, other, 4, titles[1], ghost_cols=ghost_cols, ghost_rows=ghost_rows)
    ax.text(7.5, -1.5, "=", ha="center", va="center", fontsize=16)
    draw_matrix(ax, product, 8, titles[2])
    plt.show()


def draw_bias_round_trip(bias, dz, headings, copies, note):
    """Forward, the 1-D `bias` [c], an arrow and its m copies; backward, `dz` [m, c] and, under it, its
    column sums dz.sum(0) [c]; one colour scale; shows it. Texts from tr(): `headings` (forward, backward),
    `copies` (the copies' title, before their shape), `note` (beside the sum)."""
    m, c = dz.shape
    xd = 2 * c + 3.5
    fig, ax = canvas(xd + c + 3.7, rows=m + 2, top=2.2)
    ax.text(c + 0.6, 1.1, headings[0], ha="center", va="bottom", fontsize=11)
    ax.text(xd + c / 2 + 1.4, 1.1, headings[1], ha="center", va="bottom", fontsize=11)
    draw_matrix(ax, bias, 0, _with_shape("bias", bias))
    ax.annotate("", xy=(c + 1.1, -0.5), xytext=(c + 0.2, -0.5), arrowprops=dict(arrowstyle="->", color="grey"))
    draw_matrix(ax, bias.expand(m, c), c + 1.2, f"{copies}  [{m}, {c}]", ghost_rows=range(1, m))
    ax.plot([2 * c + 2.2] * 2, [-m - 2.6, 2.0], color="lightgrey")
    draw_matrix(ax, dz, xd, _with_shape("dz", dz))
    for j in range(c):
        ax.annotate("", xy=(xd + 0.5 + j, -m - 0.95), xytext=(xd + 0.5 + j, -m - 0.05),
                    arrowprops=dict(arrowstyle="->", color="grey"))
    ax.text(xd + c + 0.2, -m - 0.5, note, ha="left", va="center", fontsize=11)
    draw_matrix_at(ax, dz.sum(0), xd, -m - 1.0, "")
    ax.text(xd + c + 0.2, -m - 1.5, f"dbias  [{c}]", ha="left", va="center", fontsize=11)
    plt.show()


def draw_sum_duality(x, ds, headings, note):
    """Forward, `x` [m, c] summed row by row into s [m, 1]; backward, the column `ds` [m, 1] replicated into
    dx [m, c] (ghost columns); one colour scale; shows it. Texts from tr(): `headings` (forward, backward),
    `note` (under the sum's arrows)."""
    x, ds = x.detach().float(), ds.detach().float()
    m, c = x.shape
    s, dx = x.sum(1, keepdim=True), ds.expand(m, c)
    fig, ax = canvas(2 * c + 7.8, top=2.2)
    ax.text(c - 0.25, 1.2, headings[0], ha="center", va="bottom", fontsize=11)
    ax.text(c + 8.0, 1.2, headings[1], ha="center", va="bottom", fontsize=11)
    draw_matrix(ax, x, 0, _with_shape("x", x))
    for i in range(m):
        ax.annotate("", xy=(c + 2.4, -i - 0.5), xytext=(c + 0.2, -i - 0.5),
                    arrowprops=dict(arrowstyle="->", color="grey"))
    ax.text(c + 1.3, -m - 0.15, note, ha="center", va="top", fontsize=10)
    draw_matrix(ax, s, c + 2.5, _with_shape("s", s))
    ax.plot([c + 4.1] * 2, [-m - 0.4, 2.2], color="lightgrey")
    draw_matrix(ax, ds, c + 4.75, _with_shape("ds", ds))
    for i in range(m):
        ax.annotate("", xy=(c + 7.15, -i - 0.5), xytext=(c + 5.95, -i - 0.5),
                    arrowprops=dict(arrowstyle="->", color="grey"))
    draw_matrix(ax, dx, c + 7.25, _with_shape("dx", dx), ghost_cols=range(1, c))
    plt.show()


def draw_probs_crop(counts, counts_sum_inv, probs, heading, note, decimal=".", k=3):
    """`probs = counts * counts_sum_inv` on a crop: the first `k` rows (and `k` columns of counts and probs),
    values with 3 decimals, each panel on its own colour scale; shows it. Texts from tr(): `heading` (what the
    crop is) and, under it, `note` (that the colours do not compare across panels)."""
    fig, ax = canvas(5.6 * k, top=2.2)
    ax.text(2.8 * k, 1.2, f"{heading}\n{note}", ha="center", va="bottom", fontsize=11)
    options = dict(cell=1.6, decimal=decimal, places=3, own_scale=True)
    right = draw_matrix_wide(ax, counts[:k, :k], 0, _with_shape("counts", counts), **options)
    ax.text(right + 0.6, -1.5, "×", ha="center", va="center", fontsize=16)
    right = draw_matrix_wide(ax, counts_sum_inv[:k].expand(k, k), right + 1.2,
                             _with_shape("counts_sum_inv", counts_sum_inv), ghost_cols=range(1, k), **options)
    ax.text(right + 0.6, -1.5, "=", ha="center", va="center", fontsize=16)
    draw_matrix_wide(ax, probs[:k, :k], right + 1.2, _with_shape("probs", probs), **options)
    plt.show()


# --- lesson 07: the cross-entropy's eight-step chain against its one-jump formula -----------------------
#
#     draw_cross_entropy_routes(tr("lezioni 01–03: …", "lessons 01–03: …"), tr("questa lezione: …", "this lesson: …"))

def draw_cross_entropy_routes(chain_legend, jump_legend,
                              jump_label="$(\\mathrm{softmax}(\\mathrm{logits}) - \\mathrm{onehot}(Y_b))\\,/\\,n$"):
    """The two backward routes from `loss` to `logits`, drawn with draw_paths_graph, and show them.

    Grey: the chain of lessons 01–03, each arrow numbered with the gradient it feeds, in the order they are
    computed (dlogprobs 1 … dlogits 8; dcounts and dlogits are fed by two arrows each, so 5 and 8 appear
    twice); the path through logit_maxes dashed. PATH1: the single jump, labelled `jump_label`.
    Legend texts are the caller's (tr()).
    """
    nodes = {"loss": (18, 0), "logprobs": (16.3, 2), "probs": (13.8, 2), "counts_sum_inv": (12, 3.4),
             "counts_sum": (8.4, 3.4), "counts": (6.6, 2), "norm_logits": (3.4, 2), "logit_maxes": (1.4, 3.4),
             "logits": (0, 0)}
    chain = (("loss", "logprobs", "1"), ("logprobs", "probs", "2"), ("probs", "counts_sum_inv", "3"),
             ("counts_sum_inv", "counts_sum", "4"), ("probs", "counts", "5"), ("counts_sum", "counts", "5"),
             ("counts", "norm_logits", "6"), ("norm_logits", "logit_maxes", "7"), ("norm_logits", "logits", "8"),
             ("logit_maxes", "logits", "8"))
    edges = [(src, dst, number, OTHER, {"dashed": "logit_maxes" in (src, dst)}) for src, dst, number in chain]
    edges.append(("loss", "logits", jump_label, PATH1, {"va": "top", "offset": (0, -6)}))
    draw_paths_graph(nodes, edges, {OTHER: chain_legend, PATH1: jump_legend}, figsize=(12.5, 4.2), fontsize=11)


# --- the left factor's gradient: a row of B is a column of B.T (the mirror of draw_transpose_product) --
#
#     draw_transpose_product_left(dP, B, (1, 0), ("dA = dP @ B.T", "dP", "B.T", "B"), (tr(…), tr(…), tr(…)))

def draw_transpose_product_left(dP, B, index, titles, legend):
    """Draw `dA = dP @ B.T`, then `B` on the right with an arrow `.T` back to `B.T`; frame one element; show it.

    index (i, k): row k of B (dashed green) is column k of B.T (dashed green), which pairs with row i
    of dP (orange) to give da_ik (black) — a row times a column, as in every matrix product.
    `titles`: the four matrices' titles (dA, dP, B.T, B); `legend`: the meanings of the black, orange and
    green frames, in that order (the caller's text, from tr(); mathtext allowed).
    """
    dP, B = dP.detach().float(), B.detach().float()
    Bt = B.T
    dA = dP @ Bt
    i, k = index
    (m, n), kk = dP.shape, B.shape[0]
    xd = kk + 1.4
    xt = xd + n + 1.4
    xb = xt + kk + 2.6
    width = xb + n + 0.8
    rows = max(m, n, kk)
    line_counts = [text.count("\n") + 1 for text in legend]
    depth = rows + 0.5 + sum(0.3 + 0.45 * lines for lines in line_counts)
    fig, ax = canvas(width, rows=depth - 0.9)
    for x, M, title in ((0, dA, titles[0]), (xd, dP, titles[1]), (xt, Bt, titles[2]), (xb, B, titles[3])):
        _plain_matrix(ax, M, x, 0.0, title)
    ax.text(xd - 0.7, -rows / 2, "=", ha="center", va="center", fontsize=16)
    ax.text(xt - 0.7, -rows / 2, "@", ha="center", va="center", fontsize=16)
    ax.annotate("", xy=(xt + kk + 0.3, -rows / 2), xytext=(xb - 0.3, -rows / 2),
                arrowprops=dict(arrowstyle="->", color="0.4", lw=1.5))
    ax.text((xt + kk + xb) / 2, -rows / 2 + 0.35, ".T", ha="center", va="bottom", fontsize=12, color="0.3")
    _frame(ax, xb, 0, [k], range(n), PARTNER_STYLE)
    _frame(ax, xt, 0, range(n), [k], PARTNER_STYLE)
    _frame(ax, xd, 0, [i], range(n), USES_STYLE)
    _frame(ax, 0, 0, [i], [k], ELEMENT_STYLE)
    _style_legend(ax, legend, line_counts, -rows - 0.5)
    plt.show()


# --- lesson 00: where tanh saturates, and where a batch's pre-activations fall ---
#
#     draw_tanh_bands(hpreact, hprebn, (tr("|x| > 3: tanh satura", "|x| > 3: saturated tanh"), …))

def draw_tanh_bands(after, before, texts, edge=3.0, limit=6.5):
    """tanh and its local derivative 1 − tanh² x, the bands |x| > `edge` in grey (top); the histograms of the
    entries of `after` (filled, e.g. hpreact) and of `before` (outlined, e.g. hprebn) on the same x axis
    (bottom); shows the figure. `texts` are the caller's, from tr(): the grey bands' label, the two titles
    (top, bottom), the bottom's y label, and the labels of `after` and `before`. Decimal marks follow the
    current language (the annotated value of 1 − tanh² at `edge` too).
    """
    import torch
    from handgrad.i18n import get_language
    band, top_title, bottom_title, ylabel, after_label, before_label = texts
    mark = "," if get_language() == "it" else "."
    x = torch.linspace(-limit, limit, 261)
    d = 1 - torch.tanh(torch.tensor(edge)) ** 2
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8.5, 5.5), sharex=True, height_ratios=[3, 2])
    for ax in (top, bottom):
        ax.axvspan(-limit, -edge, color="0.88")
        ax.axvspan(edge, limit, color="0.88", label=band)
        decimal_comma(ax, mark)
    top.plot(x, torch.tanh(x), label="tanh x")
    top.plot(x, 1 - torch.tanh(x) ** 2, label="1 − tanh² x")
    top.axhline(0, color="0.7", lw=0.8)
    top.plot([edge], [d], "o", color="C1")
    top.annotate(f"1 − tanh² {edge:g} ≈ {d.item():.4f}".replace(".", mark), xy=(edge, d),
                 xytext=(edge - 0.8, 0.45), fontsize=10, arrowprops=dict(arrowstyle="->", color="0.3"))
    top.set_title(top_title, fontsize=11)
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=10)
    bins = dict(bins=104, range=(-limit, limit))
    bottom.hist(after.detach().flatten(), color="C2", label=after_label, **bins)
    bottom.hist(before.detach().flatten(), color="C3", histtype="step", lw=1.5, label=before_label, **bins)
    bottom.set_title(bottom_title, fontsize=11)
    bottom.set_ylabel(ylabel, fontsize=11)
    bottom.set_xlabel("x", fontsize=11)
    bottom.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=10)
    bottom.set_xlim(-limit, limit)
    plt.tight_layout()
    plt.show()
