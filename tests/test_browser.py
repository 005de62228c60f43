"""The course in JupyterLab, in a real browser, as a learner meets it.

`make test-browser` (the last step of `make test`) runs this file. It starts the
server with `make lab` itself, adding a free loopback port, a token, and config,
runtime, data, settings and workspace folders of its own; it drives Debian's
Chromium, headless, with Playwright; and in one Lab tab, for one lesson in each
language, it does what a learner does:

- opens the student notebook from the file browser, Restart Kernel and Run All:
  every check says "to do", no error output, a collapsible hint opens on a click;
- goes up to the course folder and opens the matching solution: every check
  says "done".

Screenshots of the notebook panel go to build/browser/. The server and every
kernel it started are stopped at the end, also when a test fails.
Without Chromium the tests are skipped with the reason, except in CI (CI set),
where that is a failure: .ci/run installs Chromium.
"""
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import psutil
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from conftest import REPO

if os.environ.get("HANDGRAD_BROWSER_TEST") != "1":
    pytest.skip("the browser test runs in `make test-browser`, the last step of `make test`",
                allow_module_level=True)

SHOTS = REPO / "build" / "browser"
LANGUAGES = ("en", "it")
# The words after the status emoji: they alone must tell the status (without an emoji font, the emoji are boxes).
TODO = {"en": "to do", "it": "da fare"}
DONE = {"en": "done", "it": "fatto"}
WRONG = {"en": "wrong", "it": "sbagliato"}
# Debian's Chromium, started as the machine notes say; Playwright's own browser download does not work here.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 900}
# What the test's Lab must not do: ask about the news, check for updates, save the notebooks it runs.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
}
SERVER_START_SECONDS = 120
RUN_TIMEOUT_MS = 120_000


def pick_lesson():
    """01_dlogprobs, small and quick; another lesson only if it has a collapsible hint and 01 has none."""
    def has_hint(stem):
        paths = [REPO / "notebooks" / lang / f"{stem}.ipynb" for lang in LANGUAGES]
        return all(p.exists() and "<details" in p.read_text(encoding="utf-8") for p in paths)
    if has_hint("01_dlogprobs"):
        return "01_dlogprobs"
    stems = sorted(p.stem for p in (REPO / "notebooks" / "en").glob("*.ipynb") if not p.stem.startswith("00"))
    return next((s for s in stems if has_hint(s)), "01_dlogprobs")


LESSON = os.environ.get("HANDGRAD_BROWSER_LESSON") or pick_lesson()  # e.g. 03_accumulation, to try another


CHROMIUM = os.environ.get("HANDGRAD_CHROMIUM") or shutil.which("chromium")
if not CHROMIUM:
    _reason = ("Chromium is not installed, so the course was not tried in a browser: "
               "`apt-get install chromium fonts-noto-color-emoji` (Debian) installs it, as .ci/run does")
    if os.environ.get("CI"):
        pytest.fail(_reason + ". In CI the browser test must run.", pytrace=False)
    pytest.skip(_reason, allow_module_level=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """JupyterLab started by `make lab`, in a process group of its own, with folders of its own."""

    def __init__(self, home):
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / "server.log"
        env = dict(os.environ)
        for name in ("HANDGRAD_STRICT", "NBGRADER_EXECUTION", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
            env.pop(name, None)  # a learner's Lab, not the strict mode of `make test`
        for name, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                          ("JUPYTER_DATA_DIR", "data"), ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                          ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("IPYTHONDIR", "ipython")):
            (home / sub).mkdir()
            env[name] = str(home / sub)
        for plugin, values in LAB_SETTINGS.items():
            path = home / "settings" / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        lab_args = (f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={self.port} "
                    f"--ServerApp.port_retries=0 --IdentityProvider.token={self.token}")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [os.environ.get("MAKE", "make"), "-s", "--no-print-directory", "-C", str(REPO), "lab",
             f"LAB_ARGS={lab_args}"],
            env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def api(self, path, method="GET"):
        request = urllib.request.Request(self.url + path, method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self):
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-3000:]

    def wait_ready(self):
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"`make lab` exited with {self.proc.returncode}:\n{self.log_tail()}", pytrace=False)
            try:
                self.api("/api/status")
                return
            except OSError:
                time.sleep(0.25)
        pytest.fail(f"`make lab` did not answer in {SERVER_START_SECONDS}s:\n{self.log_tail()}", pytrace=False)

    def processes(self):
        """make, the server and its kernels (which run in sessions of their own, out of the group)."""
        try:
            root = psutil.Process(self.proc.pid)
            return [root] + root.children(recursive=True)
        except psutil.Error:
            return []

    def stop(self):
        """The server's API stops every kernel, then the server; signals to the group and to whatever
        process of it is left do the rest, whatever state the server is in."""
        started = self.processes()
        if self.proc.poll() is None:
            try:
                self.api("/api/shutdown", method="POST")
                self.proc.wait(20)
            except (OSError, subprocess.TimeoutExpired):
                pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.proc.poll() is not None:
                break
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        started = {p.pid: p for p in started + self.processes()}.values()
        _, alive = psutil.wait_procs([p for p in started if p.is_running()], timeout=10)
        for p in alive:
            p.kill()
        self.log.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    server = Lab(tmp_path_factory.mktemp("lab"))
    try:
        server.wait_ready()
        yield server
        assert server.proc.poll() is None, f"the server stopped during the test:\n{server.log_tail()}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def page(lab):
    """One Lab tab for the whole module, as a learner has; `?reset`: a new workspace, nothing reopened."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport=VIEWPORT)
            tab.set_default_timeout(60_000)
            tab.goto(f"{lab.url}/lab?reset&token={lab.token}")
            tab.locator(".jp-DirListing-item").first.wait_for()
            tab.landing = (crumbs(tab), listing(tab))
            tab.opened = set()
            yield tab
        finally:
            browser.close()


# ---- the file browser ------------------------------------------------------------------------------------

def crumbs(page):
    return page.locator(".jp-BreadCrumbs").inner_text().replace(" ", "").strip("/")


def listing(page):
    return set(page.locator(".jp-DirListing-content .jp-DirListing-itemName").all_inner_texts())


def item(page, name):
    return page.locator(".jp-DirListing-item").filter(
        has=page.locator(".jp-DirListing-itemName", has_text=re.compile(f"^{re.escape(name)}$")))


def open_notebook(page, start, *path):
    """Click the start of the path (`preferred`: notebooks/, `home`: the course), double-click down to a
    notebook; returns the id of its panel."""
    page.locator(f".jp-BreadCrumbs-{start}").click()
    *folders, notebook = path
    for folder in folders:
        arrived = (f"() => document.querySelector('.jp-BreadCrumbs').innerText"
                   f".replace(/\\s/g, '').replace(/\\/$/, '').endsWith('/{folder}')")
        for attempt in range(3):  # on a busy machine a double-click can land as a single click
            item(page, folder).dblclick()
            try:
                page.wait_for_function(arrived, timeout=20_000)
                break
            except PlaywrightTimeout:
                if page.evaluate(arrived):  # it got there just late
                    break
                if attempt == 2:
                    raise
    item(page, notebook).dblclick()
    handle = page.wait_for_function(
        "(known) => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden)')]"
        ".map(p => p.id).find(id => !known.includes(id))", arg=sorted(page.opened))
    panel_id = handle.json_value()
    page.opened.add(panel_id)
    return panel_id


# ---- inside a notebook panel ---------------------------------------------------------------------------

CELLS_JS = """(nb) => [...nb.querySelectorAll('.jp-Notebook .jp-Cell')].map(c => ({
  code: c.classList.contains('jp-CodeCell'),
  prompt: ((c.querySelector('.jp-InputArea-prompt') || {}).textContent || '').trim(),
  outputs: [...c.querySelectorAll('.jp-OutputArea-output')].map(o => ({mime: o.dataset.mimeType || '',
                                                                      text: o.textContent})),
}))"""

RUN_ALL_DONE_JS = """(nb) => {
  if (nb.querySelector('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
                       + ':not([data-before-run])')) return true;  // an error: no use waiting for the rest
  const prompts = [...nb.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')];
  return prompts.every((p, i) => p.textContent.trim() === `[${i + 1}]:`)
    && !nb.querySelector('.jp-OutputArea-output[data-before-run]');
}"""

# A line that the browser broke in two shows as more line boxes than the text has lines.
WRAPPED_JS = """(nb) => {
  const wrapped = [];
  for (const pre of nb.querySelectorAll('.jp-OutputArea-output pre')) {
    const lines = pre.textContent.replace(/\\n$/, '').split('\\n').length;
    const range = document.createRange();
    range.selectNodeContents(pre);
    const lineHeight = parseFloat(getComputedStyle(pre).lineHeight) || 16;
    const tops = [...range.getClientRects()].filter(r => r.width > 0).map(r => r.top).sort((a, b) => a - b);
    let boxes = 0, last = -Infinity;
    for (const top of tops) if (top - last > lineHeight / 2) { boxes += 1; last = top; }
    if (boxes > lines) wrapped.push(pre.textContent);
  }
  return wrapped;
}"""


class Notebook:
    """A notebook open in the Lab, its cells matched one to one with the .ipynb file's."""

    def __init__(self, page, panel_id, relpath, name):
        self.page, self.relpath, self.name = page, relpath, name
        self.css = f"#{panel_id}"
        self.panel = page.locator(self.css)
        self.tab = page.locator(f".lm-DockPanel-tabBar .lm-TabBar-tab[data-id='{panel_id}']")
        self.cells = json.loads((REPO / relpath).read_text(encoding="utf-8"))["cells"]
        self.seconds = None
        # Lab attaches the cells a few at a time, then the kernel starts
        self.wait(f"() => document.querySelectorAll('{self.css} .jp-Notebook .jp-Cell').length === {len(self.cells)}",
                  f"the Lab to show the {len(self.cells)} cells of {relpath} (was the file changed meanwhile?)")
        self.wait_idle()

    @contextlib.contextmanager
    def failing(self, doing):
        """A Playwright timeout says what was awaited; any failure leaves a screenshot."""
        try:
            yield
        except Exception as error:
            try:
                self.screenshot(self.name + "-failed")
            except Exception:
                pass
            if isinstance(error, PlaywrightTimeout):
                pytest.fail(f"{self.relpath}: timed out waiting for {doing}: {error}", pytrace=False)
            raise

    def wait(self, js, doing, timeout=None):
        with self.failing(doing):
            self.page.wait_for_function(js, arg=self.panel.element_handle(), polling=250,
                                        **({"timeout": timeout} if timeout else {}))

    def wait_idle(self):
        with self.failing("the kernel to be idle"):
            self.panel.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for()

    def restart_and_run_all(self):
        """Kernel → Restart Kernel and Run All Cells…, Restart, then wait for every code cell to run again."""
        start = time.monotonic()
        with self.failing("Kernel → Restart Kernel and Run All Cells… and its dialog"):
            # what the notebook showed before is marked: Run All replaces it
            self.panel.evaluate("nb => nb.querySelectorAll('.jp-OutputArea-output')"
                                ".forEach(o => o.setAttribute('data-before-run', ''))")
            self.panel.locator(".jp-Cell").first.click()  # Run All wants an active cell
            self.page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").click()
            self.page.locator(".lm-Menu-itemLabel", has_text="Restart Kernel and Run All Cells").click()
            dialog = self.page.locator(".jp-Dialog")
            dialog.locator("button.jp-mod-accept").click()
            dialog.wait_for(state="detached")
        self.wait(RUN_ALL_DONE_JS, "every code cell to run again", timeout=RUN_TIMEOUT_MS)
        self.wait_idle()
        self.seconds = time.monotonic() - start

    def screenshot(self, name):
        """The whole panel: the viewport grows until the notebook no longer scrolls inside it.

        Cells off screen have an estimated height until they are drawn, and MathJax typesets a moment
        later: the height is measured again until it holds still.
        """
        scroller = self.panel.locator(".jp-WindowedPanel-outer")
        measured = None
        for _ in range(20):
            hidden = scroller.evaluate("s => s.firstElementChild.offsetHeight - s.clientHeight")
            if -40 <= hidden <= 0 and hidden == measured:
                break
            measured = hidden
            if not -40 <= hidden <= 0:
                height = self.page.viewport_size["height"] + hidden + 20
                self.page.set_viewport_size({"width": VIEWPORT["width"],
                                             "height": max(VIEWPORT["height"], min(height, 30_000))})
            self.page.wait_for_timeout(250)
        scroller.evaluate("s => s.scrollTo(0, 0)")
        path = SHOTS / f"{name}.png"
        self.panel.screenshot(path=str(path), animations="disabled")
        self.page.set_viewport_size(VIEWPORT)
        return path

    def state(self):
        return self.panel.evaluate(CELLS_JS)

    def indices(self, kind):
        """The check cells (nbgrader grade cells) or the recap cell."""
        if kind == "check":
            return [i for i, c in enumerate(self.cells) if c["metadata"].get("nbgrader", {}).get("grade")]
        return [i for i, c in enumerate(self.cells) if kind in c["metadata"].get("tags", [])]

    def assert_clean(self, state):
        assert len(state) == len(self.cells)
        errors = [o["text"] for cell in state for o in cell["outputs"]
                  if o["mime"] == "application/vnd.jupyter.stderr"]
        assert not errors, f"{self.relpath}: error output in the Lab:\n" + "\n---\n".join(errors)
        prompts = [cell["prompt"] for cell in state if cell["code"]]
        assert prompts == [f"[{i}]:" for i in range(1, len(prompts) + 1)], f"{self.relpath}: {prompts}"
        wrapped = self.panel.evaluate(WRAPPED_JS)
        # JupyterLab breaks an output line too long for the panel anywhere, in the middle of a word too
        assert not wrapped, (f"{self.relpath}: output lines broken in two in a {VIEWPORT['width']}px window:\n"
                             + "\n".join(wrapped))

    def assert_every_check(self, state, lang, want):
        """Each check cell's rows, and every row of the recap, carry the status word `want` and no other."""
        others = [w[lang] for w in (TODO, DONE, WRONG) if w[lang] != want]
        checks = self.indices("check")
        assert checks, f"{self.relpath} has no check cells"

        def rows(i):  # cmp's table rows (`name | exact: … | status`), not the advice under them
            text = "\n".join(o["text"] for o in state[i]["outputs"])
            return text, [line for line in text.splitlines() if "|" in line]

        for i in checks:
            text, found = rows(i)
            assert found and all(want in r and not any(o in r for o in others) for r in found), \
                f"{self.relpath}, cell {i}: want {want!r}, the Lab shows {text!r}"
        for i in self.indices("recap"):
            text, found = rows(i)
            assert len(found) >= len(checks) and all(want in r for r in found), \
                f"{self.relpath}, recap: want {want!r} on every row, the Lab shows {text!r}"


@pytest.fixture(scope="module", params=LANGUAGES)
def student(request, page):
    """The lesson as a learner first runs it: opened from the file browser, Restart Kernel and Run All."""
    lang = request.param
    name = f"{lang}-{LESSON}-student"
    nb = Notebook(page, open_notebook(page, "preferred", lang, f"{LESSON}.ipynb"),
                  f"notebooks/{lang}/{LESSON}.ipynb", name)
    nb.restart_and_run_all()
    nb.shot = nb.screenshot(name)
    return lang, nb


# ---- the tests --------------------------------------------------------------------------------------------

def test_make_lab_opens_on_the_lessons_and_the_solutions_are_one_folder_up(page):
    folder, names = page.landing
    assert folder == "notebooks" and set(LANGUAGES) <= names, page.landing
    page.locator(".jp-BreadCrumbs-home").click()
    item(page, "solutions").wait_for()
    assert {"notebooks", "solutions"} <= listing(page)


def test_a_learner_runs_the_lesson_and_every_check_is_to_do(student):
    lang, nb = student
    state = nb.state()
    nb.assert_clean(state)
    nb.assert_every_check(state, lang, TODO[lang])
    print(f"\n{nb.relpath}: Restart Kernel and Run All took {nb.seconds:.1f}s; {nb.shot.relative_to(REPO)}")


def test_a_hint_opens_when_clicked(student):
    lang, nb = student
    if "<details" not in (REPO / nb.relpath).read_text(encoding="utf-8"):
        pytest.skip(f"no collapsible hint (<details><summary>) to click in any lesson yet, {nb.relpath} included")
    nb.tab.click()
    details = nb.panel.locator(".jp-MarkdownOutput details").first
    assert details.evaluate("d => !d.open"), f"{nb.relpath}: a hint starts closed"
    hidden = details.evaluate("d => [...d.childNodes].filter(n => n.nodeName !== 'SUMMARY')"
                              ".map(n => n.textContent).join(' ').trim()")
    assert hidden, f"{nb.relpath}: the first hint has nothing under its summary"
    details.locator("summary").first.click()
    assert details.evaluate("d => d.open"), f"{nb.relpath}: the hint did not open"
    assert hidden.split()[0] in details.inner_text(), f"{nb.relpath}: the open hint does not show {hidden[:80]!r}"
    details.screenshot(path=str(SHOTS / f"{lang}-{LESSON}-hint.png"))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_solution_opens_from_the_lab_and_every_check_is_done(page, lang):
    # the learner's way: up from notebooks/ to the course, then solutions/<lang>/<lesson>
    relpath = f"solutions/{lang}/{LESSON}.ipynb"
    name = f"{lang}-{LESSON}-solution"
    nb = Notebook(page, open_notebook(page, "home", "solutions", lang, f"{LESSON}.ipynb"), relpath, name)
    shot = nb.screenshot(name)
    assert not page.locator(".jp-Dialog").count(), page.locator(".jp-Dialog").inner_text()
    state = nb.state()
    nb.assert_clean(state)
    nb.assert_every_check(state, lang, DONE[lang])
    print(f"\n{relpath}: {shot.relative_to(REPO)}")
