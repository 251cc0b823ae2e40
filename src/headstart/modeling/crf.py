"""A linear-chain CRF: forward-algorithm negative log-likelihood and Viterbi decoding.

Transitions that the tag scheme forbids (O -> I-PER, B-LOC -> I-PER, a sentence starting with
I-X) get a fixed score of ``FORBIDDEN`` on top of the learned one, so Viterbi never picks them
and the model spends no probability mass on them. Sequences are packed to the left: ``mask``
[batch, steps] is True for the first ``n_b`` steps of row ``b``.

>>> crf = CRF(3)
>>> emissions = torch.zeros(1, 4, 3)
>>> crf.decode(emissions, torch.ones(1, 4, dtype=torch.bool))
[[0, 0, 0, 0]]
"""

from __future__ import annotations

import torch
from torch import nn

FORBIDDEN = -1e4  # large but finite, so forbidden paths keep a finite (negligible) score


class CRF(nn.Module):
    def __init__(self, num_tags: int, allowed: torch.Tensor | None = None, allowed_start: torch.Tensor | None = None):
        super().__init__()
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))  # [from, to]
        self.start = nn.Parameter(torch.zeros(num_tags))
        self.end = nn.Parameter(torch.zeros(num_tags))
        ones = torch.ones(num_tags, num_tags, dtype=torch.bool)
        # Saved with the weights (persistent): from_pretrained builds models on the meta device, and
        # a non-persistent buffer would come back uninitialised.
        self.register_buffer("allowed", ones if allowed is None else allowed.bool())
        self.register_buffer(
            "allowed_start", torch.ones(num_tags, dtype=torch.bool) if allowed_start is None else allowed_start.bool()
        )

    def scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(start [K], transitions [K, K], end [K]) with forbidden moves penalised."""
        trans = self.transitions + (~self.allowed).float() * FORBIDDEN
        start = self.start + (~self.allowed_start).float() * FORBIDDEN
        return start, trans, self.end

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """log Z per sequence [batch] by the forward algorithm."""
        start, trans, end = self.scores()
        alpha = start + emissions[:, 0]  # [B, K]
        for t in range(1, emissions.size(1)):
            # [B, K_from, 1] + [K_from, K_to] + [B, 1, K_to] -> logsumexp over from
            nxt = torch.logsumexp(alpha.unsqueeze(2) + trans + emissions[:, t].unsqueeze(1), dim=1)
            alpha = torch.where(mask[:, t].unsqueeze(1), nxt, alpha)
        return torch.logsumexp(alpha + end, dim=1)

    def path_score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Score of the given tag paths [batch]."""
        start, trans, end = self.scores()
        m = mask.float()
        score = start[tags[:, 0]] + emissions[:, 0].gather(1, tags[:, :1]).squeeze(1)
        emit = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # [B, T]
        step = trans[tags[:, :-1], tags[:, 1:]] + emit[:, 1:]  # [B, T-1]
        score = score + (step * m[:, 1:]).sum(1)
        last = tags.gather(1, (mask.sum(1) - 1).clamp(min=0).unsqueeze(1)).squeeze(1)
        return score + end[last]

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood over sequences with at least one step."""
        has = mask[:, 0]
        if not has.any():
            return emissions.sum() * 0.0
        e, t, m = emissions[has], tags[has], mask[has]
        return (self.log_partition(e, m) - self.path_score(e, t, m)).mean()

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """The best tag path of each sequence (Viterbi), as lists of length ``mask.sum(1)``."""
        start, trans, end = self.scores()
        batch, steps, _ = emissions.shape
        if steps == 0:
            return [[] for _ in range(batch)]
        score = start + emissions[:, 0]  # [B, K]
        backpointers = []
        for t in range(1, steps):
            total = score.unsqueeze(2) + trans  # [B, K_from, K_to]
            best, idx = total.max(dim=1)
            nxt = best + emissions[:, t]
            score = torch.where(mask[:, t].unsqueeze(1), nxt, score)
            backpointers.append(idx)
        score = score + end
        lengths = mask.sum(1).tolist()
        paths = []
        for b in range(batch):
            n = int(lengths[b])
            if n == 0:
                paths.append([])
                continue
            tag = int(score[b].argmax())
            path = [tag]
            for t in range(n - 1, 0, -1):
                tag = int(backpointers[t - 1][b, tag])
                path.append(tag)
            paths.append(path[::-1])
        return paths
