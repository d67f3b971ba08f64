from datetime import date

import pytest

from intervals import DateRange, merge


def d(day: int) -> date:
    return date(2024, 3, day)


def test_days_counts_both_ends():
    assert DateRange(d(1), d(7)).days() == 7
    assert DateRange(d(5), d(5)).days() == 1


def test_end_before_start_is_rejected():
    with pytest.raises(ValueError):
        DateRange(d(5), d(4))


def test_overlap_when_sharing_a_middle_day():
    assert DateRange(d(1), d(10)).overlaps(DateRange(d(5), d(20)))


def test_overlap_when_touching_on_one_day():
    # Both ends are inclusive, so ranges that share their boundary day overlap.
    assert DateRange(d(1), d(5)).overlaps(DateRange(d(5), d(9)))
    assert DateRange(d(5), d(9)).overlaps(DateRange(d(1), d(5)))


def test_single_day_ranges_overlap_themselves():
    assert DateRange(d(3), d(3)).overlaps(DateRange(d(3), d(3)))


def test_no_overlap_when_apart():
    assert not DateRange(d(1), d(4)).overlaps(DateRange(d(6), d(9)))


def test_weeks_cover_every_day_once():
    r = DateRange(d(1), d(17))
    weeks = r.weeks()
    assert [w.days() for w in weeks] == [7, 7, 3]
    assert sum(w.days() for w in weeks) == r.days()


def test_merge_joins_touching_and_adjacent_ranges():
    merged = merge([DateRange(d(1), d(3)), DateRange(d(3), d(5)), DateRange(d(6), d(8)),
                    DateRange(d(20), d(20))])
    assert merged == [DateRange(d(1), d(8)), DateRange(d(20), d(20))]
