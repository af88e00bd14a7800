"""The notebook-style example runs (matplotlib, Agg backend) and is what python/README.md quotes."""
import os
import subprocess
import sys

from conftest import ROOT

EXAMPLE = ROOT / "examples" / "convert_and_plot.py"


def test_example_runs(tmp_path):
    png = tmp_path / "accuracy_vs_t.png"
    env = dict(os.environ, MPLBACKEND="Agg", MPLCONFIGDIR=str(tmp_path / "mpl"), PYTHONPATH=str(ROOT / "python"))
    r = subprocess.run([sys.executable, str(EXAMPLE), str(png), "300"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "T=8: SNN" in r.stdout and f"wrote {png}" in r.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10000


def test_readme_quotes_example():
    readme = (ROOT / "python" / "README.md").read_text()
    code = EXAMPLE.read_text()
    body = code[code.index("# %%"):]  # the cells, after the docstring
    assert body in readme
