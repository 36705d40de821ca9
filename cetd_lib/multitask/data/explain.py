"""The explanation set: (code, finding) -> an explanation grounded in the tool's own rule docs.

The target has a short reasoning step (which line, what the rule looks for) and then the
rule's documented "what it does" / "why is this bad" text, so the model learns to explain
with the tool's words rather than invent rationales.
"""

from __future__ import annotations

import re
from typing import Any

from cetd_lib.langpack import Finding, cwe_category
from cetd_lib.multitask.data.corpus import Chunk

_SECTION = re.compile(r"^##\s+(.+?)\s*$", re.MULTILINE)
_RST_RULE = re.compile(r"^[=\-~*]{3,}\s*$", re.MULTILINE)


def doc_sections(markdown: str) -> dict[str, str]:
    """`## Heading` -> body for ruff's rule markdown (keys lower-cased)."""
    parts = _SECTION.split(markdown)
    return {parts[i].lower(): parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


def rule_rationale(tool: str, doc: str, max_chars: int = 700) -> str:
    """The part of a rule doc that says what the rule checks and why it matters."""
    if tool == "ruff":
        sections = doc_sections(doc)
        text = " ".join(
            s for s in (sections.get("what it does", ""), sections.get("why is this bad?", "")) if s
        )
    else:
        # bandit docstrings are reStructuredText: drop the title, rule lines and directives.
        body = _RST_RULE.sub("", doc.split("\n", 2)[-1])
        paragraphs = [
            " ".join(line.strip() for line in para.splitlines())
            for para in re.split(r"\n\s*\n", body)
        ]
        text = " ".join(
            p
            for p in paragraphs
            if p and not p.startswith((":", "..", ">>>", "**B", "B")) and "|" not in p
        )
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= max_chars else text[:max_chars].rsplit(" ", 1)[0] + " ..."


def explanation_record(
    chunk: Chunk, finding: Finding, doc: str, context_lines: int
) -> dict[str, Any] | None:
    """One example; None when the finding's line is not inside the chunk's text."""
    lines = chunk.text.splitlines()
    offset = chunk.end_line - len(lines) + 1  # source line of the chunk text's first line
    local = finding.line - offset
    if not 0 <= local < len(lines):
        return None
    lo, hi = max(0, local - context_lines), min(len(lines), local + context_lines + 1)
    snippet = "\n".join(f"{offset + i:>5} | {lines[i]}" for i in range(lo, hi))
    flagged = lines[local].strip()
    tool = finding.tool
    rationale = rule_rationale(tool, doc)
    extra = ""
    if finding.severity:
        extra = (
            f" Severity {finding.severity}, confidence {finding.confidence}; "
            f"CWE-{finding.cwe} ({cwe_category(finding.cwe)})."
            if finding.cwe
            else f" Severity {finding.severity}, confidence {finding.confidence}."
        )
    reasoning = (
        f"Reasoning: line {finding.line} (`{flagged[:120]}`) matches {tool} rule {finding.code}"
        f" ({finding.name}): {finding.message}.{extra}"
    )
    return {
        "group": chunk.group,
        "chunk_id": chunk.chunk_id,
        "tool": tool,
        "code": finding.code,
        "input": f"{snippet}\n\nFinding: {tool} {finding.code} at line {finding.line}: "
        f"{finding.message}",
        "target": f"{reasoning}\nExplanation: {rationale}",
    }
