"""Entry point of the frozen application: the same `deskmate` command as .venv/bin/deskmate."""

from desktop.cli.main import main

if __name__ == "__main__":
    main()
