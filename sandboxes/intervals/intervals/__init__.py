from intervals.daterange import DateRange, merge

__all__ = ["DateRange", "merge"]
