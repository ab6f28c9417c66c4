"""What the features need of a chat model, whatever serves it (TGI, an OpenAI-compatible server, the embedded model).

Review, Q&A, generation and the evaluation suites type against :class:`ChatModel`; ``LlmClient`` is the
implementation. Every method raises ``LlmError`` (or a subclass) on failure, with a message for users.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, TypeVar

from pydantic import BaseModel

T = TypeVar("T", bound=BaseModel)


class ChatModel(Protocol):
    """Chat completions: streamed text, one piece of text, or a reply validated against a pydantic model."""

    @property
    def model(self) -> str:
        """The name of the model that answers (recorded in the audit chain)."""
        ...

    @property
    def kind(self) -> str:
        """Which server protocol serves it: ``tgi``, ``openai`` or ``llama.cpp`` (review's gate is calibrated per kind and model)."""
        ...

    def stream(self, messages: list[dict], **params: object) -> Iterator[str]:
        """The answer's text pieces as they are generated."""
        ...

    def complete(self, messages: list[dict], **params: object) -> str:
        """The whole answer in one piece."""
        ...

    def structured(self, messages: list[dict], model: type[T], name: str, **params: object) -> T:
        """A schema-constrained answer parsed into ``model``."""
        ...
