"""Build a tiny random-weight Qwen3 model and a byte-level BPE tokenizer, offline.

Run with the backend environment's python (it has torch, transformers and tokenizers):

    <backend venv>/bin/python .../tinkex/local/_tiny_model.py OUT_DIR

OUT_DIR then holds ``config.json``, ``model.safetensors`` and the tokenizer files, all
written by ``save_pretrained``, so that ``AutoTokenizer.from_pretrained(OUT_DIR)`` and
``AutoConfig.from_pretrained(OUT_DIR)`` work with ``HF_HUB_OFFLINE=1``. Everything is
deterministic: the tokenizer is trained on the text below and the weights come from a
fixed seed. The launcher (tinkex.local) keys its cache on this file's contents, so any
edit here builds a new model directory. It is a script for the backend's own environment,
never imported by tinkex.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SEED = 1234
VOCAB_SIZE = 384  # byte-level BPE: 256 byte tokens + merges + special tokens
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

MODEL = {
    "num_hidden_layers": 2,
    "hidden_size": 64,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "intermediate_size": 128,
    "max_position_embeddings": 512,
}

# A small built-in corpus: enough for a few hundred merges of common English pieces.
TEXT = """\
The quick brown fox jumps over the lazy dog.
A journey of a thousand miles begins with a single step.
To be, or not to be, that is the question.
All that glitters is not gold.
The early bird catches the worm, but the second mouse gets the cheese.
Knowledge is power, and practice makes perfect.
Fine-tuning a language model teaches it new habits from a handful of examples.
The training loop computes a loss, takes its gradient, and updates the weights.
Sampling draws the next token from the model's distribution, one token at a time.
Low-rank adapters add a small number of parameters to each layer of the network.
The cat sat on the mat and looked out of the window at the rain.
Once upon a time there was a little robot who wanted to learn how to sing.
Question: What is two plus two? Answer: Four.
Question: What colour is the sky? Answer: Blue.
Question: What is the capital of France? Answer: Paris.
User: Hello! Assistant: Hi there, how can I help you today?
User: Tell me a joke. Assistant: Why did the model cross the road? To minimize the loss.
numbers: 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 100 1000
letters: a b c d e f g h i j k l m n o p q r s t u v w x y z
LETTERS: A B C D E F G H I J K L M N O P Q R S T U V W X Y Z
punctuation: . , ; : ! ? ' " ( ) [ ] { } - _ + = * / \\ | @ # $ % ^ & ~ < >
"""

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def build_tokenizer(out_dir: Path):  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=1,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    lines = TEXT.splitlines(keepends=True)
    tok.train_from_iterator(lines * 4, trainer=trainer)

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token=None,
        unk_token=None,
        model_max_length=MODEL["max_position_embeddings"],
        clean_up_tokenization_spaces=False,
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(str(out_dir))
    return fast


def build_model(out_dir: Path, tokenizer) -> None:  # type: ignore[no-untyped-def]
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(SEED)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        tie_word_embeddings=False,
        rms_norm_eps=1e-6,
        rope_theta=10000.0,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        torch_dtype="float32",
        **MODEL,
    )
    model = Qwen3ForCausalLM(config).to(torch.float32)
    model.eval()
    model.save_pretrained(str(out_dir), safe_serialization=True)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: tiny_model.py OUT_DIR", file=sys.stderr)
        return 2
    out_dir = Path(argv[0])
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(out_dir)
    build_model(out_dir, tokenizer)

    # Check what the server will do: load both offline from the directory.
    from transformers import AutoConfig, AutoTokenizer

    again = AutoTokenizer.from_pretrained(str(out_dir))
    config = AutoConfig.from_pretrained(str(out_dir))
    sample = "The quick brown fox jumps over the lazy dog."
    ids = again.encode(sample)
    assert again.decode(ids) == sample, "tokenizer does not round-trip"
    assert max(ids) < config.vocab_size
    info = {
        "vocab_size": config.vocab_size,
        "architectures": config.architectures,
        "eos_token_id": again.eos_token_id,
        "sample_ids": ids,
        "seed": SEED,
        **MODEL,
    }
    (out_dir / "tinkex_tiny_model.json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
