"""Environment families; each module registers its builders with the `env` registry."""
