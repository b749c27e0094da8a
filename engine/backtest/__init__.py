"""Portfolio backtests of a score ``[T, N]``: top-k / drop-n (``topk``), quantile portfolios
(``quantile``), costs in bps (``costs``) and execution-price accounting (``prices``).

Every backtest trades on day t+1 at the configured price on the signal of day t's close.
"""
