"""OrderBook: exact levels, best prices, top-N views, and equality with a plain dict model."""
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.model.book import OrderBook


def make_book() -> OrderBook:
    book = OrderBook()
    book.load(bids=[(100, 5), (99, 7), (97, 1)], asks=[(101, 3), (103, 2), (104, 9)])
    return book


def test_load_replaces_the_whole_book_and_leaves_out_empty_levels():
    book = make_book()
    book.load(bids=[(50, 1), (49, 0)], asks=[(51, 2)])
    assert book.top(10) == (((50, 1),), ((51, 2),))
    assert (book.bid_levels, book.ask_levels, len(book)) == (1, 1, 2)


def test_best_levels_and_top_are_best_first():
    book = make_book()
    assert book.best_bid() == (100, 5)
    assert book.best_ask() == (101, 3)
    assert book.top(2) == (((100, 5), (99, 7)), ((101, 3), (103, 2)))
    assert book.top(10) == (((100, 5), (99, 7), (97, 1)), ((101, 3), (103, 2), (104, 9)))
    assert book.top(0) == ((), ())


def test_apply_sets_absolute_quantities_and_zero_deletes():
    book = make_book()
    book.apply(bids=[(100, 0), (98, 4), (99, 2)], asks=[(101, 0), (102, 6)])
    assert book.top(10) == (((99, 2), (98, 4), (97, 1)), ((102, 6), (103, 2), (104, 9)))


def test_deleting_an_absent_level_is_normal():
    book = make_book()
    book.apply(bids=[(42, 0)], asks=[(4242, 0)])
    assert book.top(10) == make_book().top(10)


def test_empty_and_cleared_book():
    book = OrderBook()
    assert book.best_bid() is None and book.best_ask() is None
    assert not book.is_crossed() and len(book) == 0
    book = make_book()
    book.clear()
    assert book.top(5) == ((), ()) and len(book) == 0


def test_truncate_keeps_the_best_levels_of_each_side():
    book = make_book()
    book.truncate(2)
    assert book.top(10) == (((100, 5), (99, 7)), ((101, 3), (103, 2)))
    assert (book.bid_levels, book.ask_levels) == (2, 2)
    book.apply(bids=[(97, 1)], asks=[(104, 9)])  # the dropped levels are gone, not hidden
    assert book.top(10) == (((100, 5), (99, 7), (97, 1)), ((101, 3), (103, 2), (104, 9)))


def test_top_follows_a_change_on_one_side_after_being_asked_for():
    book = make_book()
    assert book.top(2) == (((100, 5), (99, 7)), ((101, 3), (103, 2)))
    book.apply(bids=[], asks=[(102, 4)])
    assert book.top(2) == (((100, 5), (99, 7)), ((101, 3), (102, 4)))
    book.apply(bids=[(100, 1)], asks=[])
    assert book.top(2) == (((100, 1), (99, 7)), ((101, 3), (102, 4)))
    assert book.top(1) == (((100, 1),), ((101, 3),))
    book.load(bids=[(7, 1)], asks=[])
    assert book.top(2) == (((7, 1),), ())


def test_crossed_when_best_bid_reaches_best_ask():
    book = make_book()
    assert not book.is_crossed()
    book.apply(bids=[(101, 1)], asks=[])
    assert book.is_crossed()
    book.apply(bids=[(101, 0)], asks=[(100, 1)])
    assert book.is_crossed()


levels = st.lists(st.tuples(st.integers(1, 60), st.integers(0, 4)), max_size=12)


@settings(max_examples=300, deadline=None)
@given(snapshot=st.tuples(levels, levels), diffs=st.lists(st.tuples(levels, levels), max_size=25))
def test_book_equals_a_dict_model_after_random_applies(snapshot, diffs):
    book = OrderBook()
    book.load(*snapshot)
    model = [{p: q for p, q in side if q} for side in snapshot]
    for bids, asks in diffs:
        book.apply(bids, asks)
        for side, changes in zip(model, (bids, asks)):
            for price, qty in changes:
                if qty:
                    side[price] = qty
                else:
                    side.pop(price, None)
        model_bids, model_asks = model
        expected = (tuple(sorted(model_bids.items(), reverse=True)), tuple(sorted(model_asks.items())))
        assert book.top(len(book) + 1) == expected
        assert book.top(3) == (expected[0][:3], expected[1][:3])
        assert book.best_bid() == (expected[0][0] if expected[0] else None)
        assert book.best_ask() == (expected[1][0] if expected[1] else None)
        assert (book.bid_levels, book.ask_levels) == (len(model_bids), len(model_asks))
        assert book.is_crossed() == bool(model_bids and model_asks and max(model_bids) >= min(model_asks))
