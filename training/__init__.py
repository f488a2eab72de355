"""Training for vidcolor's networks: `python -m training --help` from a checkout.

It imports vidcolor.models and vidcolor.color and never copies them, so what trains is what ships.
"""
