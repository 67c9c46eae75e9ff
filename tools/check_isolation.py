#!/usr/bin/env python3
"""Proves that the baseline code path holds no AVX instruction and that no symbol is shared
between ISAs.

Kernels are compiled once per ISA into namespaces lossfn::avx2 and lossfn::avx512, and Eigen (the
GEMM engine, cpp/src/la/gemm.cpp) into namespaces renamed lossfn_eigen_<isa>. The trap (see
PyTorch's "Linking AVX and non-AVX files"): an inline function or template instance compiled in
an AVX object under an ordinary name is a weak symbol the linker may pick for the baseline
callers too. This script reads the static library and fails if

  1. any function outside the ISA namespaces (its mangled name mentions none of them) contains a
     VEX/EVEX instruction (a mnemonic starting with 'v', or a ymm/zmm/mask register), which
     covers every copy the linker could choose;
  2. any symbol is defined, weak or strong, in objects of two ISAs (the baseline one counting the
     dispatcher and calls, compiled alike): even one without AVX code today would be one copy of
     two different compilations;
  3. any symbol of Eigen is left un-renamed (Eigen::...).

usage: check_isolation.py [path/to/liblossfn.a]   (default: the newest build/*/liblossfn.a)
"""

import glob
import os
import re
import subprocess
import sys

ISAS = ("avx2", "avx512")
# A mangled name that mentions an ISA namespace: lossfn::avx2 (6lossfn4avx2), lossfn::avx512
# (6lossfn6avx512), or the renamed Eigen (17lossfn_eigen_avx2, 19lossfn_eigen_avx512).
ISA_NAME = re.compile(r"6lossfn4(avx2)|6lossfn6(avx512)|17lossfn_eigen_(avx2)|19lossfn_eigen_(avx512)")
AVX_OPERAND = re.compile(r"%(ymm|zmm)\d+|%k[0-7]\b")
# Data the toolchain itself emits into every object (the personality routine's reference):
# identical bytes whichever copy is kept.
SHARED_DATA = re.compile(r"^DW\.ref\.__gxx_personality_v0$")


def find_library():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    candidates = glob.glob(os.path.join(here, "build", "*", "liblossfn.a"))
    if not candidates:
        sys.exit("no build/*/liblossfn.a: build first (pip install . builds into build/)")
    return max(candidates, key=os.path.getmtime)


def isa_of_name(name):
    m = ISA_NAME.search(name)
    if not m:
        return None
    return next(g for g in m.groups() if g)


def offending_functions(library):
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", library], check=True,
                         capture_output=True, text=True).stdout
    current, isa_code, bad, functions = None, False, {}, 0
    for line in out.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
        if m:
            current = m.group(1)
            isa_code = isa_of_name(current) is not None
            functions += 1
            continue
        if current is None or isa_code or ":\t" not in line:
            continue
        insn = line.split(":\t", 1)[1].strip()
        mnemonic = insn.split()[0] if insn else ""
        if mnemonic.startswith("v") or AVX_OPERAND.search(insn):
            bad.setdefault(current, insn)
    return bad, functions


def defined_symbols(library):
    """[(member index, {external symbol: type})] for each object of the archive, in order."""
    out = subprocess.run(["nm", "--defined-only", library], check=True, capture_output=True, text=True).stdout
    members = []
    for line in out.splitlines():
        if line.endswith(".o:") or line.endswith(".obj:"):
            members.append({})
            continue
        parts = line.split()
        if len(parts) == 3 and members:
            kind, name = parts[1], parts[2]
            if kind.isupper() or kind in "uvw":
                members[-1][name] = kind
    return members


def member_isa(symbols):
    """The ISA an object was compiled for: the one its ISA-namespace symbols name (baseline: none)."""
    found = {isa_of_name(name) for name in symbols} - {None}
    if len(found) > 1:
        return "mixed: " + ", ".join(sorted(found))
    return found.pop() if found else "baseline"


def shared_symbols(members):
    seen = {}
    for symbols in members:
        isa = member_isa(symbols)
        for name in symbols:
            seen.setdefault(name, set()).add(isa)
    return {name: isas for name, isas in seen.items() if len(isas) > 1 and not SHARED_DATA.match(name)}


def unrenamed_eigen(library):
    out = subprocess.run(["nm", "-C", library], check=True, capture_output=True, text=True).stdout
    return sorted({line.split(" ", 2)[-1] for line in out.splitlines() if re.search(r"(?<![\w])Eigen::", line)})


def main():
    library = sys.argv[1] if len(sys.argv) > 1 else find_library()
    bad, functions = offending_functions(library)
    if functions == 0:
        sys.exit(f"{library}: no functions found")
    failed = False
    for name, insn in sorted(bad.items()):
        print(f"AVX instruction outside lossfn::avx2/avx512: {name}: {insn}")
        failed = True
    members = defined_symbols(library)
    mixed = [member_isa(s) for s in members if member_isa(s).startswith("mixed")]
    for m in mixed:
        print(f"an object holds code of several ISAs ({m})")
        failed = True
    for name, isas in sorted(shared_symbols(members).items()):
        print(f"symbol defined for several ISAs ({', '.join(sorted(isas))}): {name}")
        failed = True
    for name in unrenamed_eigen(library)[:20]:
        print(f"Eigen symbol not renamed per ISA: {name}")
        failed = True
    if failed:
        sys.exit(1)
    print(f"{library}: {functions} functions in {len(members)} objects; AVX instructions only inside lossfn::avx2, "
          f"lossfn::avx512 and their Eigen; no symbol defined for two ISAs; no Eigen:: symbol")


if __name__ == "__main__":
    main()
