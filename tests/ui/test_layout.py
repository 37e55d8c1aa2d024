from agents.ui.layout import generations, layout


def test_generation_is_one_more_than_the_deepest_parent():
    nodes = [("a", []), ("b", []), ("m", ["a", "b"]), ("n", ["m"]), ("x", ["n", "a"])]
    assert generations(nodes) == {"a": 0, "b": 0, "m": 1, "n": 2, "x": 3}


def test_a_chain_of_ten_thousand_needs_no_recursion():
    nodes = [("c0", [])] + [(f"c{i}", [f"c{i - 1}"]) for i in range(1, 10_000)]
    assert generations(nodes)["c9999"] == 9999


def test_parents_outside_the_listing_are_ignored():
    assert generations([("m", ["gone"])]) == {"m": 0}


def test_children_sit_in_their_parents_rows_when_they_can():
    nodes = [("s1", [], "1"), ("s2", [], "2"), ("late", ["s2"], "3"), ("early", ["s1"], "4")]
    placed = {p.id: (p.column, p.row) for p in layout(nodes)}
    assert placed == {"s1": (0, 0), "s2": (0, 1), "early": (1, 0), "late": (1, 1)}


def test_every_node_gets_a_distinct_place():
    nodes = [(f"s{i}", [], str(i)) for i in range(3)] + [(f"m{i}", ["s0", f"s{i % 3}"], str(10 + i)) for i in range(7)]
    places = [(p.column, p.row) for p in layout(nodes)]
    assert len(places) == len(set(places)) == 10
