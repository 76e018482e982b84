"""Small helpers shared by the management commands."""


def parse_bool(value: str) -> bool:
    """argparse type for true/false options (1/0, yes/no, on/off too)."""
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {value}")
