from subscriptions.clock import Clock, FixedClock, SystemClock, utcnow
from subscriptions.plans import Plan
from subscriptions.subscription import Subscription

__all__ = ["Clock", "FixedClock", "Plan", "Subscription", "SystemClock", "utcnow"]
