"""A seeded generator of vulnerable/safe code pairs for the security head.

Each template writes the same small function twice: once with a known-dangerous call, once with
the safe idiom. The labels are NOT the template's intent: `label_variants` runs bandit on every
variant and keeps what bandit reports. A pair is kept only when bandit flags the unsafe variant
with the template's test id and does not flag the safe one with it (mismatches are counted).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from string import Template

from cetd_lib.langpack import Finding, LanguagePack


@dataclass(frozen=True)
class VulnTemplate:
    kind: str
    test_id: str  # the bandit test the unsafe variant should trigger
    imports: str
    unsafe: str
    safe: str
    safe_imports: str = ""


# $func, $arg, $var, $doc are filled per variant; bodies are indented function bodies.
TEMPLATES: tuple[VulnTemplate, ...] = (
    VulnTemplate(
        "shell_true",
        "B602",
        "import subprocess",
        'return subprocess.run("grep -r " + $arg, shell=True, check=False)',
        'return subprocess.run(["grep", "-r", $arg], check=False)',
    ),
    VulnTemplate(
        "yaml_load",
        "B506",
        "import yaml",
        "return yaml.load($arg, Loader=yaml.Loader)",
        "return yaml.safe_load($arg)",
    ),
    VulnTemplate(
        "pickle_loads",
        "B301",
        "import pickle",
        "return pickle.loads($arg)",
        "return json.loads($arg)",
        safe_imports="import json",
    ),
    VulnTemplate(
        "hardcoded_password",
        "B105",
        "",
        '$var = "$secret"\nreturn connect($arg, password=$var)',
        '$var = os.environ["$env"]\nreturn connect($arg, password=$var)',
        safe_imports="import os",
    ),
    VulnTemplate(
        "weak_hash_md5",
        "B324",
        "import hashlib",
        "return hashlib.md5($arg.encode()).hexdigest()",
        "return hashlib.sha256($arg.encode()).hexdigest()",
    ),
    VulnTemplate(
        "weak_hash_sha1",
        "B324",
        "import hashlib",
        "return hashlib.sha1($arg.encode()).hexdigest()",
        "return hashlib.blake2b($arg.encode()).hexdigest()",
    ),
    VulnTemplate(
        "eval",
        "B307",
        "",
        "return eval($arg)",
        "return ast.literal_eval($arg)",
        safe_imports="import ast",
    ),
    VulnTemplate(
        "exec",
        "B102",
        "",
        "$var = {}\nexec($arg, $var)\nreturn $var",
        "$var = {'add': lambda a, b: a + b}\nreturn $var[$arg]",
    ),
    VulnTemplate(
        "mktemp",
        "B306",
        "import tempfile",
        '$var = tempfile.mktemp(suffix=".txt")\nwith open($var, "w") as handle:\n'
        "    handle.write($arg)\nreturn $var",
        '_, $var = tempfile.mkstemp(suffix=".txt")\nwith open($var, "w") as handle:\n'
        "    handle.write($arg)\nreturn $var",
    ),
    VulnTemplate(
        "requests_no_verify",
        "B501",
        "import requests",
        "return requests.get($arg, timeout=10, verify=False)",
        "return requests.get($arg, timeout=10, verify=True)",
    ),
    VulnTemplate(
        "sql_format",
        "B608",
        "",
        "$var = \"SELECT * FROM users WHERE name = '%s'\" % $arg\nreturn cursor.execute($var)",
        '$var = "SELECT * FROM users WHERE name = ?"\nreturn cursor.execute($var, ($arg,))',
    ),
    VulnTemplate(
        "bind_all_interfaces",
        "B104",
        "import socket",
        'server = socket.socket()\nserver.bind(("0.0.0.0", $arg))\nreturn server',
        'server = socket.socket()\nserver.bind(("127.0.0.1", $arg))\nreturn server',
    ),
    VulnTemplate(
        "chmod_world_writable",
        "B103",
        "import os",
        "os.chmod($arg, 0o777)\nreturn $arg",
        "os.chmod($arg, 0o600)\nreturn $arg",
    ),
    VulnTemplate(
        "try_except_pass",
        "B110",
        "",
        "try:\n    return int($arg)\nexcept Exception:\n    pass",
        "try:\n    return int($arg)\nexcept ValueError:\n    return None",
    ),
)

_FUNCS = ("handle", "process", "load_item", "run_query", "fetch", "parse_input", "apply", "build")
_PREFIXES = ("", "user_", "api_", "do_", "safe_", "job_")
_ARGS = ("data", "payload", "text", "value", "raw", "source", "query", "target")
_VARS = ("result", "buffer", "password", "db_password", "api_token", "namespace", "path", "sql")
_SECRETS = ("hunter2", "s3cr3t!", "admin123", "letmein", "changeme", "P@ssw0rd")
_DOCS = (
    "Handle one request from the client.",
    "Process the given input and return the result.",
    "Helper used by the command-line tool.",
    "Entry point for the background job.",
    "Load a record sent by the user.",
)


@dataclass(frozen=True)
class SecurityVariant:
    """One generated file. `group` keeps the unsafe/safe pair of one draw in one split."""

    variant_id: str  # "<kind>/<index>/<unsafe|safe>"
    kind: str
    unsafe: bool
    text: str
    expected_test_id: str
    group: str
    findings: tuple[Finding, ...] = field(default=(), compare=False)


def _render(template: VulnTemplate, unsafe: bool, rng: random.Random) -> str:
    func = rng.choice(_PREFIXES) + rng.choice(_FUNCS)
    arg = rng.choice(_ARGS)
    # Password-like names make B105 fire on the literal; other templates take any name.
    var = rng.choice(_VARS[2:5] if template.kind == "hardcoded_password" else _VARS)
    fill = {
        "func": func,
        "arg": arg,
        "var": var,
        "secret": rng.choice(_SECRETS),
        "env": f"{var.upper()}",
    }
    body = Template(template.unsafe if unsafe else template.safe).substitute(fill)
    imports = [template.imports] + ([] if unsafe else [template.safe_imports])
    header = "\n".join(sorted({line for line in imports if line}))
    doc = rng.choice(_DOCS)
    indented = "\n".join(f"    {line}" if line else "" for line in body.splitlines())
    params = arg
    if template.kind == "hardcoded_password":
        params = f"{arg}, connect"
    elif template.kind == "sql_format":
        params = f"cursor, {arg}"
    text = f'def {func}({params}):\n    """{doc}"""\n{indented}\n'
    return f"{header}\n\n\n{text}" if header else text


def generate_variants(per_kind: int, seed: int) -> list[SecurityVariant]:
    """`per_kind` unsafe/safe pairs per template; the same draw names both halves of a pair."""
    out = []
    for t_index, template in enumerate(TEMPLATES):
        for index in range(per_kind):
            for unsafe in (True, False):
                rng = random.Random(f"{seed}:{t_index}:{index}")  # same names for the pair
                out.append(
                    SecurityVariant(
                        variant_id=f"{template.kind}/{index}/{'unsafe' if unsafe else 'safe'}",
                        kind=template.kind,
                        unsafe=unsafe,
                        text=_render(template, unsafe, rng),
                        expected_test_id=template.test_id,
                        group=f"variant:{template.kind}/{index}",
                    )
                )
    return out


@dataclass(frozen=True)
class LabelledVariants:
    kept: list[SecurityVariant]
    mismatches: list[dict[str, object]]  # pairs bandit did not label as the template intended


def label_variants(variants: Sequence[SecurityVariant], pack: LanguagePack) -> LabelledVariants:
    """Run the pack's security scanner on every variant and keep the findings it reports."""
    scanned = pack.security_scan({v.variant_id: v.text for v in variants})
    labelled = [
        SecurityVariant(**{**v.__dict__, "findings": tuple(scanned[v.variant_id])})
        for v in variants
    ]
    by_group: dict[str, list[SecurityVariant]] = {}
    for v in labelled:
        by_group.setdefault(v.group, []).append(v)
    kept, mismatches = [], []
    for group, pair in by_group.items():
        ok = all((v.expected_test_id in {f.code for f in v.findings}) == v.unsafe for v in pair)
        if ok:
            kept += pair
        else:
            mismatches.append(
                {
                    "group": group,
                    "expected": pair[0].expected_test_id,
                    "found": {v.variant_id: sorted({f.code for f in v.findings}) for v in pair},
                }
            )
    return LabelledVariants(kept, mismatches)
