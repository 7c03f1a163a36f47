"""Each desktop action is the action layer's (client/services), never a second copy in ui/.

The handlers are found from the code, not from a list kept by hand: the rows of the main
window's QAction table (``ui.actions.ACTIONS``) and every callable a ui/ class connects to
a button's ``clicked`` or an action's ``triggered`` (directly, in a lambda, or through a
helper such as ``SettingsDialog._button``).  Reading their code (ast), each must reach a
function imported from ``client.services``, following the methods, module functions and
ui/ functions it calls; the few that are not actions of the action layer (open a window,
move the focus, the sync engine's own work) are named below with the reason, and a name
there that no longer is a handler fails too.  Then the main window's actions are run for
real, with every service function observed, and each must have called one.  Finally no
ui/ module may define a function named like a service function (a second copy), nor write
a file itself (exports and prints go through the services' one atomic write).
"""

from __future__ import annotations

import ast
import inspect
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVICES = "client.services"

#: Handlers that are not actions of the action layer, with why.  A new handler either
#: reaches client.services or is named here (and a name here must still be a handler).
NOT_SERVICE_ACTIONS: dict[str, str] = {
    "MainWindow.edit_selected": "opens the editor window on the selection",
    "MainWindow.sync_now": "the sync engine's round (sync/), not a client action",
    "MainWindow.set_work_offline": "switches the sync engine off and on (sync/)",
    "MainWindow.focus_filter": "moves the focus to the search box",
    "MainWindow.open_continuity": "opens the continuity dialog (its buttons are checked)",
    "MainWindow.open_settings": "opens the settings dialog (its buttons are checked)",
    "MainWindow.open_officer": "opens the officer dialog (its buttons are checked)",
    "MainWindow.open_lodgings": "opens the unresolved CDS lodgings dialog (its buttons are "
                                "checked)",
    "MainWindow.close": "Qt: closes the window",
    "ContinuityDialog.close": "Qt: closes the dialog",
    "SettingsDialog.save_server_settings": "desktop only: the server address in the profile",
    "SettingsDialog.enrol": "enrolment is the sync room's (sync.enrolment), not a client action",
    "SettingsDialog.close": "Qt: closes the dialog",
    "EditorWindow._finding_activated": "moves the focus to the field a finding names",
    "EditorWindow._row_action": "edits the working document; the autosave stores it",
    "EditorWindow.undo_stack.undo": "Qt: undo in the working document",
    "EditorWindow.undo_stack.redo": "Qt: redo in the working document",
    "EditorWindow.close": "Qt: closes the editor (its autosave runs on close)",
    "HelpMenu.open_tour": "shows the guided tour's panel (the user acts through the window)",
    "LinkSwitch.set_link": "stops / restarts the in-process training single window (sync/sandbox)",
    "ElementsPanel.add_entry": "adds an entry to a rare element's list in the working "
                               "document, which the autosave stores",
    "ElementsPanel.remove_entry": "removes an entry from the working document; the autosave "
                                  "stores it",
    "EditorWindow.find_commodity": "a picker over the reference data: fills DE 6/14 in the "
                                   "working document, which the autosave stores",
}
#: Connections whose slot is chosen at run time; each must be covered some other way.
DYNAMIC_CONNECTIONS = {"MainWindow._make_actions": "the rows of ui.actions.ACTIONS"}
SIGNALS = {"clicked", "triggered"}


# --------------------------------------------------------------------------- reading the code

@dataclass
class Module:
    name: str
    tree: ast.Module
    functions: dict[str, ast.FunctionDef] = field(default_factory=dict)
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)
    service_names: set[str] = field(default_factory=set)  # names bound to client.services
    ui_imports: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (mod, attr)


def _is_service_module(name: str) -> bool:
    return name == SERVICES or name.startswith(SERVICES + ".")


def read_modules(files: dict[str, Path]) -> dict[str, Module]:
    """Parse each module: its functions, classes, and what its imports bind."""
    out: dict[str, Module] = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        mod = Module(name, tree)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                mod.functions[node.name] = node
            elif isinstance(node, ast.ClassDef):
                mod.classes[node.name] = node
        for node in ast.walk(tree):  # imports anywhere, those inside functions included
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    bound = alias.asname or alias.name
                    if _is_service_module(node.module) or \
                            _is_service_module(f"{node.module}.{alias.name}"):
                        mod.service_names.add(bound)
                    elif node.module.split(".")[0] == "ui":
                        mod.ui_imports[bound] = (node.module, alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if _is_service_module(alias.name):
                        mod.service_names.add(alias.asname or alias.name.split(".")[0])
        out[name] = mod
    return out


def _ui_files(root: Path = REPO) -> dict[str, Path]:
    files = {}
    for path in (root / "ui").rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path
    return files


@dataclass(frozen=True)
class ClassRef:
    module: str
    name: str


class Project:
    """The ui/ classes with their ui/ bases, and what their methods reach."""

    def __init__(self, modules: dict[str, Module]) -> None:
        self.modules = modules
        self.classes = {ClassRef(m.name, c): node for m in modules.values()
                        for c, node in m.classes.items()}

    def _base(self, ref: ClassRef, base: ast.expr) -> ClassRef | None:
        name = base.id if isinstance(base, ast.Name) else None
        mod = self.modules[ref.module]
        if name in mod.classes:
            return ClassRef(ref.module, name)
        if name in mod.ui_imports:
            target, attr = mod.ui_imports[name]
            if target in self.modules and attr in self.modules[target].classes:
                return ClassRef(target, attr)
        return None

    def mro(self, ref: ClassRef) -> list[ClassRef]:
        """The class and its ui/ bases, depth first (enough for these mixins)."""
        out = [ref]
        for base in self.classes[ref].bases:
            b = self._base(ref, base)
            if b is not None:
                out.extend(x for x in self.mro(b) if x not in out)
        return out

    def leaves(self) -> list[ClassRef]:
        """The classes no ui/ class derives from: the windows and dialogs themselves."""
        bases = {b for ref in self.classes for b in self.mro(ref)[1:]}
        return sorted((r for r in self.classes if r not in bases),
                      key=lambda r: (r.module, r.name))

    def method(self, cls: ClassRef, name: str) -> tuple[str, ast.FunctionDef] | None:
        for ref in self.mro(cls):
            for node in self.classes[ref].body:
                if isinstance(node, ast.FunctionDef) and node.name == name:
                    return ref.module, node
        return None

    # ---- which callables are connected ------------------------------------------------------
    def connections(self, cls: ClassRef) -> tuple[set[str], set[str]]:
        """(handler names, methods with a connection chosen at run time) of one class."""
        handlers: set[str] = set()
        dynamic: set[str] = set()
        connectors = self._connectors(cls)
        for ref in self.mro(cls):
            for meth in (n for n in self.classes[ref].body if isinstance(n, ast.FunctionDef)):
                params = {a.arg for a in meth.args.args}
                for node in ast.walk(meth):
                    if not isinstance(node, ast.Call):
                        continue
                    slot = self._connected_slot(node, connectors)
                    if slot is None:
                        continue
                    names = _slot_names(slot)
                    if names is None:
                        if meth.name not in connectors or not _calls_param(slot, params):
                            dynamic.add(meth.name)
                        continue
                    handlers |= names
        return handlers, dynamic

    def _connectors(self, cls: ClassRef) -> dict[str, int]:
        """Methods that connect one of their parameters (``_button(key, slot)``): name ->
        the position of that parameter in a call."""
        out: dict[str, int] = {}
        for ref in self.mro(cls):
            for meth in (n for n in self.classes[ref].body if isinstance(n, ast.FunctionDef)):
                params = [a.arg for a in meth.args.args][1:]  # after self
                for node in ast.walk(meth):
                    slot = self._connected_slot(node, {}) if isinstance(node, ast.Call) \
                        else None
                    if slot is not None and _slot_names(slot) is None:
                        for i, p in enumerate(params):
                            if _calls_param(slot, {p}):
                                out.setdefault(meth.name, i)
        return out

    @staticmethod
    def _connected_slot(call: ast.Call, connectors: dict[str, int]) -> ast.expr | None:
        f = call.func
        if isinstance(f, ast.Attribute) and f.attr == "connect" and call.args \
                and isinstance(f.value, ast.Attribute) and f.value.attr in SIGNALS:
            return call.args[0]
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) \
                and f.value.id == "self" and f.attr in connectors:
            i = connectors[f.attr]
            return call.args[i] if len(call.args) > i else None
        return None

    # ---- what a handler reaches -----------------------------------------------------------
    def reaches_services(self, cls: ClassRef, handler: str) -> bool:
        seen: set[tuple[str, str]] = set()
        first = self.method(cls, handler.split(".")[0]) if "." not in handler else None
        if first is None:
            return False
        work: list[tuple[str, ast.AST]] = [first]
        while work:
            module, node = work.pop()
            key = (module, getattr(node, "name", ""))
            if key in seen:
                continue
            seen.add(key)
            mod = self.modules[module]
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name):
                    if sub.id in mod.service_names:
                        return True
                    if sub.id in mod.functions:
                        work.append((module, mod.functions[sub.id]))
                    elif sub.id in mod.ui_imports:
                        target, attr = mod.ui_imports[sub.id]
                        if target in self.modules and attr in self.modules[target].functions:
                            work.append((target, self.modules[target].functions[attr]))
                elif isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) \
                        and sub.value.id == "self":
                    found = self.method(cls, sub.attr)
                    if found is not None:
                        work.append(found)
        return False


def _slot_names(slot: ast.expr) -> set[str] | None:
    """The handler a slot names: ``self.m`` -> m, ``self.a.b`` -> a.b, a lambda -> the
    ``self`` methods it calls; None when it names nothing fixed (a variable)."""
    if isinstance(slot, ast.Attribute):
        chain = []
        node: ast.expr = slot
        while isinstance(node, ast.Attribute):
            chain.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id == "self":
            return {".".join(reversed(chain))}
        return None
    if isinstance(slot, ast.Lambda):
        names = {c.func.attr for c in ast.walk(slot.body) if isinstance(c, ast.Call)
                 and isinstance(c.func, ast.Attribute) and isinstance(c.func.value, ast.Name)
                 and c.func.value.id == "self"}
        return names or None
    return None


def _calls_param(slot: ast.expr, params: set[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in params for n in ast.walk(slot))


@dataclass(frozen=True)
class Handler:
    cls: ClassRef
    name: str
    reaches: bool

    @property
    def key(self) -> str:
        return f"{self.cls.name}.{self.name}"


def find_handlers(project: Project, table: dict[str, list[str]] | None = None
                  ) -> tuple[list[Handler], set[str]]:
    """Every handler of every window or dialog, and the methods whose connections are
    chosen at run time (``table`` adds handlers by class name, as the QAction table)."""
    out: list[Handler] = []
    dynamic: set[str] = set()
    for cls in project.leaves():
        names, dyn = project.connections(cls)
        names |= set((table or {}).get(cls.name, ()))
        dynamic |= {f"{cls.name}.{m}" for m in dyn}
        out.extend(Handler(cls, n, project.reaches_services(cls, n)) for n in sorted(names))
    return out, dynamic


def _action_table() -> dict[str, list[str]]:
    from ui.actions import ACTIONS

    return {"MainWindow": [method for _name, _key, method, _checkable in ACTIONS]}


@pytest.fixture(scope="module")
def handlers() -> tuple[list[Handler], set[str]]:
    return find_handlers(Project(read_modules(_ui_files())), _action_table())


# --------------------------------------------------------------------------- the checks

def test_the_handlers_are_found(handlers: tuple[list[Handler], set[str]]) -> None:
    found = {h.key for h in handlers[0]}
    from ui.actions import ACTIONS

    assert {f"MainWindow.{m}" for _n, _k, m, _c in ACTIONS} <= found
    for dialog in ("ContinuityDialog", "OfficerDialog", "SettingsDialog", "EditorWindow"):
        assert any(k.startswith(dialog + ".") for k in found), dialog
    assert {"OfficerDialog.decide_outcome", "OfficerDialog.verify",
            "SettingsDialog.export_cert", "ContinuityDialog.print_fallback"} <= found


def test_every_action_handler_reaches_the_action_layer(
        handlers: tuple[list[Handler], set[str]]) -> None:
    found, dynamic = handlers
    keys = {h.key for h in found}
    stale = sorted(set(NOT_SERVICE_ACTIONS) - keys)
    assert stale == [], f"named as not an action but no longer a handler: {stale}"
    second = [h.key for h in found if not h.reaches and h.key not in NOT_SERVICE_ACTIONS]
    assert second == [], f"handlers that do not call client.services: {second}"
    assert dynamic == set(DYNAMIC_CONNECTIONS), "a connection this test cannot follow"
    assert sum(h.reaches for h in found) >= 15


def test_no_ui_function_is_named_like_a_service_function() -> None:
    services = {node.name for path in (REPO / "client" / "services").glob("*.py")
                for node in ast.parse(path.read_text(encoding="utf-8")).body
                if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")}
    assert len(services) > 40 and {"copy_declaration", "mark_ready", "decide"} <= services
    clashes = sorted(f"{path.relative_to(REPO)}: {node.name}"
                     for path in (REPO / "ui").rglob("*.py")
                     for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                     if isinstance(node, ast.FunctionDef) and node.name in services)
    assert clashes == []


#: ui/ modules allowed to write a file, with why (the app itself writes through services).
FILE_WRITERS = {"ui/_i18n_src/catalogue.py": "a developer's tool regenerating ui.json"}
_WRITE_CALLS = {"write_text", "write_bytes", "atomic_write", "write_file", "mkstemp",
                "NamedTemporaryFile"}
_MODULE_WRITES = {"os": {"replace", "rename", "link", "symlink"},
                  "shutil": {"copy", "copy2", "copyfile", "copytree", "move"}}


def file_writes(tree: ast.AST) -> list[str]:
    """Calls in ``tree`` that write or move a file: ``open`` for writing, ``Path.write_*``,
    temporary files, renames, copies, an atomic write of its own."""
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) \
            else ""
        if name == "open" and not (isinstance(f, ast.Attribute) and not node.args):
            mode = node.args[1] if len(node.args) > 1 else next(
                (k.value for k in node.keywords if k.arg == "mode"), None)
            if isinstance(mode, ast.Constant) and set(str(mode.value)) & set("wax+"):
                out.append(f"{node.lineno}: open(..., {mode.value!r})")
            elif mode is not None and not isinstance(mode, ast.Constant):
                out.append(f"{node.lineno}: open with a computed mode")
        elif name in _WRITE_CALLS or (
                isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name)
                and name in _MODULE_WRITES.get(f.value.id, ())):
            out.append(f"{node.lineno}: {name}()")
    return out


def test_the_desktop_writes_no_file_itself() -> None:
    """Exports, prints, fallback documents and certificates are written by the services,
    through the one atomic write; no ui/ module writes a file of its own."""
    offenders = [f"{path.relative_to(REPO)}:{w}" for path in sorted((REPO / "ui").rglob("*.py"))
                 if str(path.relative_to(REPO)) not in FILE_WRITERS
                 for w in file_writes(ast.parse(path.read_text(encoding="utf-8")))]
    assert offenders == []
    assert all((REPO / rel).exists() for rel in FILE_WRITERS)
    seen = file_writes(ast.parse(
        "open(p, 'w')\nopen(p)\nbox.open()\np.write_text('x')\nos.replace(a, b)\n"
        "text.replace('a', 'b')\ntempfile.NamedTemporaryFile('w')\nopen(p, encoding='ascii')\n"))
    assert [w.split(": ")[1] for w in seen] == ["open(..., 'w')", "write_text()", "replace()",
                                                 "NamedTemporaryFile()"]


def test_the_checker_sees_a_second_copy(tmp_path: Path) -> None:
    """A dialog whose button writes the store itself is reported; one whose button goes
    through a helper button-maker to a service, via a method and a module function, is not."""
    (tmp_path / "ui").mkdir()
    (tmp_path / "ui" / "base.py").write_text(
        "from client.services.exports import export_to_file\n"
        "def _work(store):\n    return export_to_file(store, 'x', 'json', 'p', actor='a')\n"
        "class Buttons:\n"
        "    def _button(self, key, slot):\n"
        "        b = object()\n        b.clicked.connect(lambda _c=False: slot())\n"
        "    def export(self):\n        self._later()\n"
        "    def _later(self):\n        return _work(self.store)\n")
    (tmp_path / "ui" / "dialog.py").write_text(
        "from ui.base import Buttons\n"
        "class Dialog(Buttons):\n"
        "    def __init__(self):\n"
        "        self._button('a', self.export)\n"
        "        self.copy_button.clicked.connect(lambda: self.copy())\n"
        "        self.other.triggered.connect(self.pick)\n"
        "    def copy(self):\n        self.store.create(self.store.get('x'), 'me')\n"
        "    def pick(self):\n        from client.services import views\n"
        "        return views.list_declarations(self.store)\n")
    found, dynamic = find_handlers(Project(read_modules(_ui_files(tmp_path))))
    assert {h.key: h.reaches for h in found} == {"Dialog.export": True, "Dialog.copy": False,
                                                 "Dialog.pick": True}
    assert dynamic == set()


# --------------------------------------------------------------------------- run them

@pytest.fixture
def observed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every function of client.services, wherever ui/ or the services hold it, replaced by
    one that records its name and calls through."""
    import client.services  # noqa: F401 - the package itself
    import ui.actions  # noqa: F401 - loads the modules the handlers use
    import ui.continuity  # noqa: F401
    import ui.officer  # noqa: F401
    import ui.settings  # noqa: F401

    calls: list[str] = []

    def watch(fn: Callable[..., Any]) -> Callable[..., Any]:
        def watched(*args: Any, **kwargs: Any) -> Any:
            calls.append(fn.__name__)
            return fn(*args, **kwargs)
        return watched

    for name, mod in list(sys.modules.items()):
        if mod is None or not (name == "ui" or name.startswith(("ui.", SERVICES))):
            continue
        for attr, value in list(vars(mod).items()):
            if inspect.isfunction(value) and _is_service_module(value.__module__):
                monkeypatch.setattr(mod, attr, watch(value))
    return calls


def _states(prof: Any) -> Iterator[str]:
    """A draft, a ready declaration and a rejected one (sealed, then rejected)."""
    from client.declaration import states
    from client.seal.keys import create_key
    from client.seal.sealing import Sealer
    from client.store import DeliveryResult

    create_key(prof.home, prof.secrets)
    draft = prof.seed(1, status=states.DRAFT, seed=2)[0]
    ready = prof.seed(1, seed=3)[0]
    rejected = prof.seed(1, seed=4)[0]
    entry = Sealer(prof.profile, prof.store, prof.secrets).seal(rejected)
    prof.store.record_deliveries([DeliveryResult(entry.seq, "rejected",
                                                 errors=[{"code": "CDS12056"}])])
    yield from (draft, ready, rejected)


def test_each_main_window_action_calls_a_service(window: Any, prof: Any, tmp_path: Path,
                                                 observed: list[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from ui.actions import ACTIONS

    ids = list(_states(prof))
    window.table_model.reload()
    monkeypatch.setattr(window, "_ask_path", lambda _title, filters: tmp_path / (
        "print.pdf" if "PDF" in filters else "export.json"))
    from client.services.templates import save_template

    save_template(prof.store, "Usual", ids[0])
    monkeypatch.setattr(window, "ask_template", lambda names: names[0])
    ran: dict[str, list[str]] = {}
    for name, _key, method, _checkable in ACTIONS:
        if f"MainWindow.{method}" in NOT_SERVICE_ACTIONS:
            continue
        action = window.actions_by_name[name]
        target = next((d for d in ids if window.select_id(d) and action.isEnabled()), None)
        assert target is not None, f"no declaration on which {name!r} is enabled"
        observed.clear()
        window.last_error = None
        action.trigger()
        ran[name] = list(observed)
        assert observed, f"the {name!r} action called no service"
        assert window.last_error is None, (name, window.last_error)
        for ed in list(window.editors.values()):
            ed.close()
        window.table_model.reload()
    assert set(ran) == {"new", "copy", "previous", "template_new", "ready", "seal", "amend",
                        "export", "print"}
    assert "new_from_template" in ran["template_new"] and "new_from_previous" in ran["previous"]
    assert "export_to_file" in ran["export"] and "print_declaration" in ran["print"]
    assert json.loads((tmp_path / "export.json").read_text())["id"] in ids
    assert (tmp_path / "print.pdf").read_bytes().startswith(b"%PDF")
