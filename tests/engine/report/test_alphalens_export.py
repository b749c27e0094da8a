"""The alphalens export: the Mega-Alpha and prices load into alphalens, and the precomputed
factor_data is what alphalens computes from them."""

from __future__ import annotations

import io
import json
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest

from engine.errors import ConfigError
from engine.report import alphalens_export
from engine.store.project import Project


@pytest.fixture(scope="module")
def frames(report_project: Project) -> alphalens_export.AlphalensFrames:
    return alphalens_export.build_frames(report_project, "classic-dynamic", periods=(1, 5, 20))


def test_factor_data_equals_alphalens(frames: alphalens_export.AlphalensFrames) -> None:
    alphalens = pytest.importorskip("alphalens")
    assert frames.factor.index.names == ["date", "asset"] and frames.factor.name == "factor"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # alphalens' own pandas deprecations
        ref = alphalens.utils.get_clean_factor_and_forward_returns(
            frames.factor, frames.prices, periods=(1, 5, 20), quantiles=5, filter_zscore=None,
            max_loss=1.0)
    assert list(frames.factor_data.columns) == ["1D", "5D", "20D", "factor", "factor_quantile"]
    pd.testing.assert_frame_equal(frames.factor_data, ref, check_dtype=False, check_freq=False)


def test_forward_returns_are_the_engine_target(report_project: Project,
                                               frames: alphalens_export.AlphalensFrames) -> None:
    """prices row t is day t+1's price, so '20D' is p[t+21] / p[t+1] - 1 (the combiner's
    target); its daily rank IC with the factor is the strategy's RankIC."""
    data = frames.factor_data
    ric = data.groupby(level="date").apply(
        lambda d: d["factor"].rank().corr(d["20D"].rank()))
    strategy = report_project.root / "strategies" / "classic-dynamic"
    reported = json.loads((strategy / "strategy.json").read_text())["summary"]["rank_ic"]
    assert ric.mean() == pytest.approx(reported, abs=0.01)


def test_zip_reads_back(frames: alphalens_export.AlphalensFrames) -> None:
    with zipfile.ZipFile(io.BytesIO(alphalens_export.alphalens_zip(frames))) as archive:
        names = set(archive.namelist())
        assert {"factor.csv", "factor.parquet", "prices.csv", "prices.parquet",
                "factor_data.csv", "factor_data.parquet", "README.txt"} == names
        back = pd.read_parquet(io.BytesIO(archive.read("factor_data.parquet")))
        pd.testing.assert_frame_equal(back, frames.factor_data)
        csv = pd.read_csv(io.BytesIO(archive.read("factor_data.csv")), parse_dates=["date"],
                          index_col=["date", "asset"])
        np.testing.assert_allclose(csv["20D"].to_numpy(), frames.factor_data["20D"].to_numpy())
        prices = pd.read_csv(io.BytesIO(archive.read("prices.csv")), index_col="date",
                             parse_dates=True)
        assert prices.shape == frames.prices.shape


def test_bad_options(report_project: Project) -> None:
    with pytest.raises(ConfigError, match="periods"):
        alphalens_export.build_frames(report_project, "classic-dynamic", periods=(0,))
    with pytest.raises(ConfigError, match="quantiles"):
        alphalens_export.build_frames(report_project, "classic-dynamic", quantiles=1)
