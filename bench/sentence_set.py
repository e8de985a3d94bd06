#!/usr/bin/env python3
"""A set of English sentences for bench/vq_faiss.py's sentence-embedding rows: the
sentences of the docstrings of the running Python's standard library (modules, classes,
functions; not its tests) that start with a capital and end a sentence, 5 to 50 words
of printable ASCII, each once, shuffled with a fixed seed, the first N (all 12,486 of
Python 3.11.7's by default). The same Python version gives the same file.

    python bench/sentence_set.py OUT.txt [--count N]
    build/release/examples/minilm build/models/all-MiniLM-L6-v2 --embed OUT.txt OUT.f32
    python bench/vq_faiss.py --vectors OUT.f32 ...
"""
import argparse
import ast
import pathlib
import random
import re
import sys
import sysconfig
import warnings

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
ALLOWED = re.compile(r"^[A-Z][\x20-\x7e]+[.!?]$")


def docstrings(path):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            text = ast.get_docstring(node)
            if text:
                yield text


def sentences(stdlib):
    for path in sorted(stdlib.rglob("*.py")):
        parts = path.relative_to(stdlib).parts
        if parts[0] in ("test", "site-packages", "idlelib", "lib2to3") or "tests" in parts:
            continue
        for text in docstrings(path):
            for paragraph in re.split(r"\n\s*\n", text):
                for s in SENTENCE_END.split(" ".join(paragraph.split())):
                    if ALLOWED.match(s) and 5 <= len(s.split()) <= 50:
                        yield s


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--count", type=int, default=20000, help="at most this many")
    args = parser.parse_args()
    unique = sorted(set(sentences(pathlib.Path(sysconfig.get_paths()["stdlib"]))))
    random.Random(2013).shuffle(unique)
    chosen = unique[: args.count]
    pathlib.Path(args.out).write_text("".join(s + "\n" for s in chosen), encoding="utf-8")
    print(f"{len(chosen)} of {len(unique)} sentences (Python {sys.version.split()[0]}'s standard library) -> {args.out}")


if __name__ == "__main__":
    main()
