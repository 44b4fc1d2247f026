"""make_tokens: ESPnet token-list layout for sentencepiece and character units."""
from __future__ import annotations

import pytest
import sentencepiece as spm

from make_tokens import make_tokens


def test_char_tokens_by_frequency(tmp_path):
    text = tmp_path / "text"
    text.write_text("u1 ab a\nu2 ba\n", encoding="utf-8")
    tokens = make_tokens(text, tmp_path / "char", "char")
    # counts: a 3, b 2, space 1 (ties would sort by character)
    assert tokens == ["<blank>", "<unk>", "a", "b", "<space>", "<sos/eos>"]
    assert (tmp_path / "char" / "tokens.txt").read_text() == "\n".join(tokens) + "\n"


def test_bpe_tokens_cover_the_model_pieces(tmp_path):
    text = tmp_path / "text"
    text.write_text("".join(f"u{i} YES NO STOP GO START HELP REPEAT\n" for i in range(20)), encoding="utf-8")
    tokens = make_tokens(text, tmp_path / "bpe", "bpe", nbpe=25)
    sp = spm.SentencePieceProcessor(model_file=str(tmp_path / "bpe" / "bpe.model"))
    assert tokens[:2] == ["<blank>", "<unk>"] and tokens[-1] == "<sos/eos>"
    assert len(tokens) == sp.get_piece_size() - 3 + 3  # unk/bos/eos replaced by blank/unk/sos-eos
    assert set(sp.encode("YES STOP", out_type=str)) <= set(tokens)


def test_unknown_token_type_is_an_error(tmp_path):
    text = tmp_path / "text"
    text.write_text("u1 A\n", encoding="utf-8")
    with pytest.raises(ValueError, match="token type must be bpe or char"):
        make_tokens(text, tmp_path / "x", "word")
