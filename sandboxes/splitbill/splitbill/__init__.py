from splitbill.bill import Bill
from splitbill.money import Money
from splitbill.split import split_by_weight, split_evenly

__all__ = ["Bill", "Money", "split_by_weight", "split_evenly"]
