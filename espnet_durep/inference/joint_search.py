"""Full-context decoding with ESPnet's joint CTC/attention beam search (``full_search: joint``)."""
from __future__ import annotations

from typing import List


def build_joint_search(model, token_list: List[str], beam_size: int, ctc_weight: float, penalty: float,
                       device: str):
    """ESPnet's batched beam search over the heads of ``model.joint_search_heads()``."""
    from espnet.nets.batch_beam_search import BatchBeamSearch
    from espnet.nets.beam_search import BeamSearch
    from espnet.nets.scorers.ctc import CTCPrefixScorer
    from espnet.nets.scorers.length_bonus import LengthBonus

    ctc, decoder = model.joint_search_heads()
    if beam_size > len(token_list):
        raise ValueError(f"beam_size {beam_size} is larger than the vocabulary ({len(token_list)} "
                         f"tokens): ESPnet's joint search keeps at most one hypothesis per token")
    scorers = {"decoder": decoder, "ctc": CTCPrefixScorer(ctc=ctc, eos=model.eos),
               "length_bonus": LengthBonus(len(token_list))}
    weights = {"decoder": 1.0 - ctc_weight, "ctc": ctc_weight, "length_bonus": penalty}
    search = BeamSearch(scorers=scorers, weights=weights, beam_size=beam_size, vocab_size=len(token_list),
                        sos=model.sos, eos=model.eos, token_list=token_list,
                        pre_beam_score_key=None if ctc_weight == 1.0 else "full")
    search.__class__ = BatchBeamSearch  # every scorer above is batched
    return search.to(device).eval()
