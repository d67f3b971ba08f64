from ledger.format import format_amount
from ledger.invoice import Invoice, Line
from ledger.tax import VAT_RATES, gross, vat

__all__ = ["Invoice", "Line", "VAT_RATES", "format_amount", "gross", "vat"]
