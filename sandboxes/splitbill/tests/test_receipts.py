"""Examples from receipts our users sent in."""
from splitbill import Bill, Money, split_evenly


def test_two_people_split_a_round_bill():
    bill = Bill()
    bill.add("Menu for two", Money.parse("58.00"))
    assert bill.shares(2) == [Money.parse("29.00"), Money.parse("29.00")]


def test_three_friends_pay_equal_shares():
    # "We were three and the bill was exactly 100 euros, so everybody paid the same."
    shares = split_evenly(Money.parse("100.00"), 3)
    assert shares == [Money.parse("33.33"), Money.parse("33.33"), Money.parse("33.33")]
