"""``python -m stations.cli``: the same command line as the ``stations`` script."""

from stations.cli import main

main()
