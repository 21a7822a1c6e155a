#!/usr/bin/env python3
"""Lists the longest C++ and Python functions (bodies, in lines) under the given folders.

  scripts/function_lengths.py [--top N] [--max LINES] DIR...

C++ (.cc, .h, .cpp): a function is a brace block opened by a line that closes a parameter list
(`) {`, `) const {`, `) override {`, ... or a constructor's initializer list) outside any other
function. Python (.py, and scripts whose first line names python): a `def` outside any other
`def` (methods count), up to its last indented line. With --max, exits 1 if a function is longer
than LINES unless a comment on one of the three lines above its signature starts with
"long function:" and says why.
"""
import argparse
import pathlib
import re
import sys

SIGNATURE_END = re.compile(r"\)\s*(const)?\s*(override|final|noexcept)?\s*(->\s*[\w:<>]+\s*)?\{\s*$")
LAMBDA = re.compile(r"\[[^\]]*\]\s*(\([^)]*\))?\s*(mutable)?\s*(->\s*[\w:<>]+\s*)?\{\s*$")
NOT_FUNCTION = re.compile(r"^\s*(if|for|while|switch|catch|else|do|namespace|struct|class|enum)\b")


def strip(line):
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])*'", "''", line)
    return line.split("//")[0]


def functions(path):
    lines = path.read_text(errors="replace").splitlines()
    depth = 0
    current = None  # (name, start line, depth before it)
    found = []
    for number, raw in enumerate(lines, 1):
        line = strip(raw)
        if current is None and SIGNATURE_END.search(line) and not NOT_FUNCTION.match(line) \
                and not LAMBDA.search(line):
            # Walk back to the line that starts the signature (the one with the name).
            start = number
            while start > 1 and "(" not in strip(lines[start - 1]).split(")")[0] and \
                    number - start < 8:
                start -= 1
            text = " ".join(strip(l).strip() for l in lines[start - 1:number])
            name = re.findall(r"([~\w:]+)\s*\(", text)
            current = (name[0] if name else "?", start, depth)
        depth += line.count("{") - line.count("}")
        if current is not None and depth <= current[2]:
            name, start, _ = current
            above = " ".join(lines[max(0, start - 4):start - 1])
            found.append((number - start + 1, str(path), start, name, "long function:" in above))
            current = None
    return found


PY_DEF = re.compile(r"^(\s*)(async\s+)?def\s+(\w+)")


def python_functions(path):
    lines = path.read_text(errors="replace").splitlines()
    found = []
    current = None  # (name, start line, indentation)
    for number, line in enumerate(lines + ["end"], 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        if current is not None and indent <= current[2] and number > current[1]:
            name, start, _ = current
            last = max(n for n in range(start, number) if lines[n - 1].strip())
            above = " ".join(lines[max(0, start - 4):start - 1])
            found.append((last - start + 1, str(path), start, name, "long function:" in above))
            current = None
        match = PY_DEF.match(line)
        if match and current is None:
            current = (match.group(3), number, len(match.group(1)))
    return found


def is_python(path):
    if path.suffix == ".py":
        return True
    if path.suffix or not path.is_file():
        return False
    with open(path, "rb") as f:
        return b"python" in f.readline()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--max", type=int, default=0)
    args = parser.parse_args()
    found = []
    for d in args.dirs:
        for path in sorted(pathlib.Path(d).rglob("*")):
            if path.suffix in (".cc", ".h", ".cpp"):
                found.extend(functions(path))
            elif "__pycache__" not in path.parts and is_python(path):
                found.extend(python_functions(path))
    found.sort(reverse=True)
    for length, path, line, name, explained in found[:args.top]:
        print(f"{length:5d}  {path}:{line}  {name}{'  (explained)' if explained else ''}")
    if args.max:
        over = [f for f in found if f[0] > args.max and not f[4]]
        if over:
            print(f"{len(over)} function(s) over {args.max} lines without a 'long function:' "
                  "comment", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
