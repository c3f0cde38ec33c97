"""Tables as HTML for readers and as aligned text for nbval (handbook_utils.tables)."""

import pytest

from handbook_utils.tables import Table


def test_a_table_renders_as_accessible_html_and_as_aligned_text():
    table = Table.of(["arm", "exact match", "seeds"], [["teacher forcing", "0.50 [0.4, 0.6]", 5], ["a<b", "1", 5]],
                     caption="Held-out graphs")
    html = table._repr_html_()
    assert html.startswith('<table class="handbook-table"><caption>Held-out graphs</caption>')
    assert html.count('<th scope="col">') == 3 and html.count('<th scope="row">') == 2
    assert "a&lt;b" in html and "<td>0.50 [0.4, 0.6]</td>" in html
    lines = str(table).splitlines()
    assert lines[0] == "Held-out graphs" and lines[2].startswith("---")
    assert len({len(line) for line in lines[1:]}) == 1  # every row as wide as the header: aligned


def test_rows_must_match_the_headers():
    with pytest.raises(ValueError, match=r"rows\[1\] has 2 cells, but there are 3 headers"):
        Table.of(["a", "b", "c"], [[1, 2, 3], [1, 2]])
    with pytest.raises(TypeError, match="headers"):
        Table.of([], [])
