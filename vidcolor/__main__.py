import sys

from vidcolor.cli import main

main(sys.argv[1:])  # raises SystemExit, as `python -m` callers expect; the console script ends faster (cli.exit_now)
