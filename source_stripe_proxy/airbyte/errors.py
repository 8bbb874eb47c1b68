"""Our plain errors as Airbyte traced errors, at the connectors' boundary.

The core raises ``StripeProxyError``s that carry a failure type but know nothing of Airbyte.
The CDK reports only ``AirbyteTracedException``s with their failure type (anything else
becomes a system_error), so every entry point of a connector converts on the way out.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from airbyte_cdk.models import FailureType as AirbyteFailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_stripe_proxy.core.errors import StripeProxyError

F = TypeVar("F", bound=Callable[..., Any])


def traced(error: BaseException, unexpected: str | None = None) -> AirbyteTracedException:
    """``error`` as a traced error; ``unexpected`` is the message for errors that are not ours."""
    if isinstance(error, AirbyteTracedException):
        return error
    if isinstance(error, StripeProxyError):
        return AirbyteTracedException(
            internal_message=error.internal_message,
            message=error.message,
            failure_type=AirbyteFailureType(error.failure_type.value),
            exception=error,
        )
    return AirbyteTracedException.from_exception(
        error, message=unexpected or f"Unexpected {type(error).__name__}. See the logs for details."
    )


class ReadEnded(AirbyteTracedException):
    """Ends a whole read with one error that says what to fix, and no stack trace: the cause
    (a rejected key) is the user's to fix, and a worker thread's stack says nothing about it.
    The source's entry point prints it as the read's last message and exits with status 1."""

    def as_airbyte_message(self, stream_descriptor: Any = None) -> Any:
        message = super().as_airbyte_message(stream_descriptor)
        if message.trace is not None and message.trace.error is not None:  # always so for a traced exception's message
            message.trace.error.stack_trace = None
        return message


def raises_traced(func: F) -> F:
    """Let our errors leave ``func`` (a function or a generator function) as traced errors."""
    if inspect.isgeneratorfunction(func):

        @functools.wraps(func)
        def generator(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from func(*args, **kwargs)
            except StripeProxyError as error:
                raise traced(error) from None

        return generator  # type: ignore[return-value]  # functools.wraps: func's signature, so still an F

    @functools.wraps(func)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except StripeProxyError as error:
            raise traced(error) from None

    return call  # type: ignore[return-value]  # functools.wraps: func's signature, so still an F
