"""`python -m flowscope.cli`: the `flowscope` command, run by the console entry point `main`."""

from flowscope.cli import main

if __name__ == "__main__":  # pragma: no cover
    main()
