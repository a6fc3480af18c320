"""reelforge: an MCP server that makes video with any provider or a local GPU."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("reelforge")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"
