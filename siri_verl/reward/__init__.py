"""Answer checking for math RL rewards: extraction, fast exact checks, math-verify under a deadline.

``compute_score`` / ``compute_score_batch`` are verl custom reward functions; ``check_answer``
compares one extracted answer with a gold answer; ``score_batch`` scores many over a process pool.
"""

from siri_verl.reward.checker import check_answer
from siri_verl.reward.extract import answer_region, last_boxed
from siri_verl.reward.score import compute_score, compute_score_batch, score_batch

__all__ = ["answer_region", "check_answer", "compute_score", "compute_score_batch", "last_boxed", "score_batch"]
