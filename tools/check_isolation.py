#!/usr/bin/env python3
"""Proves that the baseline code path holds no AVX instruction.

Kernels are compiled once per ISA into namespaces lossfn::avx2 and lossfn::avx512. The trap
(see PyTorch's "Linking AVX and non-AVX files"): an inline function or template instance
compiled in an AVX object under an ordinary name is a weak symbol the linker may pick for the
baseline callers too. This script disassembles the static library and fails if any function
outside the two ISA namespaces contains a VEX/EVEX instruction (a mnemonic starting with 'v',
or a ymm/zmm/mask register), which covers every copy the linker could choose.

usage: check_isolation.py [path/to/liblossfn.a]   (default: the newest build/*/liblossfn.a)
"""

import glob
import os
import re
import subprocess
import sys

ISA_FUNCTION = re.compile(r"^_Z[NZK]+6lossfn(4avx2|6avx512)")
AVX_OPERAND = re.compile(r"%(ymm|zmm)\d+|%k[0-7]\b")


def find_library():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    candidates = glob.glob(os.path.join(here, "build", "*", "liblossfn.a"))
    if not candidates:
        sys.exit("no build/*/liblossfn.a: build first (pip install . builds into build/)")
    return max(candidates, key=os.path.getmtime)


def offending_functions(library):
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", library], check=True,
                         capture_output=True, text=True).stdout
    current, isa_code, bad, functions = None, False, {}, 0
    for line in out.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
        if m:
            current = m.group(1)
            isa_code = bool(ISA_FUNCTION.match(current))
            functions += 1
            continue
        if current is None or isa_code or ":\t" not in line:
            continue
        insn = line.split(":\t", 1)[1].strip()
        mnemonic = insn.split()[0] if insn else ""
        if mnemonic.startswith("v") or AVX_OPERAND.search(insn):
            bad.setdefault(current, insn)
    return bad, functions


def main():
    library = sys.argv[1] if len(sys.argv) > 1 else find_library()
    bad, functions = offending_functions(library)
    if functions == 0:
        sys.exit(f"{library}: no functions found")
    if bad:
        for name, insn in sorted(bad.items()):
            print(f"AVX instruction outside lossfn::avx2/avx512: {name}: {insn}")
        sys.exit(1)
    print(f"{library}: {functions} functions; AVX instructions only inside lossfn::avx2 and lossfn::avx512")


if __name__ == "__main__":
    main()
