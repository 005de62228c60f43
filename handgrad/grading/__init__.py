"""The pieces of `python -m handgrad.grade` (see handgrad/grade.py for the whole story).

course   what a lesson asks: its exercises, their check cells, the notebooks the grader runs
scan     what an exercise cell does that a gradient does not need (autograd, tampering)
kernel   runs inside the kernel: snapshots, resets and captures of the names of an exercise
worker   a standalone script: one notebook, one kernel, limits, timeouts, restarts
run      the grader's side of a run: starts the worker, reads back what the kernel left
report   the gradebook (CSV, written atomically, resumable) and the feedback pages (HTML)

This file imports nothing, so that a kernel can import `handgrad.grading.kernel` alone.
"""
