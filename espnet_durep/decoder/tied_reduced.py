"""Tied-and-reduced transducer prediction network and its tied joint network (Botros et al. 2021).

The prediction network is stateless: its output for the next label depends only on the
last ``context_size`` labels, each embedded and scaled by a learned per-position weight
vector, summed, then layer-normalised and activated (both optional).  Missing left
context (the start of an utterance) is filled with the blank id, which doubles as the
start symbol.  The joint network's output layer reuses the embedding matrix (the same
``Parameter``), so the joint space has the embedding width.

Because the embedding is also an output layer, it is initialised like one: N(0, 1/E), not
``nn.Embedding``'s N(0, 1).  With N(0, 1) the untrained joint emits confident random
posteriors (logit std ~6.5, mean top probability ~0.76 with E=144 and 31 tokens), and a
from-scratch cascaded transducer then sat on the blank plateau for its whole training
budget (speechocean762 RESULTS.md).  The layer norm after the weighted sum makes the
prediction itself independent of this scale.

Parameters, with V tokens, embedding width E, context N and encoder width D:

* prediction network: ``V*E + N*E`` (+ ``2*E`` with layer norm);
* joint network: ``D*E + E`` (encoder projection) + ``E*E`` (prediction projection, no
  bias) + ``V`` (output bias; the output weight is the embedding).
"""
from __future__ import annotations

from typing import Optional

import torch
from espnet2.asr.decoder.abs_decoder import AbsDecoder
from torch import nn

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "swish": nn.SiLU, "none": nn.Identity}


def _activation(name: str, option: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"{option} must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]()


class TiedEmbedding(nn.Embedding):
    """An embedding that is also an output layer, initialised N(0, 1/E) like one.

    ESPnet's ``init`` option resets every ``nn.Embedding`` to N(0, 1) and then calls each
    module's ``espnet_initialization_fn``; both land here.
    """

    def reset_parameters(self) -> None:
        nn.init.normal_(self.weight, std=self.embedding_dim ** -0.5)

    espnet_initialization_fn = reset_parameters


class TiedReducedPredictionNetwork(AbsDecoder):
    """Stateless prediction network over the last ``context_size`` labels.

    Subclasses ESPnet's :class:`AbsDecoder` so that ESPnet's ``decoder`` choice builds it
    (``decoder: tied_reduced``), but its ``forward`` reads labels only: a transducer
    prediction network never sees the encoder output (the joint network combines them).

    Args:
        vocab_size: number of tokens V (blank included).
        encoder_output_size: passed by ESPnet's task to every decoder; unused here.
        embed_dim: embedding width E (also the joint space of :class:`TiedJointNetwork`).
        context_size: number N >= 1 of previous labels the prediction depends on.
        use_layer_norm: layer norm after the weighted sum.
        activation: "swish" | "tanh" | "relu" | "none" after the (normalised) sum.
        dropout_rate: dropout on the label embeddings.
        blank_id: blank token id, used as left-context padding.
    """

    def __init__(
        self,
        vocab_size: int,
        encoder_output_size: int,
        embed_dim: int = 320,
        context_size: int = 2,
        use_layer_norm: bool = True,
        activation: str = "swish",
        dropout_rate: float = 0.0,
        blank_id: int = 0,
    ):
        super().__init__()
        if context_size < 1:
            raise ValueError(f"context_size must be >= 1, got {context_size}")
        if embed_dim < 1:
            raise ValueError(f"embed_dim must be >= 1, got {embed_dim}")
        if not 0 <= blank_id < vocab_size:
            raise ValueError(f"blank_id {blank_id} outside the vocabulary of {vocab_size}")
        self.vocab_size = vocab_size
        self.embed_dim = embed_dim
        self.context_size = context_size
        self.blank_id = blank_id
        self.embed = TiedEmbedding(vocab_size, embed_dim)
        self.position_weights = nn.Parameter(torch.ones(context_size, embed_dim))
        self.norm = nn.LayerNorm(embed_dim) if use_layer_norm else nn.Identity()
        self.activation = _activation(activation, "activation")
        self.dropout = nn.Dropout(dropout_rate)

    def output_size(self) -> int:
        return self.embed_dim

    def initial_context(self, batch_size: int = 1, device: Optional[torch.device] = None) -> torch.Tensor:
        """(B, N) context at the start of an utterance: all blank."""
        return torch.full((batch_size, self.context_size), self.blank_id, dtype=torch.long, device=device)

    def score_context(self, context: torch.Tensor) -> torch.Tensor:
        """Prediction for label contexts (..., N) (oldest label first) -> (..., E)."""
        emb = self.dropout(self.embed(context))  # (..., N, E)
        return self.activation(self.norm((emb * self.position_weights).sum(-2)))

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        """Predictions before each label and after the last: (B, U) ids -> (B, U+1, E).

        Output ``u`` depends on labels ``u-N .. u-1`` (blank before the start); padding
        after a sequence's end only affects outputs beyond its own ``U_b + 1``.
        """
        padded = torch.cat([self.initial_context(labels.size(0), labels.device), labels], dim=1)
        context = padded.unfold(1, self.context_size, 1)  # (B, U+1, N)
        return self.score_context(context)


class TiedJointNetwork(nn.Module):
    """Joint network whose output layer is the prediction network's embedding matrix.

    ``logits(t, u) = E h(t, u) + b`` with ``h = act(W_enc enc_t + W_pred pred_u)``.

    Args:
        encoder_size: encoder output width D.
        prediction_network: the :class:`TiedReducedPredictionNetwork` whose embedding is tied.
        joint_activation_type: "tanh" | "relu" | "swish" | "none".
        dropout_rate: dropout on the joint hidden activations.
    """

    def __init__(
        self,
        encoder_size: int,
        prediction_network: TiedReducedPredictionNetwork,
        joint_activation_type: str = "tanh",
        dropout_rate: float = 0.0,
    ):
        super().__init__()
        width = prediction_network.embed_dim
        self.lin_enc = nn.Linear(encoder_size, width)
        self.lin_dec = nn.Linear(width, width, bias=False)
        self.output = nn.Linear(width, prediction_network.vocab_size)
        self.output.weight = prediction_network.embed.weight  # tied: one Parameter
        self.activation = _activation(joint_activation_type, "joint_activation_type")
        self.dropout = nn.Dropout(dropout_rate)

    def project_encoder(self, enc: torch.Tensor) -> torch.Tensor:
        """(..., D) encoder frames -> (..., E) joint-space contribution."""
        return self.lin_enc(enc)

    def project_prediction(self, pred: torch.Tensor) -> torch.Tensor:
        """(..., E) prediction network output -> (..., E) joint-space contribution."""
        return self.lin_dec(pred)

    def hidden(self, enc_proj: torch.Tensor, pred_proj: torch.Tensor) -> torch.Tensor:
        """Joint hidden activations from broadcastable (..., E) encoder / prediction projections."""
        return self.dropout(self.activation(enc_proj + pred_proj))

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """(..., E) joint hidden -> (..., V) logits."""
        return self.output(hidden)

    def forward(self, enc: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
        """Lattice logits: enc (B, T, D), pred (B, U+1, E) -> (B, T, U+1, V)."""
        return self.logits(self.hidden(self.project_encoder(enc)[:, :, None], self.project_prediction(pred)[:, None]))
