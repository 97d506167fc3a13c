"""Demo data for ``manage.py seed_demo``."""

from pathlib import Path

CONFIG = Path(__file__).with_name("demo_config.yaml")
