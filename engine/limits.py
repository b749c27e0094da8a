"""Size limits on what AlphaForge reads from outside: input files and experiment bundles.

Why: a 5 MB ``.csv.gz`` can expand to gigabytes and a 1 MB zip can hold a 1 GiB file; without
a budget checked *while* reading, such an input exhausts memory or fills the disk before any
validation runs. The defaults are far above any real price table or bundle a laptop handles;
a user with a genuinely bigger input raises a limit with the environment variable named in
the refusal message (one place, so the CLI, the app and the worker all obey it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from engine.errors import ConfigError

MB = 1 << 20

#: Environment variable -> default, per limit (MB for sizes).
ENV_INPUT_MB = "ALPHAFORGE_MAX_INPUT_MB"
ENV_INPUT_ROWS = "ALPHAFORGE_MAX_INPUT_ROWS"
ENV_LINE_KB = "ALPHAFORGE_MAX_LINE_KB"
ENV_BUNDLE_MB = "ALPHAFORGE_MAX_BUNDLE_MB"
ENV_BUNDLE_RATIO = "ALPHAFORGE_MAX_BUNDLE_RATIO"

DEFAULT_INPUT_MB = 4096
DEFAULT_INPUT_ROWS = 50_000_000
DEFAULT_LINE_KB = 1024
DEFAULT_BUNDLE_MB = 16384
DEFAULT_BUNDLE_RATIO = 200
#: Entries smaller than this are not held to the compression-ratio limit: a tiny JSON file
#: of repeated keys compresses far better than 200:1 and can do no harm.
RATIO_FREE_BYTES = 1 * MB


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"environment variable {name}={text!r} is not a whole number",
                          code="limit_env_invalid", params={"name": name, "value": text}
                          ) from None
    if value < 1:
        raise ConfigError(f"environment variable {name}={value} must be at least 1",
                          code="limit_env_invalid", params={"name": name, "value": text})
    return value


@dataclass(frozen=True)
class InputLimits:
    """Budget for one input file (or all files of an imported folder together).

    max_bytes: bytes read, after decompression; max_rows: text lines or Parquet rows;
    max_line_bytes: longest line of a text file (a price table's lines are short; one huge
    line means the file is not a table, and parsing it would take minutes).
    """

    max_bytes: int = DEFAULT_INPUT_MB * MB
    max_rows: int = DEFAULT_INPUT_ROWS
    max_line_bytes: int = DEFAULT_LINE_KB * 1024

    @classmethod
    def from_env(cls) -> InputLimits:
        return cls(max_bytes=_env_int(ENV_INPUT_MB, DEFAULT_INPUT_MB) * MB,
                   max_rows=_env_int(ENV_INPUT_ROWS, DEFAULT_INPUT_ROWS),
                   max_line_bytes=_env_int(ENV_LINE_KB, DEFAULT_LINE_KB) * 1024)


@dataclass(frozen=True)
class BundleLimits:
    """Budget for importing a bundle: total bytes it unpacks to, and the largest
    compression ratio of one entry (a zip bomb's entries are ~1000:1)."""

    max_bytes: int = DEFAULT_BUNDLE_MB * MB
    max_ratio: int = DEFAULT_BUNDLE_RATIO

    @classmethod
    def from_env(cls) -> BundleLimits:
        return cls(max_bytes=_env_int(ENV_BUNDLE_MB, DEFAULT_BUNDLE_MB) * MB,
                   max_ratio=_env_int(ENV_BUNDLE_RATIO, DEFAULT_BUNDLE_RATIO))


def megabytes(n: int) -> str:
    """``n`` bytes as the MB figure the environment variables take (rounded up)."""
    return f"{-(-n // MB):,} MB"
