"""What every app's input checks share about row ids."""

# The largest id a database integer key can hold; larger numbers cannot name anything.
MAX_ID = 2**63 - 1
