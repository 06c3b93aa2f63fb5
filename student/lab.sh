#!/bin/sh
# A student's JupyterLab for "Neural Networks from Scratch":
#
#     student/lab.sh [WORK_DIR] [jupyter lab options...]     (WORK_DIR default: ~/nn-from-scratch)
#
# Starts `jupyter lab` in WORK_DIR with JUPYTER_CONFIG_DIR=student/jupyter, so that
#   - the Assignment List (Fetch, Submit) and Validate work against the course's exchange
#     (student/jupyter/nbgrader_config.py says where it is), and
#   - the instructor's tools are left out: no Formgrader, no Create Assignment sidebar, no Course
#     List (student/jupyter/labconfig/page_config.json and jupyter_server_config.json).
# The work folder must be outside the course folder: nbgrader reads nbgrader_config.py from the
# folder JupyterLab runs in, and the course's one is the instructor's.
set -eu

STUDENT_DIR=$(cd "$(dirname "$0")" && pwd -P)
COURSE_ROOT=$(dirname "$STUDENT_DIR")

WORK_DIR=${1:-"$HOME/nn-from-scratch"}
[ $# -gt 0 ] && shift
case "$WORK_DIR" in
    -*) echo "student/lab.sh: the first argument is the work folder, not an option: $WORK_DIR" >&2; exit 2 ;;
esac
CREATED=no
if [ ! -d "$WORK_DIR" ]; then
    mkdir -p "$WORK_DIR" || { echo "student/lab.sh: cannot create the work folder $WORK_DIR" >&2; exit 2; }
    CREATED=yes
fi
WORK_DIR=$(cd "$WORK_DIR" && pwd -P)
case "$WORK_DIR/" in
    "$COURSE_ROOT"/*)
        [ "$CREATED" = yes ] && rmdir "$WORK_DIR"
        echo "student/lab.sh: the work folder $WORK_DIR is inside the course folder $COURSE_ROOT;" \
             "choose one outside it (e.g. ~/nn-from-scratch): the course's nbgrader_config.py is the instructor's" >&2
        exit 2 ;;
esac

# The course's virtualenv when there is one (README: python -m venv .venv), else jupyter on PATH.
if [ -x "$COURSE_ROOT/.venv/bin/jupyter" ]; then
    PATH="$COURSE_ROOT/.venv/bin:$PATH"
    export PATH
fi
command -v jupyter >/dev/null 2>&1 || {
    echo "student/lab.sh: no jupyter found: install the course's requirements (README: Setup)" >&2; exit 2; }

JUPYTER_CONFIG_DIR="$STUDENT_DIR/jupyter"
export JUPYTER_CONFIG_DIR
cd "$WORK_DIR"
exec jupyter lab "$@"
