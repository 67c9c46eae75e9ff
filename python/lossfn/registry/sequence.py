"""G. Sequence losses: a dynamic programme per sample."""

from __future__ import annotations

from .specs import SequenceLossSpec

SPECS = [
    SequenceLossSpec(
        "ctc", "sequence", "torch ctc_loss, optax ctc_loss",
        "l = -log sum over the alignments pi of the labels (blanks between and around them, "
        "repeats collapsed) of prod_t y_t(pi_t); grad w.r.t. log_probs: -posterior(t, c); "
        "from_logits: softmax - posterior",
        inputs=("log_probs", "targets", "input_lengths", "target_lengths"),
        hyper={"blank": 0, "zero_infinity": False, "from_logits": False, "batch_first": False},
        variants=[{"blank": 3}, {"from_logits": True}, {"zero_infinity": True}, {"batch_first": True},
                  {"from_logits": True, "batch_first": True, "blank": 1}],
        bad_hyper=[{"blank": -1}, {"blank": 1000}],
        note="mean divides each sample's loss by its target length (at least 1), then averages (torch); "
             "an impossible alignment has loss +inf (0 with zero_infinity) and gradient 0; without "
             "from_logits the gradient is the true derivative w.r.t. log_probs (-posterior), which "
             "through a log_softmax equals torch's"),
]
