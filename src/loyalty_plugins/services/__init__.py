"""Services: the operations of a program, each one write transaction."""
