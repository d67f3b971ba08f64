"""The account registry."""
from __future__ import annotations

from dataclasses import dataclass, field

from accounts.names import canonical, validate


class NameTaken(Exception):
    pass


@dataclass
class Account:
    key: str
    display_name: str
    roles: set[str] = field(default_factory=set)


class Registry:
    def __init__(self) -> None:
        self._accounts: dict[str, Account] = {}

    def register(self, display_name: str, roles: set[str] | None = None) -> Account:
        key = validate(canonical(display_name))
        if key in self._accounts:
            raise NameTaken(f"{display_name!r} is taken (by {self._accounts[key].display_name!r})")
        account = Account(key, display_name.strip(), set(roles or ()))
        self._accounts[key] = account
        return account

    def lookup(self, name: str) -> Account:
        try:
            return self._accounts[canonical(name)]
        except KeyError:
            raise KeyError(f"no account {name!r}") from None

    def __contains__(self, name: str) -> bool:
        return canonical(name) in self._accounts

    def rename(self, old: str, new: str) -> Account:
        account = self.lookup(old)
        key = validate(canonical(new))
        if key != account.key and key in self._accounts:
            raise NameTaken(f"{new!r} is taken")
        del self._accounts[account.key]
        account.key, account.display_name = key, new.strip()
        self._accounts[key] = account
        return account

    def __len__(self) -> int:
        return len(self._accounts)
