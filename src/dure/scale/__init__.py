"""Scale-out on Ray (the optional extra ``dure[scale]``): workers compute, the driver writes.

Only this package imports ``ray``, and only inside functions, so Dure runs without the
extra. Nothing here touches the store: the job thread that drives a Ray job reads the
inputs and writes the results itself.
"""
