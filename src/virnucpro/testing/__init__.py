"""Test support shipped with the package: tiny random models in the published on-disk formats."""
