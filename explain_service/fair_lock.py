"""A lock taken in the order it was asked for.

`threading.Lock` is not fair: a thread that releases it and asks again at once usually gets it straight back,
so a request that gives up the model between chunks of work would still starve the requests waiting for it.
"""

import threading


class FairLock:
    """First come, first served (a ticket lock); use as a context manager."""

    def __init__(self) -> None:
        self._turns = threading.Condition()
        self._issued = 0
        self._serving = 0

    def __enter__(self) -> None:
        with self._turns:
            ticket = self._issued
            self._issued += 1
            self._turns.wait_for(lambda: self._serving == ticket)

    def __exit__(self, *exc_info) -> None:
        with self._turns:
            self._serving += 1
            self._turns.notify_all()
