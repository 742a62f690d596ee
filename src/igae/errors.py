"""Exceptions that the command line turns into one clear message and a non-zero exit."""


class IgaeError(Exception):
    """A user-facing error: bad input, bad configuration, a missing file. Printed without a traceback."""


class ConfigError(IgaeError):
    """``params.yaml`` (or an override) does not match the schema."""


class AssetError(IgaeError):
    """A 3D asset or an asset folder cannot be used."""


class ImageSetError(IgaeError):
    """A real-image folder or one of its images cannot be used."""
