"""No module of bitstore_app imports one that imports it back, at module level or inside a
function; and the models import nothing that builds tiers."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "bitstore_app"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports_of(name: str, module_level_only: bool) -> set[str]:
    """Return the bitstore_app modules that module `name` imports."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nodes = tree.body if module_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                # `from package import module` imports the module; `from m import name`, m.
                child = f"{base}.{alias.name}"
                found.add(child if child in MODULES else base)
    return {target for target in found if target in MODULES and target != name}


def cycles(module_level_only: bool) -> list[list[str]]:
    """Return one import cycle through each module that is on one."""
    graph = {name: imports_of(name, module_level_only) for name in MODULES}
    found, seen = [], set()

    def walk(name, trail):
        if name in trail:
            cycle = trail[trail.index(name) :] + [name]
            if not seen.intersection(cycle):
                found.append(cycle)
            seen.update(cycle)
            return
        if name in done:
            return
        for target in sorted(graph[name]):
            walk(target, [*trail, name])
        done.add(name)

    done = set()
    for name in sorted(graph):
        walk(name, [])
    return found


def test_the_walk_sees_the_package():
    assert {"bitstore_app.models", "bitstore_app.querysets", "bitstore_app.tasks"} <= set(MODULES)
    assert "bitstore_app.querysets" in imports_of("bitstore_app.models", True)
    assert "bitstore_app.core.exceptions" in imports_of("bitstore_app.core.tiers.s3", True)


def test_no_module_imports_one_that_imports_it_back_at_module_level():
    assert cycles(module_level_only=True) == []


def test_no_cycle_either_through_imports_inside_functions():
    # A function-level import only hides a cycle: these two were models <-> querysets and
    # tasks <-> warming.
    assert cycles(module_level_only=False) == []


def test_the_models_import_nothing_that_builds_tiers():
    builders = {"bitstore_app.composer", "bitstore_app.services", "bitstore_app.admin.forms"}
    assert not imports_of("bitstore_app.models", module_level_only=False) & builders
