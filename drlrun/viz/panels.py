"""Panels drawn beside recorded gameplay frames (an algorithm's view of the current state).

A probe's `frame` (drlrun.viz.probe) draws one per recorded frame; `attach_panel` puts it right of
the rendered frame. Drawn with OpenCV primitives rather than matplotlib: a panel is made for every
frame of a video, and a matplotlib figure per frame costs tens of milliseconds. The distribution
panel is the book's figure 7.21 (Freeway next to the action-value distributions).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# matplotlib's tab:gray/green/red/blue/orange/purple, the colours of dist_plots.ACTION_COLOURS
ACTION_RGB = (
    (127, 127, 127),
    (44, 160, 44),
    (214, 39, 40),
    (31, 119, 180),
    (255, 127, 14),
    (148, 103, 189),
)
MIN_ROW_HEIGHT = 40  # pixels per action row; more actions make a taller panel (frame is padded)


def attach_panel(frame: np.ndarray, panel: np.ndarray | None) -> np.ndarray:
    """frame | panel side by side, the shorter of the two padded with black at the bottom."""
    if panel is None:
        return frame
    frame, panel = np.asarray(frame, dtype=np.uint8), np.asarray(panel, dtype=np.uint8)
    height = max(frame.shape[0], panel.shape[0])

    def pad(image: np.ndarray) -> np.ndarray:
        extra = height - image.shape[0]
        return np.pad(image, ((0, extra), (0, 0), (0, 0))) if extra else image

    return np.concatenate([pad(frame[..., :3]), pad(panel[..., :3])], axis=1)


def quantile_histogram(
    quantiles: np.ndarray, bins: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """QR quantiles (..., N) -> (bin centres (bins,), probabilities (..., bins)) on one range
    shared by all rows: each quantile carries mass 1/N, so a row is a learned distribution.
    Default bins: N + 1 up to 41 (few quantiles in many bins would look like a comb)."""
    bins = bins or min(41, quantiles.shape[-1] + 1)
    lo, hi = float(quantiles.min()), float(quantiles.max())
    if hi - lo < 1e-6:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    rows = quantiles.reshape(-1, quantiles.shape[-1])
    probs = np.stack([np.histogram(q, bins=edges)[0] / q.size for q in rows])
    return (edges[:-1] + edges[1:]) / 2, probs.reshape(*quantiles.shape[:-1], bins)


def distribution_panel(
    support: np.ndarray,
    probs: np.ndarray,
    names: Sequence[str],
    height: int,
    width: int | None = None,
    title: str = "",
    expected: np.ndarray | None = None,
) -> np.ndarray:
    """One bar chart per action (rows) over a shared x axis, as an RGB uint8 image.

    support (K,) atom positions, probs (A, K). Each row is scaled to its own peak (a degenerate
    distribution would otherwise flatten the others to nothing); the expected value (default
    probs @ support; QR passes its quantile means) is a black line and in the label; the greedy
    action is marked `*`."""
    import cv2

    actions, atoms = probs.shape
    header, footer = 18, 16
    height = max(int(height), header + footer + actions * MIN_ROW_HEIGHT)
    width = int(width or max(240, height))
    panel = np.full((height, width, 3), 255, dtype=np.uint8)
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.38
    left, right = 6, width - 6
    lo, hi = float(support[0]), float(support[-1])
    span = max(hi - lo, 1e-9)

    def px(value: float) -> int:
        return int(round(left + (value - lo) / span * (right - left)))

    expected = probs @ support if expected is None else np.asarray(expected, dtype=np.float64)
    greedy = int(np.argmax(expected))
    bar = max(1, (right - left) // atoms - 1)
    row_h = (height - header - footer) // actions
    if title:
        cv2.putText(panel, title, (left, 13), font, scale, (0, 0, 0), 1, cv2.LINE_AA)
    for a in range(actions):
        y0, y1 = header + a * row_h, header + (a + 1) * row_h - 2
        base = y1 - 1
        colour = ACTION_RGB[a % len(ACTION_RGB)]
        cv2.line(panel, (left, base), (right, base), (200, 200, 200), 1)
        usable = max(1, base - y0 - 16)
        top = float(probs[a].max()) or 1.0  # each row to its own peak: shapes stay visible
        for x, p in zip(support, probs[a], strict=True):
            h = int(round(p / top * usable))
            if h > 0:
                c = px(float(x))
                cv2.rectangle(
                    panel, (c - bar // 2, base - h), (c + (bar - 1) // 2, base), colour, -1
                )
        e = min(max(px(float(expected[a])), left), right)
        cv2.line(panel, (e, y0 + 16), (e, base), (0, 0, 0), 1)
        mark = "*" if a == greedy else ""
        label = f"{mark}{names[a]}  E={expected[a]:+.2f}"
        cv2.putText(panel, label, (left, y0 + 11), font, scale, (0, 0, 0), 1, cv2.LINE_AA)
    for value, anchor in ((lo, left), (hi, right - 40)):
        cv2.putText(
            panel, f"{value:.4g}", (anchor, height - 4), font, scale, (80, 80, 80), 1, cv2.LINE_AA
        )
    cv2.line(panel, (0, 0), (0, height - 1), (160, 160, 160), 1)  # separates it from the frame
    return panel
