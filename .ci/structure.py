#!/usr/bin/env python3
"""Structure checks (issue 31), run by .ci/run; exit 1 on a finding.

1. No function in src/ over 80 lines (from its `fn` line to its closing brace), outside the
   demo seeders (src/demo.rs, src/*/demo.rs, functions named seed_demo*).
2. No import circle between modules: every file of src/ is a module; an edge A -> B for each
   `crate::…`, `super::…` or child-module path in A's code (tests excluded) that names B. The
   graph must be acyclic (a ladder from main down to db, error and time).

Usage: .ci/structure.py [--src src] [--max 80]
"""
import argparse, collections, os, re, sys

def code_only(text):
    """Comments, strings and char literals blanked (braces inside them must not count)."""
    out, i, n = [], 0, len(text)
    while i < n:
        ch = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i)); i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j])); i = j
        elif ch == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not (text[i-1].isalnum() or text[i-1] == "_")):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            end = text.find('"' + hashes, i + len(hashes) + 2)
            end = n if end < 0 else end + 1 + len(hashes)
            out.append(re.sub(r"[^\n]", " ", text[i:end])); i = end
        elif ch == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(re.sub(r"[^\n]", " ", text[i:j + 1])); i = j + 1
        elif ch == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4]):
            m = re.match(r"'(\\.|[^\\'])'", text[i:i + 4])
            out.append(" " * len(m.group(0))); i += len(m.group(0))
        elif ch == "'" and re.match(r"'\\u\{[0-9a-fA-F]+\}'", text[i:i + 12]):
            m = re.match(r"'\\u\{[0-9a-fA-F]+\}'", text[i:])
            out.append(" " * len(m.group(0))); i += len(m.group(0))
        else:
            out.append(ch); i += 1
    return "".join(out)

def long_functions(path, code, limit):
    found = []
    for m in re.finditer(r"\bfn\s+(\w+)", code):
        name, start = m.group(1), m.start()
        # The body: the first `{` after the signature, unless a `;` ends it first (trait item).
        k = start
        depth_paren = 0
        while k < len(code):
            c = code[k]
            if c in "(<[": depth_paren += 1
            elif c in ")>]": depth_paren -= 1
            elif c == ";" and depth_paren <= 0: k = -1; break
            elif c == "{" and depth_paren <= 0: break
            k += 1
        if k < 0 or k >= len(code):
            continue
        depth, j = 0, k
        while j < len(code):
            if code[j] == "{": depth += 1
            elif code[j] == "}":
                depth -= 1
                if depth == 0: break
            j += 1
        lines = code.count("\n", start, j) + 1
        if lines > limit:
            line_no = code.count("\n", 0, start) + 1
            found.append((path, line_no, name, lines))
    return found

def modules(src):
    files = {}
    for dirpath, _, names in os.walk(src):
        for f in names:
            if f.endswith(".rs"):
                rel = os.path.relpath(os.path.join(dirpath, f), src)[:-3].split(os.sep)
                if rel[-1] in ("mod", "lib", "main"):
                    rel = rel[:-1]
                files["::".join(rel)] = os.path.join(dirpath, f)
    return files

def edges_of(files):
    mods = set(files)
    def resolve(path):
        p = [x for x in path.split("::") if x]
        while p:
            if "::".join(p) in mods: return "::".join(p)
            p = p[:-1]
        return None
    edges = collections.defaultdict(set)
    for m, f in files.items():
        code = code_only(open(f, encoding="utf-8").read())
        code = code.split("#[cfg(test)]")[0]
        is_dir = os.path.basename(f) in ("mod.rs", "lib.rs", "main.rs")
        here = m.split("::") if m else []
        parent = here if is_dir else here[:-1]
        refs = []
        for u in re.finditer(r"\b(crate|super|self)((?:::\w+)+)(::\{([^}]*)\})?", code):
            base = u.group(2).strip(":")
            if u.group(1) == "crate": prefix = []
            elif u.group(1) == "super": prefix = parent[:-1]
            else: prefix = parent
            full = prefix + base.split("::")
            refs.append(full)
            for item in (u.group(4) or "").split(","):
                item = item.strip().split(" ")[0].split("::")[0]
                if item and item not in ("self", "*"):
                    refs.append(full + [item])
        for r in refs:
            t = resolve("::".join(r))
            # A module holding its children is structure, not an import: no edge down to them.
            if t is None or t == m or (t.startswith(m + "::") if m else True):
                continue
            edges[m].add(t)
    return edges

def circles(edges):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(100000)
    def visit(v):
        index[v] = low[v] = counter[0]; counter[0] += 1
        stack.append(v); on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1: out.append(sorted(comp))
    for v in sorted(edges):
        if v not in index: visit(v)
    return out

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
    ap.add_argument("--max", type=int, default=80)
    a = ap.parse_args()
    files = modules(a.src)
    bad = []
    for m, f in sorted(files.items()):
        if os.path.basename(f) == "demo.rs":
            continue
        code = code_only(open(f, encoding="utf-8").read())
        for path, line, name, n in long_functions(f, code, a.max):
            if not name.startswith("seed_demo"):
                bad.append(f"{os.path.relpath(path)}:{line} fn {name}: {n} lines (limit {a.max})")
    cyc = circles(edges_of(files))
    for c in cyc:
        bad.append("import circle: " + " <-> ".join(c))
    for b in bad:
        print(b)
    print(f"structure: {len(files)} modules, {sum(1 for b in bad if 'fn ' in b)} long functions, {len(cyc)} circles")
    sys.exit(1 if bad else 0)

if __name__ == "__main__":
    main()
