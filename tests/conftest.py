import os
import sys

import pytest

import lossfn as lf

sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture(params=lf.build_info()["isas"])
def isa(request):
    """Runs a test once per kernel level this CPU supports, restoring the chosen one after."""
    before = lf.build_info()["isa"]
    lf.set_isa(request.param)
    yield request.param
    lf.set_isa(before)


@pytest.fixture
def threads():
    """Restores the thread count a test changes."""
    before = lf.get_num_threads()
    yield
    lf.set_num_threads(before)
