#!/usr/bin/env python3
"""check_layers.py — checks that includes flow one way between the source layers and
that no two source files call each other in a loop.

    python3 scripts/check_layers.py [--build build]

Include direction: every `#include "..."` in src/ is resolved to a layer (the directory
under src/, or "public" for include/torchless.h) and checked against ALLOWED below.
Headers private to their directory (names ending in _int.h or _internal.h, and the
tokenizer's stage headers tok_*.h) may only be included from that directory.

Call loops: `nm` of each object file of the library (BUILD/src/**/*.o) lists the symbols
it defines (T, D, B, R, ...) and those it uses (U); file A calls file B when A uses a
symbol B defines. Two files that call each other are a loop.

Prints every violation on its own line and exits 1 when there is any; exits 2 when the
objects are missing (build first). Standard library only.
"""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# layer -> layers it may include (itself and the public header are always allowed).
# Surfaces (cli, server) sit above the engine; the engine above tasks; runtime
# beside kernels, below model; tokenizer above io; core at the bottom.
ALLOWED = {
    "cli":       {"server", "tasks", "engine", "model", "tokenizer", "io", "core", "runtime", "kernels"},
    "server":    {"tasks", "engine", "model", "tokenizer", "io", "core", "runtime", "kernels"},
    "engine":    {"tasks", "model", "runtime", "kernels", "tokenizer", "io", "core"},
    "tasks":     {"model", "runtime", "kernels", "tokenizer", "io", "core"},
    "model":     {"kernels", "runtime", "io", "core"},  # the tokenizer only via torchless.h
    "kernels":   {"runtime", "core"},
    "runtime":   {"core"},
    "tokenizer": {"io", "core"},
    "io":        {"core"},
    "core":      set(),
}
PRIVATE_HEADER = re.compile(r"(_int|_internal)\.h$|^tok_[a-z_]+\.h$")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of(rel):
    """Layer of a path relative to the repository: src/<layer>/..., or 'public'."""
    parts = rel.split("/")
    if parts[0] == "include":
        return "public"
    if parts[0] == "src" and len(parts) > 2:
        return parts[1]
    return None


def resolve(src_rel, inc):
    """Repository-relative path an #include "inc" in src_rel names (as -Iinclude -Isrc)."""
    for cand in (os.path.join(os.path.dirname(src_rel), inc), os.path.join("src", inc),
                 os.path.join("include", inc)):
        if os.path.isfile(os.path.join(ROOT, cand)):
            return os.path.normpath(cand)
    return None


def sources():
    """Repository-relative paths of every .c and .h file under src/."""
    out = []
    for d, _, files in os.walk(os.path.join(ROOT, "src")):
        for f in files:
            if f.endswith((".c", ".h")):
                out.append(os.path.relpath(os.path.join(d, f), ROOT))
    return sorted(out)


def include_violations():
    """Lines 'include: A -> B (layer x -> layer y)' for every include against the rules."""
    bad = []
    for rel in sources():
        src_layer = layer_of(rel)
        with open(os.path.join(ROOT, rel), encoding="utf-8", errors="replace") as f:
            text = f.read()
        for inc in INCLUDE.findall(text):
            tgt = resolve(rel, inc)
            if tgt is None:
                bad.append(f"include: {rel} -> \"{inc}\" (not found under src/ or include/)")
                continue
            tgt_layer = layer_of(tgt)
            if tgt_layer not in (src_layer, "public") and tgt_layer not in ALLOWED.get(src_layer, set()):
                bad.append(f"include: {rel} -> {tgt} (layer {src_layer} -> {tgt_layer} is not allowed)")
                continue
            if (tgt_layer != "public" and os.path.dirname(tgt) != os.path.dirname(rel)
                    and PRIVATE_HEADER.search(os.path.basename(tgt))):
                bad.append(f"include: {rel} -> {tgt} (private header of {os.path.dirname(tgt)})")
    return bad


def nm_symbols(obj):
    """(defined, undefined) global symbol sets of one object file."""
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        f = line.split()
        if len(f) == 2 and f[0] == "U":
            undefined.add(f[1])
        elif len(f) == 3 and f[1] in "TDBRGSVWi":
            defined.add(f[2])
    return defined, undefined


def call_loops(build):
    """Lines 'call loop: A <-> B (A uses x, B uses y)' for files that call each other."""
    objs = []
    for d, _, files in os.walk(os.path.join(ROOT, build, "src")):
        objs += [os.path.join(d, f) for f in files if f.endswith(".o")]
    if not objs:
        return None
    owner, uses = {}, {}
    for o in sorted(objs):
        name = os.path.relpath(o, os.path.join(ROOT, build))[:-2] + ".c"
        if name.startswith("src/cli/"):  # the program, not the library
            continue
        d, u = nm_symbols(o)
        for s in d:
            owner.setdefault(s, name)
        uses[name] = u
    calls = {}  # (a, b) -> one symbol a uses from b
    for a, u in uses.items():
        for s in sorted(u):
            b = owner.get(s)
            if b and b != a:
                calls.setdefault((a, b), s)
    bad = []
    for (a, b), s in sorted(calls.items()):
        if a < b and (b, a) in calls:
            bad.append(f"call loop: {a} <-> {b} ({a} uses {s}, {b} uses {calls[(b, a)]})")
    return bad


def main():
    """Runs both checks; prints violations; returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build", help="build directory holding src/**/*.o")
    args = ap.parse_args()
    bad = include_violations()
    loops = call_loops(args.build)
    if loops is None:
        print(f"check_layers: no object files under {args.build}/src (run make first)")
        return 2
    bad += loops
    for line in bad:
        print(line)
    print(f"check_layers: {len(bad)} violation(s)" if bad else "check_layers: OK")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
