"""Build facts, run-time ISA dispatch, thread settings and the command line."""

import glob
import os
import subprocess
import sys

import pytest

import lossfn as lf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code, **env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env=dict(os.environ, **env)).stdout.strip()


def test_build_info():
    info = lf.build_info()
    assert set(info) == {"version", "compiler", "isa", "isas", "openmp", "threads", "cuda"}
    assert info["version"] == lf.__version__
    assert info["isa"] in info["isas"] and "baseline" in info["isas"]
    assert info["isa"] == info["isas"][-1]  # the best level is chosen by default
    assert info["threads"] == lf.get_num_threads() >= 1


@pytest.mark.parametrize("level", ["baseline", "avx2", "avx512"])
def test_lossfn_isa_environment_variable(level):
    isas = lf.build_info()["isas"]
    chosen = run_python("import lossfn; print(lossfn.build_info()['isa'])", LOSSFN_ISA=level)
    expected = level if level in isas else isas[-1 if level == "avx512" else 0]
    assert chosen == expected


def test_omp_num_threads_is_honoured():
    assert run_python("import lossfn; print(lossfn.get_num_threads())", OMP_NUM_THREADS="3") == "3"


def test_set_num_threads(threads):
    lf.set_num_threads(3)
    assert lf.get_num_threads() == 3 == lf.build_info()["threads"]


def test_module_command_line():
    out = subprocess.run([sys.executable, "-m", "lossfn"], capture_output=True, text=True, check=True).stdout
    assert '"isa"' in out
    for loss in lf.losses():
        assert loss.name in out


def test_every_loss_is_complete():
    """Object, reference, registry entry, peer and formula, and a line in docs/losses.md."""
    doc_path = os.path.join(ROOT, "docs", "losses.md")
    docs = None
    if os.path.exists(doc_path):
        with open(doc_path) as f:
            docs = f.read()
    for loss in lf.losses():
        assert getattr(lf, loss.name) is loss
        assert loss.reference is getattr(lf.reference, loss.name)
        assert loss.peer and loss.formula and loss.__doc__
        if docs is not None:
            assert f"`{loss.name}`" in docs, f"docs/losses.md lacks {loss.name}"


def test_baseline_code_has_no_avx_instructions():
    libraries = glob.glob(os.path.join(ROOT, "build", "*", "liblossfn.a"))
    if not libraries:
        pytest.skip("no build tree (build/*/liblossfn.a) next to the tests")
    if subprocess.run(["which", "objdump"], capture_output=True).returncode != 0:
        pytest.skip("objdump not installed")
    library = max(libraries, key=os.path.getmtime)
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "check_isolation.py"), library], check=True)


def test_cmake_package_and_headers_ship_with_the_package():
    cmake_dir, include = lf.get_cmake_dir(), lf.get_include()
    assert os.path.exists(os.path.join(cmake_dir, "lossfnConfig.cmake"))
    for header in ("lossfn.hpp", "core.hpp", "losses.hpp", "row_losses.hpp", "lossfn.h"):
        assert os.path.exists(os.path.join(include, "lossfn", header))
    out = subprocess.run([sys.executable, "-m", "lossfn", "--cmake-dir"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == cmake_dir


@pytest.mark.parametrize("tool", ["gen_docs", "gen_stubs"])
def test_generated_files_are_current(tool):
    """docs/losses.md and __init__.pyi are generated from the registry: regenerate after a change."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(tool, os.path.join(ROOT, "tools", f"{tool}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with open(module.PATH) as f:
        assert f.read() == module.render(), f"run python tools/{tool}.py"


def test_version_has_one_source():
    """core.hpp's LOSSFN_VERSION_* lines are the version of the library, the module and the package."""
    import importlib.metadata
    import re
    with open(os.path.join(lf.get_include(), "lossfn", "core.hpp")) as f:
        text = f.read()
    parts = [re.search(rf"#define LOSSFN_VERSION_{k} (\d+)", text).group(1) for k in ("MAJOR", "MINOR", "PATCH")]
    assert lf.__version__ == ".".join(parts) == importlib.metadata.version("lossfn")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_one_shared_library_serves_python_and_cmake():
    """The package holds one liblossfn.so (no soname copies, no static library), and the Python
    module runs on it: the one the CMake package points C++ users at."""
    lib = os.path.join(os.path.dirname(lf.__file__), "lib")
    libraries = sorted(name for name in os.listdir(lib) if name.startswith("liblossfn"))
    assert libraries == ["liblossfn.so"], libraries
    with open("/proc/self/maps") as f:
        mapped = {line.split()[-1] for line in f if "liblossfn" in line}
    assert mapped == {os.path.realpath(os.path.join(lib, "liblossfn.so"))}, mapped
    core = glob.glob(os.path.join(os.path.dirname(lf.__file__), "_core*.so"))
    assert core and os.path.getsize(core[0]) < os.path.getsize(os.path.join(lib, "liblossfn.so")) / 4
