"""How model tokens are shown to people: the one place that decides it (pure Python, no torch).

The word models read and write tokens such as ``<eos>`` (sentence end), ``N`` (any number) and
``<unk>`` (a rare word). A visitor should never see those as words:

    detokenize(["prices", "rose", "N", "N", "<eos>", "the", "company", "'s"])
    -> "prices rose [number] [number]. the company's"

Rules: ``<eos>`` ends the sentence with a full stop unless punctuation already ends it (text stays lower-case,
like the vocabularies);
``N`` shows as ``[number]``, which ``to_model_text`` turns back into ``N`` when such text is typed or
appended to a prompt; ``<unk>`` shows as ``[rare word]`` (it is never sampled or suggested, but a prompt
word the model does not know is read as one); punctuation and clitics (``'s``, ``n't``) join the word
before them.
"""
from __future__ import annotations

from .tokenizer import EOS, NUM, UNK, is_punct_token

NUMBER_PLACEHOLDER = "[number]"
RARE_WORD_PLACEHOLDER = "[rare word]"

_SENTENCE_END = (".", "!", "?")
_JOINS_PREVIOUS = {",", ".", "!", "?", ";", ":", ")", "]", "...", "%", "'", "''",
                   "'s", "n't", "'re", "'ve", "'ll", "'d", "'m"}
_JOINS_NEXT = {"$", "(", "[", "``"}

# Corpus name (config "corpus") -> what its vocabulary is, in one line for the page.
_CORPUS_WORDS = {
    "ptb": "lower-case Wall Street Journal words (Penn Treebank)",
    "shakespeare": "lower-case words and punctuation from Shakespeare's plays",
    "wiki": "words from the lead sections of Wikipedia's vital articles (CC BY-SA), matched in any case",
}


def display_token(token: str) -> str:
    """One token as a person should read it (a suggestion, an inspector column)."""
    if token == NUM:
        return NUMBER_PLACEHOLDER
    if token == UNK:
        return RARE_WORD_PLACEHOLDER
    if token == EOS:
        return "."
    return token


def detokenize(tokens: list[str]) -> str:
    """Tokens -> display text with no special token in it (see the module docstring)."""
    out = ""
    glue_next = False
    previous = None
    for token in tokens:
        if token == EOS:
            # A line that already ends in punctuation (Shakespeare's "my lord," or "[exeunt.]") needs no full stop.
            if previous is None or not (previous == EOS or is_punct_token(previous)):
                out += "."
            previous, glue_next = EOS, False
            continue
        piece = display_token(token)
        if out and not glue_next and token not in _JOINS_PREVIOUS:
            out += " "
        out += piece
        previous, glue_next = token, token in _JOINS_NEXT
    return out


def to_model_text(text: str) -> str:
    """Undo the number placeholder, so displayed text pasted back into a prompt reads as it was sampled."""
    return text.replace(NUMBER_PLACEHOLDER, f" {NUM} ")


def vocabulary_note(corpus: str | None, size: int | None) -> str:
    """One line saying what the model can read and say, e.g. for the model selector."""
    words = _CORPUS_WORDS.get(corpus or "", f"words from its training text ({corpus or 'unnamed corpus'})")
    count = f"{size:,} " if size else ""
    return (f"Vocabulary: {count}{words}; every number shows as {NUMBER_PLACEHOLDER}, and rarer words were merged "
            f"into one unknown-word token that is never suggested.")
