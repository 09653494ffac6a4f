"""The lecture: pure functions and small NamedTuples for the equations of the notes."""
