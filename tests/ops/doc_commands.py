"""The shell commands of a Markdown page as a reader copies them: the ```bash blocks, each
command with its continuation lines and here-document, and the output the page shows for it
(a `# ...` comment after the command, or a ```json block right after its block)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any

FENCE = re.compile(r"^```(\w*)\s*$")
HEREDOC = re.compile(r"<<-?\s*'?(\w+)'?")
ELIDED = "..."  # `[0.1, 0.2, ...]` on a page: the answer's list starts with these


@dataclass(frozen=True)
class Shown:
    """An output a page shows: the JSON body, and the status when the page gives one."""

    body: Any
    status: int | None = None


@dataclass(frozen=True)
class Command:
    text: str
    shown: Shown | None = None


@dataclass(frozen=True)
class Block:
    lang: str
    lines: list[str]
    start: int  # line number of the opening fence
    end: int  # line number of the closing fence


def fenced_blocks(markdown: str) -> list[Block]:
    blocks: list[Block] = []
    lang: str | None = None
    body: list[str] = []
    start = 0
    for number, line in enumerate(markdown.splitlines()):
        fence = FENCE.match(line)
        if fence and lang is None:
            lang, body, start = fence.group(1), [], number
        elif line.strip() == "```" and lang is not None:
            blocks.append(Block(lang, body, start, number))
            lang = None
        elif lang is not None:
            body.append(line)
    return blocks


def shown_output(text: str) -> Shown | None:
    """`{...}`, or `422 {...}`, at the start of `text`; None when it is prose."""
    text = text.strip()
    status = None
    if match := re.match(r"(\d{3}) ", text):
        status, text = int(match.group(1)), text[match.end() :]
    text = re.sub(r",\s*\.\.\.\s*([\]}])", rf', "{ELIDED}"\1', text)
    try:
        body, _ = json.JSONDecoder().raw_decode(text)
    except ValueError:
        return None
    return Shown(body, status)


def split_comment(line: str) -> tuple[str, str | None]:
    """A command line and its trailing `# comment` (a `#` outside quotes, after a space)."""
    for match in re.finditer(r"\s#\s", line):
        before = line[: match.start()]
        if before.count("'") % 2 == 0 and before.count('"') % 2 == 0:
            return before.rstrip(), line[match.end() :]
    return line, None


def commands(markdown: str) -> list[Command]:
    """Every command of the page's bash blocks, in order."""
    found: list[Command] = []
    previous: Block | None = None
    for block in fenced_blocks(markdown):
        if block.lang == "json" and previous is not None and block.start - previous.end <= 2:
            if previous.lang == "bash" and found and found[-1].shown is None:
                found[-1] = replace(found[-1], shown=shown_output(" ".join(block.lines)))
        if block.lang == "bash":
            found += block_commands(block.lines)
        previous = block
    return found


def block_commands(lines: list[str]) -> list[Command]:
    found: list[Command] = []
    comments: list[str] = []  # comment lines right after the last command
    index = 0

    def flush() -> None:
        if comments and found and found[-1].shown is None:
            found[-1] = replace(found[-1], shown=shown_output(" ".join(comments)))
        comments.clear()

    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.strip():
            continue
        if line.lstrip().startswith("#"):
            comments.append(line.lstrip()[1:])
            continue
        flush()
        text, comment = split_comment(line)
        parts = [text]
        while parts[-1].endswith("\\") and index < len(lines):
            text, more = split_comment(lines[index])
            comment = more or comment
            parts.append(text)
            index += 1
        if heredoc := HEREDOC.search(" ".join(parts)):
            while index < len(lines):
                parts.append(lines[index])
                index += 1
                if lines[index - 1].strip() == heredoc.group(1):
                    break
        found.append(Command("\n".join(parts)))
        if comment is not None:
            comments.append(comment)
    flush()
    return found
