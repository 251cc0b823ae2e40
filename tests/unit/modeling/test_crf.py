"""The CRF against brute-force enumeration of every tag path."""

import itertools

import pytest
import torch

from headstart.data.tags import is_valid_iob2
from headstart.modeling.crf import CRF
from headstart.modeling.crf_tagger import transition_constraints

NAMES = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def random_crf(constrained: bool, seed: int = 0) -> CRF:
    torch.manual_seed(seed)
    allowed, start = transition_constraints(dict(enumerate(NAMES))) if constrained else (None, None)
    crf = CRF(len(NAMES), allowed, start)
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    return crf


def brute_force(crf: CRF, emissions: torch.Tensor, length: int) -> tuple[torch.Tensor, list[int]]:
    """log Z and the best path by scoring all K**length paths one by one."""
    start, trans, end = crf.scores()
    scores = {}
    for path in itertools.product(range(len(NAMES)), repeat=length):
        s = start[path[0]] + emissions[0, path[0]] + end[path[-1]]
        for t in range(1, length):
            s = s + trans[path[t - 1], path[t]] + emissions[t, path[t]]
        scores[path] = s
    log_z = torch.logsumexp(torch.stack(list(scores.values())), dim=0)
    return log_z, list(max(scores, key=lambda p: scores[p]))


@pytest.mark.parametrize("constrained", [False, True])
@pytest.mark.parametrize("lengths", [[1, 3], [4, 2], [5, 5]])
def test_partition_function_and_viterbi_match_brute_force(constrained, lengths):
    crf = random_crf(constrained)
    torch.manual_seed(1)
    steps = max(lengths)
    emissions = torch.randn(len(lengths), steps, len(NAMES)) * 2
    mask = torch.arange(steps).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    log_z = crf.log_partition(emissions, mask)
    best = crf.decode(emissions, mask)
    for b, n in enumerate(lengths):
        expected_z, expected_path = brute_force(crf, emissions[b], n)
        assert log_z[b].item() == pytest.approx(expected_z.item(), rel=1e-5, abs=1e-4)
        assert best[b] == expected_path


def test_nll_is_the_negative_log_probability_of_the_path():
    crf = random_crf(constrained=False)
    emissions = torch.randn(1, 3, len(NAMES))
    tags = torch.tensor([[1, 2, 0]])
    mask = torch.ones(1, 3, dtype=torch.bool)
    start, trans, end = crf.scores()
    score = start[1] + emissions[0, 0, 1] + trans[1, 2] + emissions[0, 1, 2] + trans[2, 0] + emissions[0, 2, 0] + end[0]
    expected = brute_force(crf, emissions[0], 3)[0] - score
    assert crf.nll(emissions, tags, mask).item() == pytest.approx(expected.item(), rel=1e-5)
    assert crf.nll(emissions, tags, mask).item() > 0


def test_constrained_decoding_never_outputs_invalid_bio():
    crf = random_crf(constrained=True, seed=3)
    torch.manual_seed(4)
    emissions = torch.randn(64, 9, len(NAMES)) * 5
    emissions[:, :, 2] += 3  # push hard towards I-PER, which is invalid after O or at the start
    for path in crf.decode(emissions, torch.ones(64, 9, dtype=torch.bool)):
        assert is_valid_iob2([NAMES[i] for i in path])


def test_gradients_flow():
    crf = random_crf(constrained=True)
    emissions = torch.randn(2, 4, len(NAMES), requires_grad=True)
    loss = crf.nll(emissions, torch.zeros(2, 4, dtype=torch.long), torch.ones(2, 4, dtype=torch.bool))
    loss.backward()
    assert emissions.grad is not None and crf.transitions.grad is not None
