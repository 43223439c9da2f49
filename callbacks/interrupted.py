"""The exception a stop signal (SIGTERM, SIGINT) becomes: raised by StopOnSignal (callbacks/requeue.py) during
training and by the entry point's own handler outside it (mathlit/__main__.py). Its own module, without
Lightning, so that the entry point imports it at no cost (`--help` stays instant)."""


class Interrupted(BaseException):
    """SIGTERM or SIGINT: the run stops, saying where and how to resume, with exit status 128 + the signal.

    A BaseException, as KeyboardInterrupt is: no `except Exception` on the way (grading, a sampler's retry) may
    swallow it, while every `finally` (the folder's lock) still runs."""

    def __init__(self, signum: int, message: str):
        super().__init__(message)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + self.signum
