"""The brief: which events a window holds and how they are grouped; plain data, no I/O."""
