"""``python -m stations.cli``: the same command line as the ``stations`` script."""

from stations.cli import main

if __name__ == "__main__":
    main()
