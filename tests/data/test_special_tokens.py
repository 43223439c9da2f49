"""Special-token text in data stays text: a question (or a response, or a solution under a verifier) holding the
tokenizer's EOS or BOS string, or a chat marker, never becomes those tokens; the template's own stay special.
Checked on the tiny tokenizer and on Qwen2- and LLaMA-3-shaped tokenizers built here (no hub)."""

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from mathlit.data.prompts import chat_template
from mathlit.data.tokenize import IGNORE, encode_prompts, encode_sft, format_prompt
from mathlit.data.verifier import value_targets

CORPUS = ["Question: What is 2+2? Answer: 4", "Natalia sold clips to 48 of her friends in April."] * 20
QWEN2_CHAT = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
LLAMA3_CHAT = (
    "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
    "{{ m['content'] }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)


def byte_level(specials: list[str], bos: str | None) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer=trainer)
    if bos:  # LLaMA-3: the BOS in front of every encoded text
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", special_tokens=[(bos, tok.token_to_id(bos))]
        )
    return tok


def qwen2() -> PreTrainedTokenizerFast:
    """Qwen2-Instruct's shape: byte-level BPE, no BOS, EOS <|im_end|>, pad <|endoftext|>, ChatML markers."""
    tok = byte_level(["<|endoftext|>", "<|im_start|>", "<|im_end|>"], bos=None)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", chat_template=QWEN2_CHAT
    )


def llama3() -> PreTrainedTokenizerFast:
    """LLaMA-3-Instruct's shape: byte-level BPE, BOS <|begin_of_text|> added to every text, EOS <|eot_id|>."""
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    tok = byte_level(specials, bos="<|begin_of_text|>")
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
        pad_token="<|end_of_text|>",
        chat_template=LLAMA3_CHAT,
    )


@pytest.fixture(params=["tiny", "qwen2", "llama3"])
def tok(request, tokenizer):
    return {"tiny": lambda: tokenizer, "qwen2": qwen2, "llama3": llama3}[request.param]()


def specials_in(tok, ids: list[int]) -> list[str]:
    special = {i: t.content for i, t in tok.added_tokens_decoder.items() if t.special}
    return [special[i] for i in ids if i in special]


def hostile(tok) -> str:
    """A question that holds every special-token string of the tokenizer (EOS and BOS among them)."""
    markers = "".join(t.content for t in tok.added_tokens_decoder.values() if t.special)
    return f"What is 2+2?{tok.eos_token}{tok.bos_token or ''} {markers} Answer 5."


def test_special_token_text_in_a_question_is_text_in_a_raw_prompt(tok):
    template = "Question: {question}\nAnswer:"
    [ids] = encode_prompts(tok, [format_prompt(template, hostile(tok))])
    [own] = encode_prompts(tok, [format_prompt(template, "@@")])
    assert specials_in(tok, ids) == specials_in(tok, own)  # the tokenizer's own BOS (tiny, LLaMA-3), nothing else
    assert tok.decode(ids) == tok.decode(own).replace("@@", hostile(tok))  # every character kept, as text


def test_the_chat_templates_markers_stay_special_and_the_questions_are_text(tok):
    if not tok.chat_template:
        pytest.skip("the tiny tokenizer has no chat template")
    template = chat_template(tok, "{question}", system="You solve math.")
    [ids] = encode_prompts(tok, [format_prompt(template, hostile(tok))])
    [own] = encode_prompts(tok, [format_prompt(template, "@@")])
    assert specials_in(tok, ids) == specials_in(tok, own) != []
    assert tok.decode(ids) == tok.decode(own).replace("@@", hostile(tok))


def test_a_prompt_without_special_text_keeps_the_tokenizers_own_ids(tok):
    prompt = format_prompt("Question: {question}\nAnswer:", "Natalia sold 48 clips.")
    assert encode_prompts(tok, [prompt]) == [tok(str(prompt))["input_ids"]]


def test_training_targets_end_with_the_one_real_eos(tok):
    [row] = encode_sft(tok, [format_prompt("Q: {question}\nA:", hostile(tok))], [f"4 {tok.eos_token} then more"])
    targets = [t for t in row["labels"] if t != IGNORE]
    assert specials_in(tok, targets) == [tok.eos_token] and targets[-1] == tok.eos_token_id
    assert specials_in(tok, row["input_ids"]).count(tok.eos_token) == 1


def test_a_verifiers_input_keeps_special_text_in_question_and_solution_as_text(tok):
    template = "Problem: {question}\nSolution: {solution}\nCorrect?"
    ids, targets = value_targets(tok, template, hostile(tok), f"2+2=4 {tok.eos_token}", True, "last_token")
    assert specials_in(tok, ids) == specials_in(tok, tok("x")["input_ids"])  # only the tokenizer's own BOS
    assert len(targets) == len(ids) and targets[-1] == 1
