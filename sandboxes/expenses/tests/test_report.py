from decimal import Decimal
from pathlib import Path

from expenses import read_bookings, summarize
from expenses.report import overall_monthly_average

DATA = Path(__file__).parent / "data"
STATEMENT = DATA / "statement-bank.csv"  # as downloaded from the bank, unedited


def test_groceries_summary():
    groceries = summarize(STATEMENT)["groceries"]
    assert groceries.total == Decimal("317.10")
    assert groceries.months == 3
    assert groceries.monthly_average == Decimal("105.70")


def test_income_only_categories_are_left_out():
    assert sorted(summarize(STATEMENT)) == ["groceries", "rent", "transport"]


def test_overall_monthly_average():
    assert overall_monthly_average(STATEMENT) == Decimal("988.37")


def test_balance_lines_are_skipped():
    bookings = read_bookings(DATA / "statement-plain.csv")
    assert len(bookings) == 12
    assert bookings[0].note == "Market"
    assert bookings[-1].category == "transport"
