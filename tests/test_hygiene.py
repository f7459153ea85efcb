"""Checks on the test suite itself: answers of two models are never compared with `==`, and
every sleep says why it is the behaviour under test."""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).parent
# Calls and names that hold model answers: scores, probabilities, vectors, logits.
ANSWER = re.compile(r"score|predict|prob|vector|embed|logit", re.IGNORECASE)


def _answer_call(node: ast.expr) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    return bool(ANSWER.search(name))


def _answer_names(function: ast.AST) -> set[str]:
    """Names that a function binds to an answer call (`before = scores(...)`)."""
    names: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and _answer_call(node.value):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def equality_on_answers(source: str) -> list[int]:
    """Lines where two model answers are compared with `==` or `!=`."""
    found: list[int] = []
    tree = ast.parse(source)
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        names = _answer_names(function)

        def is_answer(node: ast.expr, names: set[str] = names) -> bool:
            return _answer_call(node) or (isinstance(node, ast.Name) and node.id in names)

        for node in ast.walk(function):
            if not isinstance(node, ast.Compare) or len(node.ops) != 1:
                continue
            if isinstance(node.ops[0], ast.Eq | ast.NotEq) and (
                is_answer(node.left) and is_answer(node.comparators[0])
            ):
                found.append(node.lineno)
    return sorted(set(found))


# The shape that failed on an AVX-512 CPU without AMX (onnx-fp32 against torch-fp32 with `==`).
_KNOWN_BAD = """
def test_load(client):
    before = scores(client, "/predict")
    after = scores(client, "/models/other/predict")
    assert after != before
    assert scores(client, "/a") == scores(client, "/b")
    assert client.post("/x").json() == {"ok": True}
"""


def test_the_scan_finds_equality_between_answers() -> None:
    assert equality_on_answers(_KNOWN_BAD) == [5, 6]


def test_no_test_compares_answers_of_two_models_with_equality() -> None:
    offenders = [
        f"{path.relative_to(TESTS.parent)}:{line}"
        for path in sorted(TESTS.rglob("*.py"))
        if path.name != Path(__file__).name
        for line in equality_on_answers(path.read_text())
    ]
    assert not offenders, f"use tests.agreement.assert_agree: {offenders}"


def test_every_sleep_says_why() -> None:
    """Tests synchronize by events, futures or `tests.waiting`; a sleep that remains is the
    behaviour under test (a slow model, a slow client, a paced load) and says so."""
    unexplained = [
        f"{path.relative_to(TESTS.parent)}:{number}"
        for path in sorted(TESTS.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\b(time|asyncio)\.sleep\(", line) and "#" not in line
    ]
    assert not unexplained, unexplained


def test_no_script_pipes_into_grep_q() -> None:
    """`grep -q` exits at its first match, so the writer before the pipe can fail (curl: 23)
    under `pipefail`: read the output, then match."""
    root = TESTS.parent
    scripts = [
        *root.glob("scripts/*.sh"),
        root / "Makefile",
        root / ".ci" / "run",
        root / "push.sh",
    ]
    piped = [
        f"{path.relative_to(root)}:{number}"
        for path in scripts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if not line.lstrip().startswith("#") and re.search(r"\|\s*grep\s+(-\w*q|--quiet)", line)
    ]
    assert not piped, piped
