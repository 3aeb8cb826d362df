"""``python -m topicstrata ...`` is the ``strata`` command (the studio starts it this way, so
a job runs with the studio's own interpreter whatever is on PATH)."""

from topicstrata.cli import main

if __name__ == "__main__":
    main()
