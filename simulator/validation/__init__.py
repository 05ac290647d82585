"""Validation against what no one here wrote: committed peer-simulator outputs and published
silicon, set beside picojoule's own numbers for the same layers and designs.

- :mod:`simulator.validation.compare`: loads the peers' committed outputs
  (``scenarios/validation/peers/``, shipped with the package), evaluates picojoule on the
  matching specs (``scenarios/validation/``) and builds the comparison tables;
- :mod:`simulator.validation.cli`: ``picojoule validation [--json]`` prints them.

What is compared, the tables and why the numbers disagree: ``docs/validation.md``.
"""

from __future__ import annotations
