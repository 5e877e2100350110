"""Placeholder while the moneybird module is written."""

from workbench.model import ExportKind

KINDS: list[ExportKind] = []
FORMATS: dict[str, tuple[str, ...]] = {}


def detect(path, mappings=None):
    return None


def read(path, kind=None, mappings=None):
    raise NotImplementedError
