from expenses.reader import Booking, read_bookings
from expenses.report import CategorySummary, summarize
from expenses.stats import mean, monthly_totals

__all__ = ["Booking", "CategorySummary", "mean", "monthly_totals", "read_bookings", "summarize"]
