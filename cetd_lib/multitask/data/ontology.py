"""Ontology annotations from the AST: entities, relations and relation paths as text.

Entities: `module:m`, `class:m.C`, `function:m.f` (methods `function:m.C.f`), `param:m.f.x`.
Relations (subject, relation, object):
- `defines`  module -> class/function, class -> method
- `has_param` function -> param
- `inherits` class -> base (a local class entity when the base is defined in the file set)
- `imports`  module -> imported module (`module:json`)
- `calls`    function -> callee (a local entity when resolvable, else `external:name`)
- `tests`    test function -> function of the code under test it calls
Paths of 1..max_hops relations are serialised as conditioning text:
"function:m.f calls function:m.g ; function:m.g has_param param:m.g.x".
"""

from __future__ import annotations

import ast
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

RELATIONS = ("defines", "has_param", "inherits", "imports", "calls", "tests")


@dataclass
class Ontology:
    entities: set[str] = field(default_factory=set)
    relations: set[tuple[str, str, str]] = field(default_factory=set)

    def add(self, subject: str, relation: str, obj: str) -> None:
        self.entities |= {subject, obj}
        self.relations.add((subject, relation, obj))

    def paths(self, max_hops: int) -> list[list[tuple[str, str, str]]]:
        """Every simple path of 1..max_hops relations (no entity visited twice), sorted."""
        out_edges: dict[str, list[tuple[str, str, str]]] = {}
        for rel in sorted(self.relations):
            out_edges.setdefault(rel[0], []).append(rel)
        paths: list[list[tuple[str, str, str]]] = []
        frontier = [[rel] for rel in sorted(self.relations)]
        for _ in range(max_hops):
            paths += frontier
            grown = []
            for path in frontier:
                seen = {path[0][0], *(r[2] for r in path)}
                for rel in out_edges.get(path[-1][2], ()):
                    if rel[2] not in seen:
                        grown.append([*path, rel])
            frontier = grown
        return paths


def serialise(path: list[tuple[str, str, str]]) -> str:
    return " ; ".join(f"{s} {r} {o}" for s, r, o in path)


def _module_name(file_name: str) -> str:
    return file_name.rsplit("/", 1)[-1].removesuffix(".py")


def _callee(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def annotate(modules: Mapping[str, str], tests: Mapping[str, str] | None = None) -> Ontology:
    """The ontology of `modules` (file name -> source) and, optionally, their test files."""
    onto = Ontology()
    tests = tests or {}
    trees = {name: ast.parse(text) for name, text in {**modules, **tests}.items()}
    # name -> entity for everything defined at top level (and methods, by bare name too), so
    # calls between files of one app resolve.
    local: dict[str, str] = {}
    for name, tree in trees.items():
        mod = _module_name(name)
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                local[node.name] = f"class:{mod}.{node.name}"
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        local.setdefault(item.name, f"function:{mod}.{node.name}.{item.name}")
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                local[node.name] = f"function:{mod}.{node.name}"

    def visit_function(node: ast.FunctionDef | ast.AsyncFunctionDef, qual: str, is_test: bool):
        entity = f"function:{qual}"
        for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
            if arg.arg not in ("self", "cls"):
                onto.add(entity, "has_param", f"param:{qual}.{arg.arg}")
        for call in (n for n in ast.walk(node) if isinstance(n, ast.Call)):
            callee = _callee(call)
            if callee is None:
                continue
            target = local.get(callee, f"external:{callee}")
            if target == entity:
                continue
            is_code = target.startswith(("function:", "class:")) and not target.split(":")[
                1
            ].startswith(tuple(f"{_module_name(t)}." for t in tests))
            onto.add(entity, "tests" if is_test and is_code else "calls", target)

    for name, tree in sorted(trees.items()):
        mod = _module_name(name)
        module = f"module:{mod}"
        onto.entities.add(module)
        is_test_file = name in tests
        for node in tree.body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    onto.add(module, "imports", f"module:{alias.name}")
            elif isinstance(node, ast.ImportFrom) and node.module:
                onto.add(module, "imports", f"module:{node.module}")
            elif isinstance(node, ast.ClassDef):
                cls = f"class:{mod}.{node.name}"
                onto.add(module, "defines", cls)
                for base in node.bases:
                    base_name = ast.unparse(base)
                    onto.add(cls, "inherits", local.get(base_name, f"external:{base_name}"))
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        qual = f"{mod}.{node.name}.{item.name}"
                        onto.add(cls, "defines", f"function:{qual}")
                        visit_function(item, qual, is_test_file)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                qual = f"{mod}.{node.name}"
                onto.add(module, "defines", f"function:{qual}")
                visit_function(node, qual, is_test_file and node.name.startswith("test"))
    return onto


def ontology_record(
    onto: Ontology, max_hops: int, max_paths: int, rng: random.Random
) -> dict[str, object]:
    """Entities, relations, and a seeded sample of paths (multi-hop ones first) as text."""
    paths = onto.paths(max_hops)
    multi = [p for p in paths if len(p) > 1]
    single = [p for p in paths if len(p) == 1]
    chosen = rng.sample(multi, min(len(multi), max_paths // 2))
    chosen += rng.sample(single, min(len(single), max_paths - len(chosen)))
    texts = [serialise(p) for p in chosen]
    return {
        "entities": sorted(onto.entities),
        "relations": [list(r) for r in sorted(onto.relations)],
        "n_paths": {"one_hop": len(single), "multi_hop": len(multi)},
        "paths": texts,
        "conditioning": "\n".join(texts),
    }
