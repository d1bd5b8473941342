"""Fixtures of the unit tests."""

import pytest

from tests.unit.attainment_log import Log


@pytest.fixture
def log() -> Log:
    """A concluded Odenwaldkreis 2021 agreement without targets."""
    log = Log()
    log.conclude()
    return log
