#!/usr/bin/env python3
"""Fails if the modules of a crate import each other in a circle.

Usage: scripts/check-module-cycles.py CRATE_SRC_DIR...

An edge A -> B is any path from A naming B (`use crate::b::…`, `super::b::…`,
`crate::b::f(…)` in code, a parent naming a child `b::…`), with names the crate root
re-exports (`pub use state::AppState`) followed to the module that defines them; a
bare `mod b;` declaration is not an edge. Test modules (`#[cfg(test)] mod tests`) are
left out. Each strongly connected component of more than one module is reported with
its edges, and the exit status is 1.
"""
import os
import re
import sys


def modules(root):
    found = {}
    for directory, _, files in os.walk(root):
        for f in files:
            if not f.endswith('.rs'):
                continue
            path = os.path.join(directory, f)
            rel = os.path.relpath(path, root)[:-3]
            if rel in ('lib', 'main'):
                name = 'crate'
            else:
                parts = rel.split('/')
                if parts[-1] == 'mod':
                    parts = parts[:-1]
                name = 'crate::' + '::'.join(parts)
            found[name] = path
    return found


def source(path):
    text = open(path, encoding='utf-8').read()
    text = re.split(r'#\[cfg\(test\)\]\s*mod tests', text)[0]
    return re.sub(r'//[^\n]*', '', text)


def graph(root):
    mods = modules(root)
    reexport = {}
    if 'crate' in mods:
        for u in re.finditer(r'pub use\s+([a-z_]+)::(\{[^}]*\}|[A-Za-z_]+)\s*;', source(mods['crate'])):
            for name in re.findall(r'[A-Za-z_]+', u.group(2)):
                reexport[name] = 'crate::' + u.group(1)

    def resolve(current, path):
        segs = [s for s in path.split('::') if s]
        base = current.split('::')
        if not segs:
            return None
        if segs[0] == 'crate':
            base, segs = ['crate'], segs[1:]
        elif segs[0] == 'super':
            while segs and segs[0] == 'super':
                base, segs = base[:-1], segs[1:]
        elif segs[0] == 'self':
            segs = segs[1:]
        else:
            return None
        if base == ['crate'] and segs and segs[0] in reexport:
            return reexport[segs[0]]
        for i in range(len(segs), -1, -1):
            candidate = '::'.join(base + segs[:i])
            if candidate in mods:
                return candidate
        return None

    edges = {m: set() for m in mods}
    path_re = re.compile(r'\b((?:crate|super|self)(?:::(?:super|[A-Za-z_][A-Za-z0-9_]*))+)')
    for m, path in mods.items():
        text = source(path)
        targets = set()
        for u in re.finditer(r'use\s+((?:crate|super|self)[^;]*);', text, re.S):
            flat = re.sub(r'\s+', '', re.sub(r'\s+as\s+\w+', '', u.group(1)))
            braced = re.match(r'(.*?)::\{(.*)\}$', flat)
            if braced:
                prefix, items, depth, cur = braced.group(1), [], 0, ''
                for ch in braced.group(2):
                    depth += ch == '{'
                    depth -= ch == '}'
                    if ch == ',' and depth == 0:
                        items.append(cur)
                        cur = ''
                    else:
                        cur += ch
                items.append(cur)
                targets.update(prefix + '::' + i.split('{')[0].rstrip(':') for i in items if i)
            else:
                targets.add(flat)
        targets.update(r.group(1) for r in path_re.finditer(text))
        for t in targets:
            target = resolve(m, t)
            if target and target not in (m, 'crate'):
                edges[m].add(target)
        for child in mods:
            if child.startswith(m + '::') and child.count('::') == m.count('::') + 1:
                if re.search(r'(?<![:\w])' + child.split('::')[-1] + r'::', text):
                    edges[m].add(child)
    return edges


def cycles(edges):
    def reach(v):
        seen, todo = {v}, [v]
        while todo:
            for w in edges[todo.pop()]:
                if w not in seen:
                    seen.add(w)
                    todo.append(w)
        return seen
    reachable = {v: reach(v) for v in edges}
    done, found = set(), []
    for v in sorted(edges):
        if v in done:
            continue
        component = sorted(w for w in reachable[v] if v in reachable[w])
        done.update(component)
        if len(component) > 1:
            found.append(component)
    return found


def main():
    failed = False
    for root in sys.argv[1:]:
        edges = graph(root)
        found = cycles(edges)
        if not found:
            print(f'ok: {root}: {len(edges)} modules, no import circle')
            continue
        failed = True
        for component in found:
            print(f'error: {root}: these modules import each other in a circle:', file=sys.stderr)
            for m in component:
                inside = sorted(e for e in edges[m] if e in component)
                print(f'  {m} -> {", ".join(inside)}', file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
