"""Benchmarks (`make bench`): speed targets measured against a baseline in the same run."""
