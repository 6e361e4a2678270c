"""Read a ``Pulumi.<stack>.yaml`` file defensively: any input gives a config map or one ``StackFileError``.

The offline preview is run on pull requests, where a stack file can be anything: a YAML syntax error, an
empty, binary or non-UTF-8 file, a list at the top level, duplicate keys (YAML keeps the last one silently, so
a reviewer sees one value and the program gets another), an alias bomb (a few lines that expand to billions of
nodes), a ``!!python`` tag, a directory, a device, a 50 MB file. Each is refused here, before anything runs or
is written, with one line naming the file and the problem.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 1024 * 1024  # stack files are a few KiB; a megabyte is a mistake, not a config
MAX_NODES = 100_000  # values after alias expansion; far above any real stack, far below a bomb
MAX_DEPTH = 64  # nesting; PyYAML's composer recurses per level
STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")  # what `pulumi stack init` accepts
# The tags a plain YAML document may carry; anything else (``!!python/object``, ``!Ref``) is refused.
_STANDARD_TAGS = frozenset(
    f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp", "binary")
)
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StackFileError(ValueError):
    """A stack file that cannot be read as a Pulumi stack config; ``str()`` is the one line to print."""

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


def resolve(stack: str | Path, root: Path) -> tuple[Path, str]:
    """(file, stack name) for a stack name (``dev`` -> ``<root>/Pulumi.dev.yaml``) or a path to a stack file."""
    text = str(stack)
    if not text:
        raise StackFileError("<stack>", "empty stack name")
    looks_like_path = "/" in text or text.endswith((".yaml", ".yml")) or Path(text).exists()
    if not looks_like_path:
        if not STACK_NAME.match(text):
            raise StackFileError(text, "not a stack name (letters, digits, '.', '_', '-') nor a stack file path")
        return root / f"Pulumi.{text}.yaml", text
    path = Path(text)
    name = path.name
    for suffix in (".yaml", ".yml"):
        name = name.removesuffix(suffix)
    name = name.removeprefix("Pulumi.")
    if not STACK_NAME.match(name):
        raise StackFileError(path, f"the stack name {name!r} taken from the file name is not a valid stack name")
    return path, name


def read_bytes(path: Path) -> bytes:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise StackFileError(path, "no such file") from None
    except OSError as e:
        raise StackFileError(path, f"cannot be read ({e.strerror})") from None
    if stat.S_ISDIR(info.st_mode):
        raise StackFileError(path, "is a directory, not a stack file")
    if not stat.S_ISREG(info.st_mode):
        raise StackFileError(path, "is not a regular file")
    if info.st_size > MAX_BYTES:
        raise StackFileError(path, f"is {info.st_size:,} bytes; a stack file may be at most {MAX_BYTES:,} bytes")
    try:
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise StackFileError(path, f"cannot be read ({e.strerror})") from None
    if len(data) > MAX_BYTES:  # grew since stat
        raise StackFileError(path, f"is larger than {MAX_BYTES:,} bytes")
    return data


def _text(path: Path, data: bytes) -> str:
    nul = data.find(b"\0")
    if nul >= 0:
        raise StackFileError(path, f"is binary, not YAML text (NUL byte at offset {nul})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise StackFileError(path, f"is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})") from None
    return text.removeprefix("\ufeff")


def _where(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "an unknown position"


def _check_nodes(path: Path, root: yaml.Node) -> None:
    """Tags, duplicate keys, nesting depth and expanded size, on the node graph before anything is built."""
    sizes: dict[int, int] = {}

    def walk(node: yaml.Node, depth: int) -> int:
        if id(node) in sizes:  # an alias: its size counts again, its content was checked once
            return sizes[id(node)]
        if depth > MAX_DEPTH:
            raise StackFileError(path, f"nests deeper than {MAX_DEPTH} levels at {_where(node.start_mark)}")
        if node.tag not in _STANDARD_TAGS and node.tag != "tag:yaml.org,2002:merge":
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            where = _where(node.start_mark)
            raise StackFileError(path, f"uses the YAML tag {tag} at {where}; only plain YAML is allowed")
        sizes[id(node)] = 1  # a cycle (an alias inside its own anchor) counts once and ends here
        size = 1
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Node] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    if key.value in seen:
                        first = seen[key.value].start_mark
                        raise StackFileError(
                            path,
                            f"duplicate key {key.value!r} at {_where(key.start_mark)} (first at {_where(first)}); "
                            "YAML would keep only the last",
                        )
                    seen[key.value] = key
                size += walk(key, depth + 1) + walk(value, depth + 1)
        elif isinstance(node, yaml.SequenceNode):
            size += sum(walk(item, depth + 1) for item in node.value)
        if size > MAX_NODES:
            raise StackFileError(path, f"expands to more than {MAX_NODES:,} values (YAML aliases: an alias bomb?)")
        sizes[id(node)] = size
        return size

    walk(root, 0)


def parse(path: Path, data: bytes) -> dict[str, Any]:
    """The stack file's top-level map; ``StackFileError`` for anything that is not a plain YAML map."""
    text = _text(path, data)
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
            if node is None:
                raise StackFileError(path, "is empty (a stack file is a map with a `config:` key)")
            _check_nodes(path, node)
            document = loader.construct_document(node)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            problem = e.problem or e.context or "invalid YAML"
            raise StackFileError(path, f"YAML syntax error at {_where(mark)}: {problem}") from None
        except yaml.YAMLError as e:
            raise StackFileError(path, f"not valid YAML ({str(e).splitlines()[0]})") from None
        except RecursionError:
            raise StackFileError(path, "nests too deeply to be a stack file") from None
    finally:
        loader.dispose()
    if not isinstance(document, Mapping):
        what = "a list" if isinstance(document, list) else f"a scalar ({type(document).__name__})"
        raise StackFileError(path, f"the top level is {what}; a stack file is a map with a `config:` key")
    config = document.get("config")
    if config is not None and not isinstance(config, Mapping):
        raise StackFileError(path, f"`config` must be a map of keys to values, not {type(config).__name__}")
    for key in config or {}:
        if not isinstance(key, str):
            raise StackFileError(path, f"config key {key!r} is not a string")
    return dict(document)


def read(path: Path) -> dict[str, Any]:
    """The parsed stack file (a map); ``StackFileError`` with one line for anything else."""
    return parse(path, read_bytes(path))
