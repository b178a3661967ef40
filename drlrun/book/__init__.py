"""The book's own variants (its bugs as switches, its hand-built networks), registered
beside the fixed versions; `fidelity: book|fixed` selects their defaults."""
