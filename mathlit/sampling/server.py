"""Any OpenAI-compatible server (vllm serve, SGLang, a hosted API) as a sampler, through the `openai` client.

The client retries connection errors, timeouts and 408/409/429/5xx answers sampler.max_retries times with
exponential backoff (0.5 s, 1 s, 2 s, ... at most 8 s, less up to 25% jitter; a Retry-After header up to
2 minutes wins). Requests run sampler.max_concurrency at a time. The API key is read from the environment
variable named by sampler.api_key_env and kept only in the client. Any failure left after the retries is one
line naming the URL. The server's token counts are not per sample: num_tokens counts with our tokenizer.
"""

import os
from concurrent.futures import ThreadPoolExecutor

from transformers import PreTrainedTokenizerBase

from mathlit.config import SamplerConfig
from mathlit.errors import ConfigError, SamplingError
from mathlit.sampling.base import Completion, SamplingParams, cut_at_stop


class OpenAISampler:
    def __init__(self, cfg: SamplerConfig, tokenizer: PreTrainedTokenizerBase):
        import openai

        if not cfg.base_url or not cfg.served_model:
            raise ConfigError("sampler=openai needs sampler.base_url and sampler.served_model")
        self.cfg, self.tokenizer, self.url = cfg, tokenizer, cfg.base_url
        self.client = openai.OpenAI(
            base_url=cfg.base_url,
            api_key=os.environ.get(cfg.api_key_env) or "EMPTY",  # local servers accept any key
            timeout=cfg.timeout_s,
            max_retries=cfg.max_retries,
        )

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        with ThreadPoolExecutor(max_workers=self.cfg.max_concurrency) as pool:
            return list(pool.map(lambda p: self._request(p, params), prompts))

    def _request(self, prompt: str, params: SamplingParams) -> list[Completion]:
        import openai

        # No per-request seed: vLLM's CPU engine crashes on one with n > 1; resumption does not need it.
        settings = {"model": self.cfg.served_model, "n": params.n, "temperature": params.temperature}
        settings |= {"top_p": params.top_p, "stop": list(params.stop) or None}
        try:
            if self.cfg.api == "chat":
                messages = [{"role": "user", "content": prompt}]
                response = self.client.chat.completions.create(
                    messages=messages, max_completion_tokens=params.max_new_tokens, **settings
                )
            else:
                response = self.client.completions.create(prompt=prompt, max_tokens=params.max_new_tokens, **settings)
        except openai.APIStatusError as e:
            retried = e.status_code in (408, 409, 429) or e.status_code >= 500
            when = f" after {self.cfg.max_retries} retries" if retried else ""
            hint = f" (is ${self.cfg.api_key_env} set?)" if e.status_code in (401, 403) else ""
            raise SamplingError(f"{self.url}: HTTP {e.status_code}{when}{hint}: {_short(e.message)}") from None
        except openai.APIConnectionError as e:  # timeouts included
            raise SamplingError(
                f"{self.url}: unreachable after {self.cfg.max_retries} retries ({type(e).__name__}: {_short(str(e))})"
            ) from None
        except (openai.OpenAIError, ValueError) as e:  # a body that is not JSON, among others
            raise SamplingError(f"{self.url}: answered garbage ({type(e).__name__}: {_short(str(e))})") from None
        return self._completions(response, params)

    def _completions(self, response, params: SamplingParams) -> list[Completion]:
        """The response's n texts; anything else is garbage (the client does not validate the body)."""
        choices = getattr(response, "choices", None)
        try:
            texts = [c.message.content if self.cfg.api == "chat" else c.text for c in choices]
            reasons = [c.finish_reason for c in choices]
        except (AttributeError, TypeError):
            texts = None
        if not texts or len(texts) != params.n or not all(isinstance(t, str) for t in texts):
            raise SamplingError(
                f"{self.url}: answered garbage, not {params.n} {self.cfg.api} choices: {_short(repr(response))}"
            )
        completions = []
        for text, reason in zip(texts, reasons, strict=True):
            text, _ = cut_at_stop(text, params.stop)
            tokens = len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
            completions.append(Completion(text, tokens, "length" if reason == "length" else "stop"))
        return completions

    def close(self) -> None:
        self.client.close()


def _short(text: str, limit: int = 200) -> str:
    """One line, at most `limit` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[:limit] + "..."
