"""`python -m benchmarks [--messages N | --large] [--profile]`."""

from benchmarks.runner import main

main()
