"""While the subscribers stop, FastStream's "Message fetch error" is dropped, nothing else."""

import logging

import pytest

from infra.broker.supervisor import fetch_errors_hidden
from infra.broker.transport import BROKER_LOGGER


def test_only_fetch_errors_are_dropped_and_only_during_the_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger(BROKER_LOGGER)
    with caplog.at_level(logging.DEBUG, logger=BROKER_LOGGER):
        with fetch_errors_hidden():
            logger.error("Message fetch error")
            logger.error("Consumer group lost")
        logger.error("Message fetch error")

    assert [record.getMessage() for record in caplog.records] == [
        "Consumer group lost",
        "Message fetch error",
    ]
    assert logger.filters == []
