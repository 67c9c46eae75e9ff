"""python -m lossfn: build facts and the list of losses; --cmake-dir / --include for C++ builds."""

import argparse
import json

import lossfn as lf


def main():
    parser = argparse.ArgumentParser(prog="python -m lossfn", description=__doc__)
    parser.add_argument("--cmake-dir", action="store_true", help="print the directory of lossfnConfig.cmake")
    parser.add_argument("--include", action="store_true", help="print the directory of the C/C++ headers")
    args = parser.parse_args()
    if args.cmake_dir:
        print(lf.get_cmake_dir())
        return
    if args.include:
        print(lf.get_include())
        return
    print(json.dumps(lf.build_info(), indent=2))
    print(f"{len(lf.losses())} losses:")
    for loss in lf.losses():
        hyper = ", ".join(f"{k}={v!r}" for k, v in loss.spec.hyper.items())
        print(f"  {loss.name:16s} {loss.family:11s} ({', '.join(loss.inputs)}{'; ' + hyper if hyper else ''})")


if __name__ == "__main__":
    main()
