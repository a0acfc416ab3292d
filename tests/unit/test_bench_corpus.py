"""`make bench-e2e`'s corpus: a seed names it (the same pages again), another seed gives other pages, and every
kind the issue measured is in it."""

from __future__ import annotations

from bench.e2e import KINDS, corpus


def test_a_seed_names_its_corpus_and_another_seed_another() -> None:
    pages = corpus(7, 10)
    assert pages == corpus(7, 10)
    assert list(pages.values()) != list(corpus(8, 10).values())
    assert len(set(pages.values())) == 10  # no two pages alike
    assert [path.rsplit("-", 1)[1] for path in list(pages)[:5]] == list(KINDS)
    assert "✓" in pages["/7/3-headings"] and "漢字" in pages["/7/3-headings"]
    assert pages["/7/4-circles"].count("<circle") == 400 and pages["/7/1-boxes"].count("box-shadow") == 80
    assert pages["/7/2-table"].count("<td>") == 1200
