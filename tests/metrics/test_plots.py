from mathlit.metrics.plots import plot_vs_k

CURVES = {"pass": {1: 0.4, 2: 0.55, 4: 0.7}, "maj": {1: 0.4, 2: 0.4, 4: 0.5}}


def test_intervals_shade_the_curves(tmp_path):
    plain = plot_vs_k(CURVES, tmp_path / "plain.png", "t").read_bytes()
    bands = {f"{name}@{k}": [v - 0.1, v + 0.1] for name, points in CURVES.items() for k, v in points.items()}
    shaded = plot_vs_k(CURVES, tmp_path / "shaded.png", "t", intervals=bands).read_bytes()
    partial = plot_vs_k(CURVES, tmp_path / "partial.png", "t", intervals={"pass@1": [0.3, 0.5]}).read_bytes()
    assert shaded != plain and partial == plain  # a curve is shaded only where every k has an interval
