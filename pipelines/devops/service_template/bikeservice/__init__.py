"""Bike-demand prediction service: the product OpsLab's DevOps pipeline ships.

The release string is stamped into the artifact by the build (``_release.py``); a source tree
without it reports a development version, so a test can tell which one it imported.
"""

try:
    from ._release import RELEASE as __version__
except ImportError:  # running from a source tree, not from a built artifact
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
