"""Our runs in other tools' formats (`testbed export`)."""
