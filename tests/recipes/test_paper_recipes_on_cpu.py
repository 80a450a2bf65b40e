"""Every setting the SIRI paper states equals the composed recipe, and results/ shows it."""

import pytest

from siri_verl.siri import paper


@pytest.mark.parametrize("recipe", sorted(paper.PAPER))
def test_recipe_matches_what_the_paper_states(recipe):
    disagreements = [(key, want, got) for key, want, got in paper.comparison(recipe) if want != got]
    assert not disagreements


def test_results_table_is_current():
    assert paper.RESULTS_FILE.read_text() == paper.markdown(), "regenerate: python -m siri_verl.siri.paper"
