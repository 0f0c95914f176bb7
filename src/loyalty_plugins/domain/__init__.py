"""Pure values and rules of a loyalty program: no I/O, no database, no platform."""
