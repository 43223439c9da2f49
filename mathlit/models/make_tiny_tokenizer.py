"""Train the small BPE tokenizer that `model=tiny_llama` ships with.

    python -m mathlit.models.make_tiny_tokenizer --data mathlit/data/shipped --out mathlit/models/tiny_tokenizer

Run once; the result is committed. It is a byte-level BPE (no text is ever unknown) trained on the
GSM8K and MATH training text, with digits split one per token as LLaMA's tokenizer does: a small
model can learn digit-wise arithmetic, but not a vocabulary of multi-digit numbers.
"""

import argparse
from collections.abc import Iterator
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from mathlit.io import parse_jsonl

VOCAB_SIZE = 2048
SPECIAL = {"bos": "<s>", "eos": "</s>", "pad": "<pad>", "unk": "<unk>"}


def corpus(data_dir: Path) -> Iterator[str]:
    """Every question and solution of the GSM8K and MATH training files."""
    for name, fields in (("gsm8k/train.jsonl", ("question", "answer")), ("math/train.jsonl", ("problem", "solution"))):
        for row in parse_jsonl(data_dir / name, lambda row, _: row)[0]:
            yield from (row[k] for k in fields)


def build(data_dir: Path) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=list(SPECIAL.values()),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus(data_dir), trainer=trainer)
    # Like LLaMA: a BOS in front of every encoded text; EOS is appended to targets by the data layer.
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=SPECIAL["bos"],
        eos_token=SPECIAL["eos"],
        pad_token=SPECIAL["pad"],
        unk_token=SPECIAL["unk"],
        model_max_length=1024,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).parents[1] / "data" / "shipped")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "tiny_tokenizer")
    args = parser.parse_args()
    build(args.data).save_pretrained(args.out)
    print(f"tokenizer with {VOCAB_SIZE} tokens written to {args.out}")


if __name__ == "__main__":
    main()
