"""Entry point of the frozen bundle: ``ceusdesk <command> ...``; no arguments opens the app.

A double-click on the executable passes no arguments, so it starts the GUI rather than printing usage.
"""
import multiprocessing
import sys

from ceusdesk.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # workers started by a frozen app must not re-run main()
    sys.exit(main(sys.argv[1:] or ["gui"]))
