"""Property tests for small pieces every job leans on."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from reelforge.catalog import ASPECT_RATIOS, DurationRule
from reelforge.generation_spec import size_for
from reelforge.server import _next_progress


@given(st.lists(st.tuples(st.one_of(st.none(), st.floats(0, 1)), st.booleans()), max_size=60))
def test_progress_notifications_strictly_increase_and_end_at_100(events) -> None:
    sent, last = [], 0.0
    for fraction, terminal in events:
        value = _next_progress(last, fraction, terminal)
        if value is not None:
            sent.append(value)
            last = value
    assert all(b > a for a, b in zip(sent, sent[1:]))
    assert all(0 < v <= 100 for v in sent)
    assert all(v < 100 for v in sent[:-1])


@given(st.sampled_from(ASPECT_RATIOS), st.integers(64, 2160))
def test_sizes_are_even_and_keep_the_aspect(aspect: str, short: int) -> None:
    w, h = size_for(aspect, short)
    assert w % 2 == 0 and h % 2 == 0 and min(w, h) in (short - 1, short, short + 1)
    a, b = (int(x) for x in aspect.split(":"))
    # Snapping each side to an even number moves the ratio by at most one pixel's worth per side.
    assert abs(w / h - a / b) <= (a / b) * 2.0 / min(w, h) + 1e-9


@given(st.floats(0.5, 20), st.floats(0.5, 20), st.sampled_from([None, 0.5, 1.0]), st.floats(0, 40))
def test_duration_rule_range(lo: float, span: float, step: float | None, value: float) -> None:
    rule = DurationRule(min=lo, max=lo + span, step=step, default=lo)
    accepted = rule.accepts(value)
    assert accepted == (lo - 1e-6 <= value <= lo + span + 1e-6 and (step is None or
                        abs((value - lo) / step - round((value - lo) / step)) < 1e-6))
