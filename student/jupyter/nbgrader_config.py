"""nbgrader configuration of a student's JupyterLab for "Neural Networks from Scratch".

Loaded because the student starts JupyterLab with JUPYTER_CONFIG_DIR=<course>/student/jupyter
(nbgrader reads nbgrader_config.py from every Jupyter config directory). It only says where the
course's exchange is, so that the Assignment List panel, `nbgrader fetch_assignment` and
`nbgrader submit` find the released assignment and the instructor's inbox.

The exchange must be the folder the instructor releases into (the instructor's
nbgrader_config.py computes the same default): NN_EXCHANGE_ROOT if set, else <course>/exchange.

The student id is the student's OS user name (nbgrader's default; under JupyterHub's shared
"jovyan" account, $JUPYTERHUB_USER). `nbgrader collect` checks that a submission folder is owned
by the user it is named after, so on a shared machine nobody can submit in another's name.
"""
import os

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

COURSE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

c.CourseDirectory.course_id = "nn-from-scratch"
c.Exchange.root = os.environ.get("NN_EXCHANGE_ROOT") or os.path.join(COURSE_ROOT, "exchange")
