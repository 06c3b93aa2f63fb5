"""End to end: execute notebooks/walkthrough.ipynb headless and check what it computed."""
import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / 'notebooks' / 'walkthrough.ipynb'

# Appended after the last cell; prints one JSON line read back by the test.
REPORT_CELL = """\
import json, sys
print(json.dumps({
    'sys_prefix': sys.prefix,
    'gradients_passed': all(r['passed'] for r in results.values()),
    'numpy_accuracy': float(val_metrics['accuracy']),
    'pytorch_accuracy': float(pt_accuracy),
    'appendix_ok': bool(
        f_app == 3.0 and L_app == 0.5
        and np.array_equal(appendix_model.a1_cache, [3.0, -0.5])
        and np.array_equal(appendix_model.h1_cache, [3.0, 0.0])
        and np.array_equal(grads_app['dL_dW2'], [[3.0, 0.0]])
        and np.array_equal(grads_app['dL_db2'], [1.0])
        and np.array_equal(grads_app['dL_dW1'], [[1.0, -1.0], [0.0, 0.0]])
        and np.array_equal(grads_app['dL_db1'], [1.0, 0.0])),
}))
"""


def stdout_of(cell):
    return ''.join(out.get('text', '') for out in cell.outputs if out.output_type == 'stream')


@pytest.mark.slow
def test_walkthrough_runs_top_to_bottom(monkeypatch):
    monkeypatch.setenv('MPLBACKEND', 'Agg')
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(REPORT_CELL))
    # raises CellExecutionError if any cell fails
    NotebookClient(nb, kernel_name='python3', timeout=600,
                   resources={'metadata': {'path': str(NOTEBOOK.parent)}}).execute()

    assert not [out for cell in nb.cells if cell.cell_type == 'code'
                for out in cell.outputs if out.output_type == 'error']
    report = json.loads(stdout_of(nb.cells[-1]))
    assert report['sys_prefix'] == sys.prefix, "the 'python3' kernel is not this virtualenv's Python"
    assert report['gradients_passed']
    assert report['numpy_accuracy'] > 0.85
    assert abs(report['pytorch_accuracy'] - report['numpy_accuracy']) <= 0.05
    appendix = next(c for c in nb.cells if c.cell_type == 'code' and 'Appendix A Example' in c.source)
    assert 'All values match Appendix A specification!' in stdout_of(appendix)
    assert report['appendix_ok']
