import pytest

from splitbill import Bill, Money, split_by_weight, split_evenly

TOTALS = ["0.01", "1.00", "10.00", "99.99", "100.00", "12345.67"]


@pytest.mark.parametrize("total", TOTALS)
@pytest.mark.parametrize("people", range(1, 8))
def test_shares_add_up_and_differ_by_at_most_a_cent(total, people):
    shares = split_evenly(Money.parse(total), people)
    assert len(shares) == people
    assert sum(shares) == Money.parse(total)
    assert max(shares).cents - min(shares).cents <= 1


def test_the_first_people_pay_the_extra_cents():
    assert split_evenly(Money.parse("10.00"), 3) == [Money(334), Money(333), Money(333)]
    assert split_evenly(Money.parse("0.05"), 3) == [Money(2), Money(2), Money(1)]


def test_split_by_weight():
    assert split_by_weight(Money.parse("10.00"), [1, 1, 1]) == [Money(334), Money(333), Money(333)]
    assert split_by_weight(Money.parse("100.00"), [2, 1, 1]) == [Money(5000), Money(2500), Money(2500)]
    assert sum(split_by_weight(Money.parse("7.01"), [3, 5, 11])) == Money.parse("7.01")


def test_bill_with_tip():
    bill = Bill(tip_percent=10)
    bill.add("Pizza", Money.parse("14.50"))
    bill.add("Wine", Money.parse("23.00"))
    assert bill.total() == Money.parse("41.25")
    assert bill.shares(2) == [Money.parse("20.63"), Money.parse("20.62")]
