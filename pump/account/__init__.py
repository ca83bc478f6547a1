"""Accounting: every line's fate (``accounts``), its counts (``ledger``), the handled low-water mark
(``completion``), checkpoints and dead letters."""

from pump.account.accounts import Accounts, Segment, Tally
from pump.account.checkpoint import Checkpoint
from pump.account.completion import Completion
from pump.account.deadletters import DeadLetterTarget, FileDeadLetters, TopicDeadLetters
from pump.account.ledger import Ledger

__all__ = ("Accounts", "Checkpoint", "Completion", "DeadLetterTarget", "FileDeadLetters", "Ledger", "Segment", "Tally",
           "TopicDeadLetters")  # fmt: skip
