"""Two nbgrader preprocessors, configured in ``nbgrader_config.py``.

``QuietOverwriteCells`` (autograde): nbgrader records each test cell's checksum with its hidden tests,
and the student's notebook holds the cell without them, so nbgrader's OverwriteCells warned
"Attribute 'checksum' ... has changed!" for every test cell of every submission, the untouched
release included. A test cell that is exactly the released one (the instructor's minus its hidden
block) now gets its hidden block back silently; a test cell the student edited still warns, and is
still replaced by the instructor's.

``HideHiddenTests`` (generate_feedback): nbgrader renders the autograded notebook, whose test cells
got their hidden blocks back (jupyter/nbgrader#917, by design). It removes them again, from the
cell's source and from the context lines a traceback prints around a failing line, so the feedback
shows the visible tests, the student's code, their outputs and plots, and the verdicts: no hidden
test source.
"""
import copy
import re

from nbgrader import utils
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import ClearHiddenTests, OverwriteCells

ANSI = re.compile(r"\x1b\[[0-9;]*m")


class HideHiddenTests(ClearHiddenTests):
    """ClearHiddenTests for feedback: also cuts the hidden region out of error tracebacks and text."""

    def _scrub(self, text):
        out, inside = [], False
        for line in text.split("\n"):
            plain = ANSI.sub("", line)
            if self.begin_test_delimeter in plain:
                inside = True
                continue
            if self.end_test_delimeter in plain:
                inside = False
                continue
            # a traceback frame ends at a blank line or a new "Cell In[..]" / "File" header
            if inside and (not plain.strip() or plain.startswith(("Cell In", "File "))):
                inside = False
            if not inside:
                out.append(line)
        return "\n".join(out)

    def preprocess_cell(self, cell, resources, cell_index):
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [self._scrub(t) for t in output.get("traceback", [])]
            elif isinstance(output.get("text"), str):
                output["text"] = self._scrub(output["text"])
        return cell, resources


class QuietOverwriteCells(OverwriteCells):
    """OverwriteCells that does not report a test cell the student left exactly as released."""

    def preprocess_cell(self, cell, resources, cell_index):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is not None and utils.is_locked(cell):
            try:
                source = self.gradebook.find_source_cell(grade_id, self.notebook_id, self.assignment_id)
            except MissingEntry:
                source = None
            if source is not None and source.locked and source.cell_type == cell.cell_type:
                released = copy.deepcopy(cell)
                released.source = source.source
                if ClearHiddenTests()._remove_hidden_test_region(released) and released.source == cell.source:
                    cell.source = source.source       # the released cell: put its hidden block back
        return super().preprocess_cell(cell, resources, cell_index)
