"""Writes a benchmark script's section of docs/benchmarks.md: the text read from stdin replaces
what stands between `<!-- NAME:start -->` and `<!-- NAME:end -->`; without those markers it is
appended under `## HEADING`. The text is echoed.

    ... | python3 bench/section.py NAME HEADING
"""
import re
import sys

name, heading = sys.argv[1:3]
section = sys.stdin.read().rstrip("\n")
path = "docs/benchmarks.md"
text = open(path).read()
start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
block = start + "\n" + section + "\n" + end
if start in text:
    text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
else:
    text = text.rstrip("\n") + f"\n\n## {heading}\n\n" + block + "\n"
open(path, "w").write(text)
print(section)
