"""Public records: the register (diarium), disposal decisions, the archive export, errands."""
