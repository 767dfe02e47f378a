"""The benchmark harness: bitstore against the seed library on the same emulators.

Run it with `make bench` or `python -m bench`; see bench/README.md.
"""
