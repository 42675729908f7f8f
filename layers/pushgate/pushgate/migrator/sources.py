"""The revision graph read from the revision files' source, never by running them.

What alembic's API allows: ``ScriptDirectory`` builds its ``RevisionMap`` by importing every
revision file (``Script`` needs the module), so an unloadable file anywhere, even an old one
applied long ago, would stop every run, and every file's imports would run at cold start.
pushgate therefore builds the graph itself: each file is parsed (``ast``) for its ``revision``,
``down_revision``, ``branch_labels`` and ``depends_on`` assignments (plain or annotated, literal
values), which become alembic's public ``Revision`` objects in alembic's public
``RevisionMap``, so alembic's own graph logic (heads, ancestry, ranges, merges) answers every
question. Only the files a run must execute are imported (:meth:`SourceRevision.load`); alembic's
``RevisionStep`` then gets that revision: what it asks of a revision (``module``, ``doc`` and the
graph fields the ``RevisionMap`` computes) is what a loaded :class:`SourceRevision` has, exactly
as a ``Script`` would.

The same parse says what a file imports (:attr:`SourceRevision.imports`): a revision that needs
a module the function does not ship is refused before anything runs.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Final

from alembic.script.revision import Revision

from pushgate.errors import InvalidRequest

# What a revision file may import in the run_migrations function besides the standard library:
# the layer's packages a migration uses (layers/pushgate/requirements.txt).
SHIPPED_MODULES: Final = frozenset({"alembic", "sqlalchemy", "typing_extensions", "dateutil"})
TASK_RUNNER_HINT: Final = (
    "run this project with the task runner (MigrationRunner=task: the migration runs in the "
    "service's own image, which has its code), or drop the import from the revision"
)
_GRAPH_FIELDS: Final = ("revision", "down_revision", "branch_labels", "depends_on")


class SourceRevision(Revision):
    """A revision as its file's source declares it: alembic's ``Revision`` plus its file, its
    docstring's first line, what it imports and whether it opens an autocommit block."""

    def __init__(
        self,
        path: Path,
        fields: dict[str, object],
        *,
        doc: str,
        imports: tuple[str, ...],
        autocommit: bool,
        functions: dict[str, list[ast.stmt]],
    ) -> None:
        super().__init__(
            str(fields["revision"]),
            _revision_ids(fields.get("down_revision")),
            dependencies=_revision_ids(fields.get("depends_on")),
            branch_labels=_revision_ids(fields.get("branch_labels")),
        )
        self.path = path
        self.doc = doc
        self.imports = imports
        self.autocommit = autocommit
        self.functions = functions
        self.module: ModuleType | None = None  # the imported file, once it must run

    def unshipped_imports(self) -> list[str]:
        """The modules this file imports that the function does not ship."""
        return [
            name
            for name in self.imports
            if name.split(".")[0] not in SHIPPED_MODULES
            and name.split(".")[0] not in sys.stdlib_module_names
        ]

    def refuse_unshipped(self) -> None:
        """InvalidRequest naming the file, the module and the way out."""
        missing = self.unshipped_imports()
        if missing:
            raise InvalidRequest(
                f"revision {self.revision} ({self.path.name}) imports {', '.join(missing)}, "
                "which the run_migrations function does not ship (it has alembic, SQLAlchemy and "
                f"the standard library); nothing was run: {TASK_RUNNER_HINT}"
            )

    def load(self) -> None:
        """Import the file (it must run). InvalidRequest when it imports what the function
        does not ship, or cannot be imported."""
        if self.module is not None:
            return
        self.refuse_unshipped()
        digest = hashlib.sha1(str(self.path).encode(), usedforsecurity=False).hexdigest()[:12]
        try:
            spec = importlib.util.spec_from_file_location(f"pushgate_revision_{digest}", self.path)
            if spec is None or spec.loader is None:
                raise ImportError(f"no loader for {self.path}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        except Exception as exc:  # whatever the file raises on import: its own error
            raise InvalidRequest(
                f"revision {self.revision} ({self.path.name}) cannot be loaded: "
                f"{type(exc).__name__}: {exc}; nothing was run"
            ) from exc
        self.module = module


def _revision_ids(value: object) -> tuple[str, ...] | str | None:
    if value is None or isinstance(value, str):
        return value
    return tuple(str(item) for item in value)  # type: ignore[attr-defined]


class _Reader(ast.NodeVisitor):
    """Collects imports (outside ``if TYPE_CHECKING:``) and ``autocommit_block`` uses."""

    def __init__(self) -> None:
        self.imports: list[str] = []
        self.autocommit = False

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
        if name == "TYPE_CHECKING":
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.imports.extend(alias.name for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            self.imports.append("." * node.level + (node.module or ""))
        elif node.module and node.module != "__future__":
            self.imports.append(node.module)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr == "autocommit_block":
            self.autocommit = True
        self.generic_visit(node)


_NOT_LITERAL: Final = object()
_IDS: Final = "None, a string literal or a tuple, list or set of string literals"
_EXPECTED: Final = {
    "revision": "a string literal",
    "down_revision": _IDS,
    "branch_labels": _IDS,
    "depends_on": _IDS,
}


def _is_ids(value: object) -> bool:
    return (
        value is None
        or isinstance(value, str)
        or (isinstance(value, tuple | list | set) and all(isinstance(item, str) for item in value))
    )


def _assignments(path: Path, tree: ast.Module) -> dict[str, object]:
    """The graph fields' literal values; InvalidRequest naming the file, the line and the name
    for one that is not a literal of its type (the graph is read without running the file)."""
    found: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if not (isinstance(target, ast.Name) and target.id in _GRAPH_FIELDS):
            continue
        try:
            literal = ast.literal_eval(value)
        except (ValueError, TypeError):  # not a literal; a set or dict literal of unhashables
            literal = _NOT_LITERAL
        if literal is _NOT_LITERAL or not (
            isinstance(literal, str) if target.id == "revision" else _is_ids(literal)
        ):
            raise InvalidRequest(
                f"the revision file {path} line {node.lineno}: {target.id} = "
                f"{_shown(value)} is not {_EXPECTED[target.id]}; it blocks every run, even if "
                "it is an old, already-applied revision: the revision graph is read from the "
                "files' source, without running them"
            )
        # a set, which alembic's to_tuple accepts as any iterable, in a stable order
        found[target.id] = tuple(sorted(literal)) if isinstance(literal, set) else literal
    return found


def _shown(node: ast.expr) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."


def read_revision_file(path: Path) -> SourceRevision | None:
    """The revision a file declares (None: not a revision file, as alembic would skip it).
    InvalidRequest when it cannot be read: the graph needs every file, applied or not."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
        fields = _assignments(path, tree)
        if "revision" not in fields:
            return None
        reader = _Reader()
        reader.visit(tree)
    except (OSError, SyntaxError, ValueError, RecursionError) as exc:
        detail = "nested too deeply to parse" if isinstance(exc, RecursionError) else exc
        raise InvalidRequest(
            f"the revision file {path} cannot be read ({type(exc).__name__}: {detail}); it "
            "blocks every run, even if it is an old, already-applied revision: the revision "
            "graph needs its revision and down_revision as literal values"
        ) from exc
    if "down_revision" not in fields:
        raise InvalidRequest(f"the revision file {path} has a revision but no down_revision")
    docstring = ast.get_docstring(tree) or ""
    return SourceRevision(
        path,
        fields,
        doc=docstring.strip().splitlines()[0] if docstring.strip() else "",
        imports=tuple(dict.fromkeys(reader.imports)),
        autocommit=reader.autocommit,
        functions={node.name: node.body for node in tree.body if isinstance(node, ast.FunctionDef)},
    )


def revision_files(locations: tuple[Path, ...], *, recursive: bool) -> Iterator[Path]:
    """The ``*.py`` files alembic would consider, in every version location."""
    for location in locations:
        pattern = "**/*.py" if recursive else "*.py"
        for path in sorted(location.glob(pattern)):
            if not path.name.startswith((".#", "__init__")) and path.is_file():
                yield path
