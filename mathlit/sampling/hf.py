"""Batched `transformers` generate: the sampler for machines without vLLM."""

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from mathlit.data.tokenize import encode_prompts
from mathlit.sampling.base import Completion, SamplingParams, cut_at_stop


class HFSampler:
    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, batch_size: int = 64):
        self.model, self.tokenizer, self.batch_size = model, tokenizer, batch_size

    @torch.inference_mode()
    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        was_training = self.model.training
        self.model.eval()
        device = next(self.model.parameters()).device
        prompt_ids = encode_prompts(self.tokenizer, prompts)
        lengths = [len(ids) for ids in prompt_ids]
        order = sorted(range(len(prompts)), key=lambda i: lengths[i])  # similar lengths pad less
        per_call = max(1, self.batch_size // params.n)
        results: list[list[Completion]] = [[] for _ in prompts]
        # A private RNG stream: the same seed gives the same samples, and training's RNG is left untouched.
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(params.seed)
            for start in range(0, len(order), per_call):
                chunk = order[start : start + per_call]
                enc = self.tokenizer.pad(
                    {"input_ids": [prompt_ids[i] for i in chunk]}, return_tensors="pt", padding_side="left"
                ).to(device)
                # The settings asked for and nothing else: a model folder's generation_config.json (Qwen2.5-Instruct:
                # top_k 20, repetition_penalty 1.05) would otherwise cut or reshape the distribution vLLM samples
                sampling = (
                    {
                        "do_sample": True,
                        "temperature": params.temperature,
                        "top_p": params.top_p,
                        "top_k": 0,
                        "repetition_penalty": 1.0,
                    }
                    if params.temperature > 0
                    else {"do_sample": False}
                )
                out = self.model.generate(
                    **enc,
                    max_new_tokens=params.max_new_tokens,
                    num_return_sequences=params.n,
                    pad_token_id=self.tokenizer.pad_token_id,
                    eos_token_id=self.tokenizer.eos_token_id,
                    **sampling,
                )
                new_tokens = out[:, enc["input_ids"].shape[1] :].tolist()
                for row, tokens in enumerate(new_tokens):
                    results[chunk[row // params.n]].append(self._completion(tokens, params))
        self.model.train(was_training)
        return results

    def _completion(self, tokens: list[int], params: SamplingParams) -> Completion:
        eos = self.tokenizer.eos_token_id
        ended = eos in tokens
        tokens = tokens[: tokens.index(eos)] if ended else tokens
        text, stopped = cut_at_stop(self.tokenizer.decode(tokens, skip_special_tokens=True), params.stop)
        return Completion(text, len(tokens) + ended, "stop" if ended or stopped else "length")

    def close(self) -> None:
        pass
