"""Supervisory sampling inspection: the pure core (no I/O beyond the packaged tables).

- ``lots``: homogeneous lots from the registry, with the grouping rule as data.
- ``attributes``: ISO 2859-1 / GB/T 2828.1 single sampling plans and switching rules.
- ``variables``: s-method (k-method) variables plans on measured errors.
- ``sampling``: seeded draws (simple random, risk-weighted πps) and Horvitz–Thompson.
- ``verdict``: inspection results -> lot verdict; field check of the error estimator.
"""
