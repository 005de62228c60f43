"""What an exercise cell does besides computing a gradient, read from its code (never run).

Three kinds of flags:

    autograd  the answer may be autograd's own: `.grad`, `.backward()`,
              `torch.autograd`, `torch.func`, the value `cmp` hands back,
              `getattr(t, "grad")`... The exercise is not scored; the
              teacher sees why.
    tamper    the cell changes how answers are checked: it redefines `cmp`,
              patches torch, torch.Tensor, F or handgrad, or prints a row
              that looks like cmp's. The grader never trusts the kernel's
              checks, so this earns nothing; it is shown to the teacher.
    review    code a gradient never needs (files, processes, exec, imports
              of os/sys/...): flagged for the teacher, scored as usual.

A cell that uses a name an earlier autograd-flagged cell computed (and that
the grader does not reset) is flagged too: `g = probs.grad` in one cell,
`dprobs = g` in the next, is still autograd's answer.

This is a guard against the usual shortcuts, not a sandbox: the grader's own
comparison, made outside the learner's process, is what the points rest on.
"""
import ast
from dataclasses import dataclass

from .course import python

AUTOGRAD_ATTRS = {"grad", "_grad", "grad_fn", "_grad_fn", "backward", "retain_grad", "register_hook",
                  "register_post_accumulate_grad_hook", "_backward_hooks"}
AUTOGRAD_MODULES = {"autograd", "func", "functorch", "_functorch"}
CHECK_NAMES = {"cmp", "check_shape"}
PATCHABLE = {"torch", "F", "nn", "functional", "handgrad", "np", "numpy", "plt", "math", "builtins", "__builtins__",
             "cmp", "check_shape", "Tensor"}
ROW_MARKS = ("✅", "❌", "⏳", "exact:", "maxdiff")
REVIEW_MODULES = {"os", "sys", "subprocess", "shutil", "pathlib", "socket", "threading", "multiprocessing", "signal",
                  "ctypes", "pickle", "marshal", "importlib", "inspect", "gc", "builtins", "io", "tempfile", "glob",
                  "resource", "psutil", "IPython", "handgrad", "nbformat", "asyncio", "concurrent", "dill", "code",
                  "codeop", "runpy", "atexit", "mmap", "requests", "urllib", "http", "operator", "types", "weakref",
                  "_thread", "shelve", "sqlite3", "zipfile", "tarfile"}
REVIEW_SUBMODULES = ("torch.multiprocessing", "torch.utils", "torch.hub", "torch.serialization", "numpy.lib")
FILE_CALLS = {"save", "load", "savez", "savetxt", "loadtxt", "tofile", "fromfile", "write_text", "write_bytes",
              "read_text", "read_bytes", "memmap", "from_file"}
REVIEW_CALLS = {"exec", "eval", "compile", "__import__", "open", "vars", "globals", "locals", "breakpoint", "input",
                "get_ipython", "attrgetter", "methodcaller"}
PATCH_CALLS = {"setattr", "delattr"}
DUNDERS = {"__dict__", "__class__", "__subclasses__", "__globals__", "__code__", "__builtins__", "__getattribute__",
           "__reduce__", "__reduce_ex__", "__closure__", "__mro__", "__bases__", "f_globals", "f_back", "f_locals",
           "gi_frame", "__self__", "__func__", "__wrapped__", "__setattr__"}


@dataclass(frozen=True)
class Flag:
    kind: str  # "autograd", "tamper" or "review"
    what: str  # the code that raised it, short
    line: int
    via: str = ""  # for an answer built from an earlier flagged cell: that exercise's grade id


def _dotted(node):
    """`torch.Tensor.__eq__` for an attribute chain, with `(…)` for a call in it; the root name separately."""
    parts = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Call):
            parts.append("(…)")
            node = node.func
        elif isinstance(node, ast.Subscript):
            parts.append("[…]")
            node = node.value
        else:
            break
    root = node.id if isinstance(node, ast.Name) else None
    text = (root or "…") + "".join(p if p in ("(…)", "[…]") else "." + p for p in reversed(parts))
    return text, root, parts


def _short(text, width=40):
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[:width - 1] + "…"


class _Scanner(ast.NodeVisitor):
    def __init__(self):
        self.flags = []
        self.patchable = set(PATCHABLE)
        self.bare_calls = set()

    def flag(self, kind, what, node):
        self.flags.append(Flag(kind, _short(what), getattr(node, "lineno", 0)))

    def visit_Module(self, node):
        for statement in ast.walk(node):
            if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
                self.bare_calls.add(id(statement.value))
        self.generic_visit(node)

    def _bind(self, name, node):
        if name in CHECK_NAMES:
            self.flag("tamper", f"{name} = …", node)

    def visit_Name(self, node):
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self._bind(node.id, node)

    def visit_FunctionDef(self, node):
        self._bind(node.name, node)
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        self._bind(node.name, node)
        self.generic_visit(node)

    def visit_Assign(self, node):
        # `T = torch.Tensor`: T is now as patchable as torch.Tensor
        if isinstance(node.value, (ast.Attribute, ast.Name)):
            _, root, _ = _dotted(node.value)
            if root in self.patchable:
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.patchable.add(target.id)
        self.generic_visit(node)

    def _import(self, module, names, node):
        top = module.split(".")[0]
        if top in ("functorch", "_functorch") or module.startswith(("torch.autograd", "torch.func", "torch._functorch")) \
                or (module == "torch" and any(n in AUTOGRAD_MODULES for n, _ in names)):
            self.flag("autograd", f"import {module}", node)
        elif top in REVIEW_MODULES or module.startswith(REVIEW_SUBMODULES):
            self.flag("review", f"import {module}", node)
        for name, alias in names:
            bound = alias or name.split(".")[0]
            self._bind(bound, node)
            if top in PATCHABLE or name in PATCHABLE:
                self.patchable.add(bound)

    def visit_Import(self, node):
        for alias in node.names:
            self._import(alias.name, [(alias.name, alias.asname)], node)

    def visit_ImportFrom(self, node):
        self._import(node.module or "", [(a.name, a.asname) for a in node.names], node)

    def visit_Attribute(self, node):
        text, root, parts = _dotted(node)
        if node.attr in AUTOGRAD_ATTRS:
            self.flag("autograd", f".{node.attr}", node)
        elif node.attr in AUTOGRAD_MODULES and (root == "torch" or "torch" in parts):
            self.flag("autograd", text, node)
        elif node.attr in DUNDERS or (node.attr in ("multiprocessing", "hub", "serialization") and root == "torch"):
            self.flag("review", text, node)
        if isinstance(node.ctx, (ast.Store, ast.Del)) and (root in self.patchable or "Tensor" in parts):
            self.flag("tamper", f"{text} = …", node)
        self.generic_visit(node)

    def visit_Subscript(self, node):
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            text, root, parts = _dotted(node.value)
            if text in ("globals(…)", "locals(…)", "vars(…)", "sys.modules", "__builtins__", "builtins.__dict__") \
                    or root in ("__builtins__",):
                self.flag("tamper", f"{text}[…] = …", node)
        self.generic_visit(node)

    def visit_Call(self, node):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if name == "cmp" and id(node) not in self.bare_calls:
            self.flag("autograd", "= cmp(…)", node)
        if name in ("getattr", "hasattr", "attrgetter") and len(node.args) >= (2 if name != "attrgetter" else 1):
            attr = node.args[1 if name != "attrgetter" else 0]
            if isinstance(attr, ast.Constant) and isinstance(attr.value, str):
                if set(attr.value.split(".")) & (AUTOGRAD_ATTRS | AUTOGRAD_MODULES):
                    self.flag("autograd", f"{name}(…, {attr.value!r})", node)
                elif attr.value.startswith("__") or name == "attrgetter":
                    self.flag("review", f"{name}(…, {attr.value!r})", node)
            else:
                self.flag("review", f"{name}(…)", node)
        elif isinstance(func, ast.Name) and func.id in PATCH_CALLS:
            self.flag("tamper", f"{func.id}(…)", node)
        elif isinstance(func, ast.Name) and func.id in REVIEW_CALLS:
            self.flag("review", f"{func.id}(…)", node)
        elif isinstance(func, ast.Attribute) and func.attr in ("system", "run_line_magic", "run_cell_magic", "getoutput"):
            self.flag("review", _dotted(func)[0] + "(…)", node)
        elif isinstance(func, ast.Attribute) and func.attr in FILE_CALLS:  # files: torch.save, np.load, ...
            self.flag("review", _dotted(func)[0] + "(…)", node)
        self.generic_visit(node)

    def visit_Constant(self, node):
        if isinstance(node.value, str) and any(mark in node.value for mark in ROW_MARKS):
            self.flag("tamper", repr(node.value), node)


def _tree(source):
    try:
        return ast.parse(python(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def scan(source):
    """The flags of one cell, in order of line, each (kind, what) once."""
    tree = _tree(source)
    if tree is None:
        return []
    scanner = _Scanner()
    try:
        scanner.visit(tree)
    except RecursionError:
        return [Flag("review", "code nested too deep to read", 1)]
    seen, flags = set(), []
    for flag in sorted(scanner.flags, key=lambda f: f.line):
        if (flag.kind, flag.what) not in seen:
            seen.add((flag.kind, flag.what))
            flags.append(flag)
    return flags


def usage(source):
    """(names bound, attributes stored, names loaded (with their line), attributes loaded) by a cell."""
    tree = _tree(source)
    bound, stored, loaded, read = set(), set(), {}, {}
    if tree is None:
        return bound, stored, loaded, read
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Store):
                bound.add(node.id)
            else:
                loaded.setdefault(node.id, node.lineno)
        elif isinstance(node, ast.Attribute):
            if isinstance(node.ctx, ast.Store):
                stored.add(node.attr)
            else:
                read.setdefault(node.attr, node.lineno)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
            root = node.value
            while isinstance(root, (ast.Subscript, ast.Attribute)):
                root = root.value
            if isinstance(root, ast.Name):
                bound.add(root.id)  # `stash[0] = probs.grad` taints stash
    return bound, stored, loaded, read


def scan_exercises(cells, restored):
    """The flags of each exercise cell, in order: `cells` is [(grade_id, source)], `restored[k]` the names reset before k."""
    tainted, tainted_attrs, result = {}, {}, []
    for k, (grade_id, source) in enumerate(cells):
        flags = scan(source)
        bound, stored, loaded, read = usage(source)
        if not any(f.kind == "autograd" for f in flags):
            via = [(name, line, tainted[name]) for name, line in loaded.items()
                   if name in tainted and name not in restored[k]]
            via += [(f".{attr}", line, tainted_attrs[attr]) for attr, line in read.items() if attr in tainted_attrs]
            if via:
                name, line, origin = min(via, key=lambda v: v[1])
                flags.append(Flag("autograd", name, line, via=origin))
        if any(f.kind == "autograd" for f in flags):
            for name in bound:
                tainted[name] = grade_id
            for attr in stored:
                tainted_attrs[attr] = grade_id
        result.append(flags)
    return result
