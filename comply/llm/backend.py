"""Choose the LLM backend from configuration: a remote TGI/OpenAI-compatible URL, the embedded model, or none."""

from __future__ import annotations

from dataclasses import dataclass, field

from comply.config import Settings
from comply.llm.client import LLAMA_CPP, BackendInfo, ChatOptions, LlmClient, LlmError
from comply.llm.models import ModelError, ensure_model, get_model
from comply.llm.server import LocalServer, ServerError, llama_cpp_available

MODES = ("auto", "off")


@dataclass
class Backend:
    """The client to use (``None`` when no model is available) and how to describe it."""

    client: LlmClient | None
    label: str
    reason: str = ""
    info: BackendInfo | None = None
    server: LocalServer | None = field(default=None, repr=False)

    @property
    def model(self) -> str | None:
        """The model name answers are attributed to."""
        return self.info.model if self.info else None

    def close(self) -> None:
        """Stop the embedded server, if this backend owns one."""
        if self.server is not None:
            self.server.stop()

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def chat_options(settings: Settings) -> ChatOptions:
    """Generation settings from configuration."""
    return ChatOptions(
        max_tokens=settings.llm_max_tokens, temperature=settings.llm_temperature, timeout_s=settings.llm_timeout_s,
        retries=settings.llm_retries, backoff_s=settings.llm_backoff_s, deadline_s=settings.llm_deadline_s,
    )


def _none(reason: str) -> Backend:
    return Backend(None, f"无大模型（{reason}）", reason)


def open_backend(settings: Settings, progress: bool = True) -> Backend:
    """Connect to the configured LLM; never raises — a failure yields a backend without a client.

    ``COMPLY_LLM=off`` disables the LLM; ``COMPLY_LLM_URL`` selects a remote server; otherwise the
    embedded llama.cpp server is started with the configured local model (assembled on first use).
    """
    if settings.llm_mode not in MODES:
        return _none(f"未知的 COMPLY_LLM 取值 {settings.llm_mode}，可选 {'/'.join(MODES)}")
    if settings.llm_mode == "off":
        return _none("已在配置中关闭")
    if settings.llm_url:
        try:
            client = LlmClient(settings.llm_url, settings.llm_model, options=chat_options(settings))
            info = client.probe()
        except LlmError as exc:
            return _none(str(exc))
        return Backend(client, info.label(), info=info)
    if not llama_cpp_available():
        return _none("未安装 llama-cpp-python，且未配置 COMPLY_LLM_URL")
    try:
        local = get_model(settings.local_model)
        path = ensure_model(local, settings.cache_dir, progress=progress)
        server = LocalServer(path, local.key, settings.cache_dir / "logs" / "llama-server.log", settings.llm_ctx, settings.llm_threads)
        url = server.start()
    except (ModelError, ServerError, OSError) as exc:
        return _none(str(exc))
    try:
        client = LlmClient(url, local.key, kind=LLAMA_CPP, options=chat_options(settings))
        info = client.probe()
    except LlmError as exc:
        server.stop()
        return _none(str(exc))
    return Backend(client, f"内置模型 {local.display}（llama.cpp，本机）", info=info, server=server)
