from accounts.names import InvalidName, canonical, validate
from accounts.registry import Account, NameTaken, Registry

__all__ = ["Account", "InvalidName", "NameTaken", "Registry", "canonical", "validate"]
