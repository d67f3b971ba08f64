"""Reading bank CSV exports."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path


@dataclass(frozen=True)
class Booking:
    day: date
    category: str
    amount: Decimal
    note: str = ""


def read_bookings(path: str | Path) -> list[Booking]:
    """All bookings in the export at `path`, in file order."""
    bookings = []
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            day = (row.get("date") or "").strip()
            if not day:
                continue  # separator, opening/closing balance or an empty line
            bookings.append(Booking(
                day=date.fromisoformat(day),
                category=(row.get("category") or "uncategorised").strip().lower(),
                amount=Decimal(row["amount"].strip()),
                note=(row.get("note") or "").strip(),
            ))
    return bookings
