"""ASCII folding, once, and the comparable forms its callers build on it."""

from __future__ import annotations

from workbench.datamap import linkage
from workbench.ingest import headers
from workbench.ingest.sources import _recognise
from workbench.text import fold


def test_fold_drops_accents_and_keeps_case_and_punctuation() -> None:
    assert fold("Café Müller-Ørsted, B.V.") == "Cafe Muller-rsted, B.V."
    assert fold("Coöperatie Ĳssel") == "Cooperatie IJssel"  # the Dutch ij ligature has an ASCII form
    assert fold("Straße") == "Strae"  # no ASCII form: the letter goes
    assert fold("plain ascii 123") == "plain ascii 123"


def test_each_caller_composes_its_own_form() -> None:
    assert headers.fold("Geboortédatum (dd-mm)") == "geboortedatumddmm"  # case and punctuation gone
    assert linkage.fold("Bakkerij Çelik B.V.") == "bakkerij celik bv"  # dots dropped, words kept
    assert linkage.fold("jan@Hé-ok.nl") == "jan@he oknl"  # @ kept, dots gone, other punctuation a space
    assert _recognise._words("Naam Débiteur 2") == {"naam", "debiteur"}  # letters only, two or more
