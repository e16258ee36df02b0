"""The serving process's garbage-collector tuning (diplomacy/serving.py)."""

import gc
import importlib

import pytest

from diplomacy import serving


@pytest.fixture
def restored_gc():
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_tune_gc_freezes_what_start_up_made_and_raises_the_thresholds(restored_gc):
    gc.unfreeze()
    serving.tune_gc()
    assert gc.get_freeze_count() > 10_000
    assert gc.get_threshold() == serving.GC_THRESHOLDS


def test_the_wsgi_module_tunes_unless_told_not_to(restored_gc, monkeypatch):
    gc.unfreeze()
    monkeypatch.setenv("DJANGO_GC_TUNING", "0")
    wsgi = importlib.import_module("diplomacy.wsgi")
    importlib.reload(wsgi)
    assert gc.get_freeze_count() == 0
    monkeypatch.setenv("DJANGO_GC_TUNING", "1")
    importlib.reload(wsgi)
    assert gc.get_freeze_count() > 10_000
    assert callable(wsgi.application)
