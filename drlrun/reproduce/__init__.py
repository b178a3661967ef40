"""`drlrun-repro`: run every book chapter's `book` and `fixed` presets on several seeds through the
sweep launchers, and write `docs/results.md` with the book's numbers beside the measured ones."""
