"""Fixtures for the intents tests: one classifier per test session (jieba loads once)."""

from __future__ import annotations

import pytest

from intents.classify import Classifier


@pytest.fixture(scope="session")
def clf() -> Classifier:
    """The classifier built from the shipped lexicon and user dictionary."""
    return Classifier.load()
