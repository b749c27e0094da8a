"""Metrics: factor quality (IC, RankIC, decay, turnover) and portfolio statistics."""
