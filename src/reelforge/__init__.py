"""reelforge: an MCP server that makes video with any provider or a local GPU."""

# A literal, read by the build (pyproject [tool.hatch.version]): importlib.metadata costs ~30 ms at start.
__version__ = "0.1.0"
