"""Runs the built examples and checks that their `check <name> <value>` lines agree with the
Python package on the same inputs. usage: python examples/check_same_numbers.py BUILD_DIR"""

import subprocess
import sys

import numpy as np

import lossfn as lf


def python_values():
    i = np.arange(1000)
    p = np.sin(0.1 * i).astype(np.float32)
    t = (i % 2).astype(np.float32)
    v, g = lf.bce_with_logits.value_and_grad(p, t)
    # the same numbers as (250, 4) class scores, labels row % 4
    sv, sg = lf.softmax_cross_entropy.value_and_grad(p.reshape(-1, 4), np.arange(p.size // 4) % 4)
    return {"huber": lf.huber(p, t), "bce_with_logits": v, "bce_with_logits_grad3": float(g[3]),
            "log_cosh_sum": lf.log_cosh(p, t, reduction="sum"),
            "softmax_cross_entropy": sv, "softmax_cross_entropy_grad5": float(sg.ravel()[5])}


def main():
    build = sys.argv[1]
    want = python_values()
    for exe in ("train_huber", "c_api_example"):
        out = subprocess.run([f"{build}/{exe}"], capture_output=True, text=True, check=True).stdout
        print(out, end="")
        got = {w[1]: float(w[2]) for w in (line.split() for line in out.splitlines()) if w[:1] == ["check"]}
        assert set(got) == set(want), (exe, sorted(got))
        for name, value in want.items():
            assert abs(got[name] - value) <= 1e-6 * max(1.0, abs(value)), (exe, name, got[name], value)
    print("examples agree with the Python package")


if __name__ == "__main__":
    main()
