"""Errors a user can read: the question cannot be answered from this data, and why.

Raised by analyses for a question the benchmark cannot carry (a channel KPI ranked without a
channel, a perception gap for a segment, a KPI that is not measured over brand raters in a
"why" decomposition). The message is one plain sentence that says what is wrong and, where
there is one, what to ask instead; the assistant shows it as the answer.
"""

from __future__ import annotations


class Unanswerable(ValueError):
    """The question is well formed but the data cannot answer it as asked."""
