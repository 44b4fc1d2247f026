"""Token ids <-> text for an export directory, as ESPnet's char / BPE / word tokenizers do."""
from __future__ import annotations

from pathlib import Path
from typing import List, Sequence


class TokenText:
    """tokens: the token list; token_type "char" | "bpe" | "word"; bpemodel: a SentencePiece
    model file (BPE); space_symbol: the char tokenizer's word separator."""

    def __init__(self, tokens: Sequence[str], token_type: str, bpemodel: Path = None, space_symbol: str = "<space>"):
        self.tokens = list(tokens)
        self.token_type = token_type
        self.space_symbol = space_symbol
        self._sp = None
        if token_type == "bpe":
            import sentencepiece

            self._sp = sentencepiece.SentencePieceProcessor(model_file=str(bpemodel))
        elif token_type not in ("char", "word"):
            raise ValueError(f"unsupported token_type {token_type!r} (char, bpe or word)")

    def ids2tokens(self, ids: Sequence[int]) -> List[str]:
        return [self.tokens[i] for i in ids]

    def tokens2text(self, tokens: Sequence[str]) -> str:
        if self.token_type == "bpe":
            return self._sp.decode_pieces(list(tokens))
        if self.token_type == "word":
            return " ".join(tokens)
        return "".join(" " if t == self.space_symbol else t for t in tokens)
