"""Token prefixes as trie nodes and token frames as shared linked lists, for beam searches.

A beam search keeps many hypotheses that share their beginnings.  Holding each one as an
integer node of a token trie makes extending and comparing hypotheses O(1), whatever their
length; their token frames are linked lists, last frame first, that share their tails.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

# token frames as a linked list, last token first: (frame, earlier frames) or None
Frames = Optional[Tuple[int, Any]]


def frame_list(frames: Frames) -> List[int]:
    """The frames of a linked list, first token first."""
    out = []
    while frames is not None:
        out.append(frames[0])
        frames = frames[1]
    return out[::-1]


class PrefixTrie:
    """Every token prefix a search has made, as a node id (``ROOT`` = the empty prefix)."""

    ROOT = 0

    def __init__(self):
        self.parent: List[int] = [-1]
        self.token: List[int] = [-1]  # the last token of each node's prefix (-1 for the root)
        self._child: Dict[Tuple[int, int], int] = {}

    def __len__(self) -> int:
        return len(self.parent)

    def extend(self, node: int, token: int) -> int:
        """The node of prefix ``node`` + ``token`` (created on first use)."""
        child = self._child.get((node, token))
        if child is None:
            child = self._child[(node, token)] = len(self.parent)
            self.parent.append(node)
            self.token.append(token)
        return child

    def tokens(self, node: int) -> List[int]:
        """The token ids of prefix ``node``, first token first."""
        out = []
        while node != self.ROOT:
            out.append(self.token[node])
            node = self.parent[node]
        return out[::-1]
