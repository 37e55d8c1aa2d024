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


def test_generations_of_one_search_are_columns_not_one_tall_fan():
    sources = [(f"s{i}", [], f"0{i}", "") for i in range(3)]
    members = [(f"g{g}m{m}", ["s0", "s1", "s2"], f"1{g}{m}", f"run:g{g}") for g in range(3) for m in range(4)]
    placed = {p.id: (p.column, p.row) for p in layout(sources + members)}
    assert {placed[f"s{i}"][0] for i in range(3)} == {0}
    assert [sorted({placed[f"g{g}m{m}"][0] for m in range(4)}) for g in range(3)] == [[1], [2], [3]]
    assert max(row for _, row in placed.values()) == 3  # four rows, not twelve


def test_a_group_taller_than_max_rows_is_cut_into_columns_in_creation_order():
    nodes = [("s", [], "0")] + [(f"m{i:02}", ["s"], f"1{i:02}") for i in range(10)]
    placed = {p.id: (p.column, p.row) for p in layout(nodes, max_rows=4)}
    assert [placed[f"m{i:02}"][0] for i in range(10)] == [1, 1, 1, 1, 2, 2, 2, 2, 3, 3]
    assert len(set(placed.values())) == 11
