"""Overnight batches: a resumable matrix of runs (see docs/batch.md).

`session.run_batch` ties the parts together: the batch file (spec.py) becomes a plan of runs with
deterministic ids (ids.py); the batch directory (store.py) records the plan and every run's state;
the driver (driver.py) hands runs to an executor (executors.py: worker processes, worker.py;
ray_executor.py: Ray tasks) and shows progress (progress.py); the end prints a summary and the
report (summary.py). This package file imports nothing, so `python -m testbed.batch.worker` starts
lean.
"""
