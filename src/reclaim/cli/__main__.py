"""``python -m reclaim.cli``."""

from reclaim.cli import main

if __name__ == "__main__":
    main()
