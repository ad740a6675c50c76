"""What a survivor does across the stages: register her hashes, withdraw, read her case.

It sits after ``takedown`` in the import order (it uses banks, evidence and takedown) and
before ``web``, which only calls it.
"""
