"""What the command line and the demo use: the ``layerlens`` command, file workflows, the demo and the example
models. Not part of the library's public names.
"""
