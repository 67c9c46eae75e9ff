"""python -m lossfn: build facts and the list of losses."""

import json

import lossfn as lf


def main():
    print(json.dumps(lf.build_info(), indent=2))
    print(f"{len(lf.losses())} losses:")
    for loss in lf.losses():
        hyper = ", ".join(f"{k}={v!r}" for k, v in loss.spec.hyper.items())
        print(f"  {loss.name:16s} {loss.family:11s} ({', '.join(loss.inputs)}{'; ' + hyper if hyper else ''})")


if __name__ == "__main__":
    main()
