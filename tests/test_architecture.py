"""The shape of the package: no import cycles among radiomark's modules, and no import from a lower
layer into a higher one. Imports inside functions count; ``if TYPE_CHECKING:`` imports do not."""

from __future__ import annotations

import ast
from pathlib import Path

import radiomark

ROOT = Path(radiomark.__file__).parent

#: Layers from the bottom up: a module may import its own layer and those below it. A recipe
#: package (``radiomark.recipes.<name>``) is a plug-in: it sits above everything it uses and is
#: found at run time by the registry, never imported by name from radiomark's own code.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("core", ("radiomark", "radiomark.errors", "radiomark.image", "radiomark.biomarkers.measurement",
              "radiomark.recipes", "radiomark.recipes.registry", "radiomark.recipes.schema",
              "radiomark.recipes.series_schema", "radiomark.decision",
              "radiomark.case", "radiomark.metrics", "radiomark.training.splits")),
    ("io", ("radiomark.io",)),
    ("preprocess", ("radiomark.transforms", "radiomark.classification")),
    ("models", ("radiomark.models",)),
    ("inference", ("radiomark.inference", "radiomark.postprocess", "radiomark.registration")),
    ("measure", ("radiomark.biomarkers", "radiomark.quality", "radiomark.phantoms")),
    ("outputs", ("radiomark.outputs",)),
    ("pipeline", ("radiomark.pipeline", "radiomark.label_transfer")),
    ("training", ("radiomark.training", "radiomark.evaluation", "radiomark.herniation")),
    ("recipe packages", ("radiomark.recipes.brain_gwr", "radiomark.recipes.disc_herniation",
                         "radiomark.recipes.neonatal_rds", "radiomark.recipes.nigra", "radiomark.recipes.sarcopenia")),
    ("api", ("radiomark.api",)),
    ("cli", ("radiomark.cli", "radiomark.__main__")),
]


#: The one import that may reach up: the package root is a lazy facade whose ``__getattr__`` loads
#: :mod:`radiomark.api` when ``radiomark.run`` (or another entry point) is first used, so that
#: ``import radiomark`` stays light and no module imports the API at import time.
FACADE = ("radiomark", "radiomark.api")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in ROOT.rglob("*.py")}


def _owner(name: str) -> str | None:
    """The radiomark module an imported name lives in (``a.b.c`` → ``a.b`` when ``c`` is a name in it)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """Module → the radiomark modules it imports (at module level or inside functions)."""
    graph = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        type_only = {id(node) for branch in ast.walk(tree) if isinstance(branch, ast.If)
                     and "TYPE_CHECKING" in ast.unparse(branch.test) for node in ast.walk(branch)}
        imported = set()
        for node in ast.walk(tree):
            if id(node) in type_only:
                continue
            if isinstance(node, ast.Import):
                imported |= {_owner(alias.name) for alias in node.names if alias.name.startswith("radiomark")}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("radiomark"):
                imported |= {_owner(f"{node.module}.{alias.name}") for alias in node.names}
        graph[module] = imported - {None, module} - ({FACADE[1]} if module == FACADE[0] else set())
    return graph  # type: ignore[return-value]


def layer(module: str) -> int:
    """The index of the layer ``module`` belongs to: the longest matching prefix wins."""
    best, best_length = None, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_length:
                best, best_length = index, len(prefix)
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_no_import_reaches_up_a_layer():
    upward = sorted(f"{module} ({LAYERS[layer(module)][0]}) imports {other} ({LAYERS[layer(other)][0]})"
                    for module, imported in import_graph().items() for other in imported
                    if layer(other) > layer(module))
    assert upward == []


def test_the_checks_find_a_cycle_and_an_upward_import():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    assert layer("radiomark.cli") > layer("radiomark.api") > layer("radiomark.pipeline") > layer("radiomark.io.dicom")
    assert layer("radiomark.recipes.schema") < layer("radiomark.recipes.sarcopenia.biomarkers")
